"""A real RTSP camera: GStreamer's RTSP server streaming a clip as H.264 on 127.0.0.1.

Most users' cameras are RTSP. These tests read one the way a device does (OpenCV's FFmpeg
client, through the Camera Input node), with the credentials most cameras demand, and take
it away and bring it back mid-stream. The server runs in the system Python, which has
GStreamer's bindings (``rtsp_server.py``; ``.ci/run`` installs them).
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from engine_helpers import Recorder, StatusLog, camera_to_log, run_skill
from video_factory import read_frame_number, write_video

from designer.core.engine.events import FrameEvent, NodeErrorEvent, NodeWarningEvent, RunState
from designer.core.engine.executor import Engine
from designer.core.engine.runtime import RunContext
from designer.core.engine.sources import SourceError, open_source

SERVER = Path(__file__).with_name("rtsp_server.py")
SYSTEM_PYTHON = os.environ.get("RTSP_SERVER_PYTHON", "/usr/bin/python3")
SIZE = (320, 192)
USER, PASSWORD = "admin", "s3cret"
SECRETS = (USER, PASSWORD)


class RtspCamera:
    """``rtsp_server.py`` as a process; ``stop()`` kills it as a camera losing power would."""

    def __init__(self, clip: Path, *, port: int = 0, credentials: tuple[str, str] | None = None) -> None:
        command = [SYSTEM_PYTHON, str(SERVER), "--clip", str(clip), "--port", str(port)]
        if credentials is not None:
            command += ["--user", credentials[0], "--password", credentials[1]]
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
        )
        self.port = self._wait_ready(port)

    def _wait_ready(self, wanted: int, timeout: float = 20.0) -> int:
        """The port from the server's ``READY <port>`` line (it may still be retrying a busy one)."""
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.2):
                    line = self.process.stdout.readline()
                    if line.startswith("READY "):
                        return int(line.split()[1])
                if self.process.poll() is not None:
                    break
        self.stop()
        error = self.process.stderr.read() if self.process.stderr else ""
        pytest.fail(f"the RTSP server did not start on port {wanted}: {error.strip()[-2000:]}")

    def url(self, credentials: str = "") -> str:
        return f"rtsp://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}/stream"

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def start_camera(clip: Path, port: int = 0, credentials=(USER, PASSWORD), attempts: int = 20) -> RtspCamera:
    """A camera on ``port``; a port just freed by a killed server may need a moment."""
    for attempt in range(attempts):
        try:
            return RtspCamera(clip, port=port, credentials=credentials)
        except pytest.fail.Exception:
            if not port or attempt == attempts - 1:
                raise
            time.sleep(0.25)
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """20 s of numbered frames: long enough that no test sees the clip end."""
    return write_video(tmp_path_factory.mktemp("rtsp") / "clip.avi", frames=500, fps=25, size=SIZE)


@pytest.fixture
def cameras(clip):
    started: list[RtspCamera] = []

    def start(port: int = 0, credentials=(USER, PASSWORD)) -> RtspCamera:
        camera = start_camera(clip, port, credentials)
        started.append(camera)
        return camera

    yield start
    for camera in started:
        camera.stop()


def test_the_server_runs_in_a_python_that_has_gstreamer():
    if sys.platform != "linux":
        pytest.skip("the RTSP camera is set up for Debian")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0')"],
        capture_output=True,
        text=True,
    )
    assert probe.returncode == 0, (
        f"{SYSTEM_PYTHON} lacks GStreamer's RTSP server bindings: apt-get install python3-gi "
        f"gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly "
        f"gstreamer1.0-libav (as .ci/run does)\n{probe.stderr}"
    )


def test_a_skill_reads_the_camera_and_frames_flow_in_order(cameras, tmp_path):
    camera = cameras()
    skill = camera_to_log({"source": camera.url(), "username": USER, "password": PASSWORD})
    engine, recorder, state = run_skill(skill, tmp_path, realtime=True, max_frames=12)
    assert state is RunState.FINISHED, recorder.errors
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    messages = [json.loads(line) for line in lines]
    assert len(messages) == 12
    assert messages[0]["image"]["properties"] == {"height": SIZE[1], "width": SIZE[0], "color_format": "BGR"}
    numbers = [read_frame_number(f.image) for f in recorder.frames["log"]]
    assert numbers == sorted(numbers) and len(set(numbers)) == 12  # the clip, decoded, in order
    assert numbers[0] < 50  # a fresh connection starts at the clip's first frames
    assert engine.metrics().nodes["log"].frames_in == 12


