"""Run says a container node's container is not started by it, and how to start it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from engine_helpers import skill_of

from designer.cli import main
from designer.commands.containers import docker_problem
from designer.core.skill import save_skill
from designer.customnode.samples import FakeDetection
from designer.customnode.server import CustomNodeServer

CLIP = Path(__file__).resolve().parents[2] / "resources" / "video" / "vtest.avi"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container_skill(tmp_path: Path, port: int) -> Path:
    skill = skill_of(
        ("cam", "camera@1", {"source": str(CLIP), "loop": False}),
        (
            "counter",
            "grpc-container@1",
            {"container_name": "counter", "container_image": "example/counter:1.0", "port": port},
        ),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "counter"), ("counter", "log")],
    )
    save_skill(skill, tmp_path / "c.skill.json")
    return tmp_path / "c.skill.json"


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["run", *argv, "--max-frames", "3", "--realtime", "off", "--quiet"])
    return code, capsys.readouterr().err


def test_run_names_the_endpoint_and_the_docker_command_and_the_error_mentions_the_container(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    port = free_port()
    code, err = run(capsys, str(container_skill(tmp_path, port)))
    assert code == 3
    notice = f"run does not start container 'counter'; it connects to 127.0.0.1:{port}"
    assert notice in err
    assert f"docker run --rm -p {port}:{port} example/counter:1.0" in err
    error = next(line for line in err.splitlines() if line.startswith("node counter: error"))
    assert "container 'counter'" in error and "--start-containers" in error


def test_a_running_container_is_reached_at_its_local_endpoint(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    server = CustomNodeServer(0, FakeDetection(), host="127.0.0.1").start()
    try:
        code, err = run(capsys, str(container_skill(tmp_path, server.port)))
    finally:
        server.stop(None)
    assert code == 0, err
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert len(lines) == 3 and all(m["insights_meta"]["objects_meta"][0]["label"] == "car" for m in lines)


@pytest.mark.skipif(docker_problem() is None, reason="Docker is running here: the refusal cannot happen")
def test_start_containers_without_docker_is_one_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, err = run(capsys, str(container_skill(tmp_path, free_port())), "--start-containers")
    assert code == 2
    assert "--start-containers" in err and "Docker" in err and "Traceback" not in err
