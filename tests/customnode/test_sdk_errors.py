"""An exception in a node is visible on the server, plainly named on the client;
serve() says where it listens; events without a timestamp get the frame's."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from engine_helpers import run_skill, skill_of
from video_factory import write_video

from designer.customnode import CustomNodeClient, FrameData, pb2
from designer.customnode.errors import ProcessFailedError
from designer.customnode.server import CustomNode, CustomNodeServer


class Buggy(CustomNode):
    def Handshake(self, request, context):
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=pb2.IMAGE_TYPE_NUMPY,
            process_request_type=pb2.FRAME_WITHOUT_IMAGE,
            process_response_type=pb2.INSIGHTS_META_ONLY,
        )

    def Process(self, request, context):
        return self.count_cars(request)

    def count_cars(self, request):
        raise ZeroDivisionError("cars per lane: lanes is 0")


class Eventful(Buggy):
    def count_cars(self, request):
        event = pb2.EventMeta(type="count", properties={"cars": "2"})  # no timestamp set
        return pb2.ProcessResponse(ack=request.seq, insights_meta=pb2.InsightsMeta(events_meta=[event]))


def frame() -> FrameData:
    import numpy as np

    return FrameData(np.zeros((8, 8, 3), np.uint8), "7", 1_700_000_000.5, {})


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_an_exception_in_process_is_logged_with_its_traceback_and_named_plainly(caplog, streaming):
    server = CustomNodeServer(0, Buggy(), host="127.0.0.1").start()
    try:
        with (
            caplog.at_level(logging.ERROR),
            CustomNodeClient(f"127.0.0.1:{server.port}", streaming=streaming) as client,
        ):
            with pytest.raises(ProcessFailedError) as info:
                client.process(frame())
    finally:
        server.stop(None)
    message = str(info.value)
    assert "Exception iterating responses" not in message and "Exception calling application" not in message
    assert "Buggy.Process raised ZeroDivisionError: cars per lane: lanes is 0" in message
    logged = [r for r in caplog.records if r.exc_info and "Buggy.Process" in r.getMessage()]
    assert logged, "the server logged nothing"
    assert "count_cars" in logging.Formatter().formatException(logged[0].exc_info)  # the traceback


def test_serve_prints_where_it_listens(tmp_path):
    script = tmp_path / "node.py"
    script.write_text(
        textwrap.dedent(
            """
            import threading, os, signal
            from designer.customnode.samples import FakeDetection
            from designer.customnode.server import CustomNodeServer
            threading.Timer(1.0, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
            CustomNodeServer(0, FakeDetection(), host="127.0.0.1").serve()
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert "FakeDetection listening on 127.0.0.1:" in done.stdout + done.stderr


def test_events_without_a_timestamp_get_the_frames(tmp_path):
    clip = write_video(tmp_path / "clip.avi", frames=3, fps=25)
    server = CustomNodeServer(0, Eventful(), host="127.0.0.1").start()
    try:
        skill = skill_of(
            ("cam", "camera@1", {"source": str(clip), "loop": False}),
            ("count", "grpc-endpoint@1", {"endpoint_url": f"127.0.0.1:{server.port}"}),
            ("log", "insights-log@1", {"path": "log.jsonl"}),
            links=[("cam", "count"), ("count", "log")],
        )
        run_skill(skill, tmp_path)
    finally:
        server.stop(None)
    for line in Path(tmp_path / "log.jsonl").read_text().splitlines():
        message = json.loads(line)
        (event,) = message["insights_meta"]["events_meta"]
        assert event["timestamp"] == message["timestamp"] > 0
