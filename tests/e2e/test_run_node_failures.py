"""A node that fails on a frame loses nothing upstream; SIGTERM stops
gracefully; repeated gRPC errors are printed once with a count."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest
from engine_helpers import run_skill, skill_of
from video_factory import write_video

from designer.cli import main
from designer.core.engine.events import NodeWarningEvent, RunState
from designer.core.skill import save_skill
from designer.customnode import pb2
from designer.customnode.insights import object_meta
from designer.customnode.server import CustomNode, CustomNodeServer

ROOT = Path(__file__).resolve().parents[2]


class Flaky(CustomNode):
    """Answers one ``car`` per frame; fails (an exception) on every call numbered in ``fail_on``,
    stalls ``stall_s`` once on call ``stall_on``."""

    def __init__(self, fail_on: set[int] = frozenset(), stall_on: int = 0, stall_s: float = 0.0) -> None:
        self.fail_on, self.stall_on, self.stall_s = fail_on, stall_on, stall_s
        self.calls = 0
        self.lock = threading.Lock()

    def Handshake(self, request, context):
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=pb2.IMAGE_TYPE_NUMPY,
            process_request_type=pb2.FRAME_WITH_IMAGE,
            process_response_type=pb2.INSIGHTS_META_ONLY,
        )

    def Process(self, request, context):
        with self.lock:
            self.calls += 1
            call = self.calls
        if call == self.stall_on:
            time.sleep(self.stall_s)
        if call in self.fail_on:
            context.abort(grpc.StatusCode.INTERNAL, f"cannot process frame {request.frame.frame_id}")
        car = object_meta("car", 0.9, (0.1, 0.2, 0.3, 0.4))
        return pb2.ProcessResponse(ack=request.seq, insights_meta=pb2.InsightsMeta(objects_meta=[car]))


@pytest.fixture
def clip(tmp_path):
    return write_video(tmp_path / "clip.avi", frames=20, fps=25)


@pytest.fixture
def serve():
    started: list[CustomNodeServer] = []

    def start(node: CustomNode) -> str:
        server = CustomNodeServer(0, node, host="127.0.0.1").start()
        started.append(server)
        return f"127.0.0.1:{server.port}"

    yield start
    for server in started:
        server.stop(None)


def upstream_then_remote(clip, endpoint: str, timeout_s: float = 2.0):
    """cam -> keep (a filter that keeps everything) -> remote (gRPC) -> log."""
    return skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("keep", "filter@1", {}),
        ("remote", "grpc-endpoint@1", {"endpoint_url": endpoint, "timeout_s": timeout_s}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "keep"), ("keep", "remote"), ("remote", "log")],
    )


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- item 3 -------------------------------------------------------------------------------------


def test_a_frame_the_node_fails_on_continues_downstream_with_the_failure_noted(tmp_path, clip, serve):
    endpoint = serve(Flaky(fail_on={3, 7, 8}))
    engine, _, state = run_skill(upstream_then_remote(clip, endpoint), tmp_path)
    assert state is RunState.FINISHED
    messages = read_log(tmp_path / "log.jsonl")
    assert len(messages) == 20  # nothing lost
    failed = [m for m in messages if "remote.error" in m["insights_meta"]["other_meta"]]
    assert len(failed) == 3
    for message in failed:
        assert "INTERNAL" in message["insights_meta"]["other_meta"]["remote.error"]
        assert message["insights_meta"]["objects_meta"] == []  # unchanged: no car from the server
    assert sum(bool(m["insights_meta"]["objects_meta"]) for m in messages) == 17
    assert engine.metrics().nodes["remote"].errors == 3


def test_a_dead_server_still_lets_upstream_insights_reach_the_log(tmp_path, clip):
    skill = upstream_then_remote(clip, "127.0.0.1:1", timeout_s=0.5)
    _, _, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED
    messages = read_log(tmp_path / "log.jsonl")
    assert len(messages) == 20
    assert all("127.0.0.1:1" in m["insights_meta"]["other_meta"]["remote.error"] for m in messages)


def test_a_lossless_run_retries_through_a_stall_instead_of_failing_frames(tmp_path, clip, serve):
    endpoint = serve(Flaky(stall_on=5, stall_s=1.5))
    engine, _, state = run_skill(upstream_then_remote(clip, endpoint, timeout_s=0.5), tmp_path)
    assert state is RunState.FINISHED
    messages = read_log(tmp_path / "log.jsonl")
    assert len(messages) == 20
    assert all(m["insights_meta"]["objects_meta"] for m in messages), "a frame lost the server's answer"
    assert engine.metrics().nodes["remote"].errors == 0


def test_run_exits_3_and_counts_failed_frames_per_node(tmp_path, clip, serve, monkeypatch, capsys):
    endpoint = serve(Flaky(fail_on={2, 4}))
    monkeypatch.chdir(tmp_path)
    save_skill(upstream_then_remote(clip, endpoint), tmp_path / "s.skill.json")
    code = main(["run", "s.skill.json", "--realtime", "off", "--quiet"])
    err = capsys.readouterr().err
    assert code == 3, err
    assert "remote: failed on 2 of 20 frames" in err
    assert len(read_log(tmp_path / "log.jsonl")) == 20


def test_a_clean_run_still_exits_0(tmp_path, clip, serve, monkeypatch, capsys):
    endpoint = serve(Flaky())
    monkeypatch.chdir(tmp_path)
    save_skill(upstream_then_remote(clip, endpoint), tmp_path / "s.skill.json")
    assert main(["run", "s.skill.json", "--realtime", "off", "--quiet"]) == 0


# --- item 9 -------------------------------------------------------------------------------------


def test_the_same_grpc_error_on_every_frame_is_printed_once_with_a_count(tmp_path, clip, serve, capsys):
    endpoint = serve(Flaky(fail_on=set(range(1, 100))))
    skill = upstream_then_remote(clip, endpoint)
    save_skill(skill, tmp_path / "s.skill.json")
    os.chdir(tmp_path)
    try:
        code = main(["run", "s.skill.json", "--realtime", "off", "--quiet"])
    finally:
        os.chdir(ROOT)
    err = capsys.readouterr().err
    assert code == 3
    live = [line for line in err.splitlines() if line.startswith("node remote: error")]
    assert len(live) == 1, err
    assert "remote: failed on 20 of 20 frames" in err


# --- item 4 -------------------------------------------------------------------------------------


def test_sigterm_stops_gracefully_with_summary_and_every_line_flushed(tmp_path):
    clip = ROOT / "resources" / "video" / "vtest.avi"
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": True}),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "keep"), ("keep", "log")],
    )
    save_skill(skill, tmp_path / "s.skill.json")
    proc = subprocess.Popen(
        [sys.executable, "-m", "designer.cli", "run", "s.skill.json", "--insights", "out.jsonl"],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        out = tmp_path / "out.jsonl"
        while time.monotonic() < deadline and (not out.exists() or out.stat().st_size < 2000):
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "stopped:" in err and "keep" in err  # the summary
    lines = out.read_text().splitlines()
    assert lines and all(json.loads(line) for line in lines)  # no torn last line
    assert out.read_text().endswith("\n")
    # every frame that reached the Insights Log also reached --insights
    assert len(lines) == len((tmp_path / "log.jsonl").read_text().splitlines())


# --- item 2 -------------------------------------------------------------------------------------


class Wild(Flaky):
    """Answers numbers no consumer can use: NaN and infinities, confidences outside 0..1."""

    def Process(self, request, context):
        response = pb2.ProcessResponse(ack=request.seq)
        objects = response.insights_meta.objects_meta
        for label, confidence, box in [
            ("good", 0.5, (0.1, 0.1, 0.2, 0.2)),
            ("nan-confidence", math.nan, (0.1, 0.1, 0.2, 0.2)),
            ("inf-box", 0.5, (math.inf, 0.1, 0.2, 0.2)),
            ("too-sure", 7.5, (0.1, 0.1, 0.2, 0.2)),
            ("negative", -3.0, (0.1, 0.1, 0.2, 0.2)),
        ]:
            obj = objects.add(label=label, confidence=confidence)
            obj.bbox.l, obj.bbox.t, obj.bbox.w, obj.bbox.h = box
        odd = objects.add(label="odd-attribute", confidence=0.5)
        odd.attributes.add(name="color", label="red", confidence=math.inf)
        odd.tracking_info.tracking_id = "1"
        odd.tracking_info.speed = math.nan
        return response


def strict_json(line: str) -> dict:
    def refuse(name: str):
        raise ValueError(f"{name} is not JSON")

    return json.loads(line, parse_constant=refuse)


def test_non_finite_and_out_of_range_numbers_from_a_server_never_reach_the_log(tmp_path, clip, serve):
    endpoint = serve(Wild())
    _, recorder, state = run_skill(upstream_then_remote(clip, endpoint), tmp_path)
    assert state is RunState.FINISHED
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 20
    for line in lines:
        objects = {o["label"]: o for o in strict_json(line)["insights_meta"]["objects_meta"]}
        assert set(objects) == {"good", "too-sure", "negative", "odd-attribute"}
        assert objects["too-sure"]["confidence"] == 1.0 and objects["negative"]["confidence"] == 0.0
        assert objects["odd-attribute"]["attributes"][0]["confidence"] == 1.0
        assert objects["odd-attribute"]["tracking_info"]["speed"] == 0.0
    warnings = [
        e.message for e in recorder.events if isinstance(e, NodeWarningEvent) and e.node_id == "remote"
    ]
    assert any("non-finite" in w for w in warnings) and any("outside 0..1" in w for w in warnings)
    assert len(warnings) < 10  # once per kind, not once per frame


def test_the_insights_log_refuses_to_write_nan(tmp_path):
    import numpy as np

    from designer.core.engine.frame import Frame, ObjectMeta
    from designer.core.engine.nodes.insights_log import InsightsLogRuntime
    from designer.core.engine.runtime import NodeError, RunContext
    from designer.core.skill.catalog.exports import InsightsLogParams

    log = InsightsLogRuntime("log", InsightsLogParams(path="x.jsonl"), RunContext(output_dir=tmp_path))
    log.open()
    frame = Frame(np.zeros((4, 4, 3), np.uint8), "1", 1.0, objects=[ObjectMeta("x", math.nan)])
    with pytest.raises(NodeError, match=r"node log: .*non-finite"):
        log.process(frame)
    log.close()
    assert (tmp_path / "x.jsonl").read_text() == ""


def test_every_json_writer_in_the_project_refuses_nan():
    """NaN and Infinity are not JSON: every json.dump(s) call that writes data for others (files,
    messages, command output) says allow_nan=False. The GUI only displays JSON; the package
    importer serialises a value to search it, never to write it."""
    import ast

    lax = []
    readers = {ROOT / "designer" / "core" / "package" / "importer.py"}
    for path in (ROOT / "designer").rglob("*.py"):
        if path.is_relative_to(ROOT / "designer" / "ui") or path in readers:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("dump", "dumps")
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "json"
            ):
                strict = any(
                    k.arg == "allow_nan" and isinstance(k.value, ast.Constant) and k.value.value is False
                    for k in node.keywords
                )
                if not strict:
                    lax.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert lax == []
