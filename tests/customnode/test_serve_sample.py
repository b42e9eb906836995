"""`skill-designer serve-sample`: a real process, killed and restarted under a live client."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from designer.customnode import ServerUnreachableError

from .conftest import eventually, make_frame

REPO = Path(__file__).resolve().parents[2]


def start_sample(*args: str) -> tuple[subprocess.Popen, int]:
    process = subprocess.Popen(
        [sys.executable, "-m", "designer.cli", "serve-sample", *args, "--host", "127.0.0.1"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline()
    match = re.search(r"connect with 127\.0\.0\.1:(\d+)", line)
    if not match:
        process.kill()
        raise AssertionError(f"no address announced: {line!r} {process.stderr.read()}")
    return process, int(match.group(1))


@pytest.fixture
def processes():
    started: list[subprocess.Popen] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(10)


@pytest.mark.timeout(60)
def test_sample_process_killed_and_restarted_under_a_live_client(processes, connect):
    process, port = start_sample("fake-detection", "--port", "0")
    processes.append(process)
    client = connect(f"127.0.0.1:{port}")
    assert client.process(make_frame()).insights_meta["objects_meta"][0]["label"] == "car"

    process.kill()
    process.wait(10)
    with pytest.raises(ServerUnreachableError, match=f"127.0.0.1:{port}"):
        client.process(make_frame())

    restarted, _ = start_sample("fake-detection", "--port", str(port))
    processes.append(restarted)
    result = eventually(lambda: client.process(make_frame()))
    assert result.insights_meta["objects_meta"][0]["label"] == "car"

    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(10) == 0


@pytest.mark.timeout(60)
def test_flip_sample_with_jpeg_and_a_busy_port(processes, connect):
    process, port = start_sample("flip", "--port", "0", "--image-type", "jpeg")
    processes.append(process)
    client = connect(f"127.0.0.1:{port}")
    assert client.process(make_frame()).image.shape == (48, 64, 3)
    assert client.handshake.describe() == "IMAGE_TYPE_JPEG, FRAME_WITH_IMAGE, IMAGE_ONLY"

    busy = subprocess.run(
        [
            sys.executable,
            "-m",
            "designer.cli",
            "serve-sample",
            "flip",
            "--port",
            str(port),
            "--host",
            "127.0.0.1",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert busy.returncode == 1
    assert f"127.0.0.1:{port}" in busy.stderr and "in use" in busy.stderr


def test_unknown_sample_names_the_choices():
    result = subprocess.run(
        [sys.executable, "-m", "designer.cli", "serve-sample", "nope"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "fake-detection" in result.stderr and "box-counter" in result.stderr