def test_credentials_in_the_url_work_and_are_masked_everywhere(cameras, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    camera = cameras()
    url = camera.url(f"{USER}:{PASSWORD}")
    log = StatusLog()
    with open_source(url, on_status=log) as source:
        assert source.is_live and source.frame_size == SIZE
        first = read_frame_number(source.read(timeout=10).image)
        assert read_frame_number(source.read(timeout=10).image) > first
        assert source.name == f"camera rtsp://***:***@127.0.0.1:{camera.port}/stream"

    skill = camera_to_log({"source": url})
    _engine, recorder, state = run_skill(skill, tmp_path, realtime=True, max_frames=3)
    assert state is RunState.FINISHED and len(recorder.frames["log"]) == 3
    said = [e.message for e in log.events] + [r.getMessage() for r in caplog.records]
    said += [str(e) for e in recorder.events if not isinstance(e, FrameEvent)]
    said += (tmp_path / "log.jsonl").read_text().splitlines()
    assert any("rtsp://***:***@127.0.0.1" in m for m in said), said
    assert not any(secret in m for m in said for secret in SECRETS), said


def test_a_wrong_password_is_a_clear_error_that_does_not_show_it(cameras, tmp_path):
    camera = cameras()
    with pytest.raises(SourceError) as refused:
        open_source(camera.url(), username=USER, password="wrong-one", open_timeout=5)
    message = str(refused.value)
    assert message == (
        f"cannot open camera rtsp://***:***@127.0.0.1:{camera.port}/stream: "
        "check the URL, the network and the credentials"
    )

    skill = camera_to_log({"source": camera.url(), "username": USER, "password": "wrong-one"})
    _engine, recorder, state = run_skill(skill, tmp_path, realtime=True, max_frames=3)
    assert state is RunState.FAILED
    (error,) = [e for e in recorder.errors if e.node_id == "cam"]
    assert error.fatal and error.message == message
    everything = " ".join(str(e) for e in recorder.events)
    assert "wrong-one" not in everything and USER not in everything


def test_no_credentials_for_a_camera_that_needs_them_is_the_same_clear_error(cameras):
    camera = cameras()
    with pytest.raises(SourceError, match="check the URL, the network and the credentials"):
        open_source(camera.url(), open_timeout=5)


def test_the_camera_going_away_and_coming_back_reconnects(cameras):
    camera = cameras()
    log = StatusLog()
    source = open_source(
        camera.url(), username=USER, password=PASSWORD, on_status=log, reconnect_backoff=(0.2, 0.5)
    )
    try:
        before = [read_frame_number(source.read(timeout=10).image) for _ in range(5)]
        assert before == sorted(before)
        camera.stop()
        lost = log.wait_for("reconnecting")
        back_camera = cameras(port=camera.port)
        back = log.wait_for("live", after=lost)
        assert "is back after" in log.events[back].message
        assert source.read(timeout=10).image.shape == (SIZE[1], SIZE[0], 3)  # frames flow again
        assert back_camera.port == camera.port
    finally:
        source.close()
    states = [e.state for e in log.events]
    assert states[:2] == ["opening", "live"] and states[lost] == "reconnecting"
    assert all(state == "reconnecting" for state in states[lost:back])
    assert not any(secret in e.message for e in log.events for secret in SECRETS)


def test_a_running_skill_rides_out_a_camera_restart(cameras, tmp_path):
    camera = cameras()
    skill = camera_to_log({"source": camera.url(), "username": USER, "password": PASSWORD})
    engine = Engine(skill, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.start()
    try:
        wait_until(lambda: len(recorder.frames.get("log", [])) >= 5, "frames before the outage")
        camera.stop()
        wait_until(
            lambda: any(isinstance(e, NodeWarningEvent) and "lost" in e.message for e in recorder.events),
            "a warning that the camera was lost",
        )
        seen = len(recorder.frames["log"])
        cameras(port=camera.port)
        wait_until(lambda: len(recorder.frames["log"]) >= seen + 5, "frames after the camera came back")
    finally:
        engine.stop()
    warnings = [e.message for e in recorder.events if isinstance(e, NodeWarningEvent)]
    assert warnings and all(
        m.startswith(f"camera rtsp://***:***@127.0.0.1:{camera.port}/stream") for m in warnings
    )
    assert not [e for e in recorder.events if isinstance(e, NodeErrorEvent)]


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {timeout} s for {what}")
        time.sleep(0.05)
