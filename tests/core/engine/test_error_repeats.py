"""A node failing on every frame is reported once per window, with how many failures it hid.

A user watching a run sees "(and 41 more like it before)" instead of 42 identical lines; the
count must be the failures that were held back, never lost and never negative.
"""

from __future__ import annotations

import re
import time

import grpc
import pytest
from engine_helpers import run_skill, skill_of
from video_factory import write_video

import designer.core.engine.executor as executor
from designer.core.engine.events import NodeErrorEvent
from designer.customnode import CustomNode, CustomNodeServer, pb2

FRAMES = 120
REPEAT = re.compile(r" \(and (-?\d+) more like it before\)$")


class Broken(CustomNode):
    """Shakes hands, then fails every frame the same way (a model that never loaded)."""

    def __init__(self) -> None:
        self.frames = 0

    def Handshake(self, request, context: grpc.ServicerContext) -> pb2.HandshakeResponse:
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=pb2.IMAGE_TYPE_NUMPY,
            process_request_type=pb2.FRAME_WITHOUT_IMAGE,
            process_response_type=pb2.INSIGHTS_META_ONLY,
        )

    def Process(self, request, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        self.frames += 1
        time.sleep(0.001)  # 120 frames outlast several report windows, however fast the machine
        context.abort(grpc.StatusCode.INTERNAL, "model not loaded")


def test_repeated_failures_are_reported_once_per_window_with_their_count(tmp_path, monkeypatch):
    monkeypatch.setattr(executor, "ERROR_REPEAT_S", 0.02)  # several windows: 120 frames take >= 0.12 s
    clip = write_video(tmp_path / "clip.avi", frames=FRAMES, fps=25)
    node = Broken()
    server = CustomNodeServer(0, node, host="127.0.0.1").start()
    try:
        skill = skill_of(
            ("cam", "camera@1", {"source": str(clip), "loop": False}),
            ("broken", "grpc-endpoint@1", {"endpoint_url": f"127.0.0.1:{server.port}"}),
            ("log", "insights-log@1", {"path": "log.jsonl"}),
            links=[("cam", "broken"), ("broken", "log")],
        )
        _engine, recorder, _state = run_skill(skill, tmp_path)
    finally:
        server.stop()
    reports = [e.message for e in recorder.events if isinstance(e, NodeErrorEvent) and e.node_id == "broken"]
    assert node.frames == FRAMES and len(reports) >= 2, reports
    assert "model not loaded" in reports[0] and not REPEAT.search(reports[0])
    held = [int(m.group(1)) for m in map(REPEAT.search, reports[1:]) if m]
    assert held, reports  # later reports say how many were held back
    assert all(count >= 1 for count in held), reports
    assert len(reports) + sum(held) <= FRAMES  # nothing counted twice


@pytest.fixture(autouse=True)
def _quiet_grpc_logs(caplog):
    caplog.set_level("CRITICAL", logger="designer.core.engine.executor")
