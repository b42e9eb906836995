"""Real gRPC servers on 127.0.0.1 free ports, and frames with recognisable pixels."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from designer.customnode import (
    CustomNode,
    CustomNodeClient,
    CustomNodeServer,
    FrameData,
    decode_request_image,
    encode_image,
    object_meta,
    pb2,
)


def make_image(height: int = 48, width: int = 64) -> np.ndarray:
    """A frame whose left and right halves differ, so a flip is visible, with smooth areas
    so JPEG stays close to the original."""
    image = np.zeros((height, width, 3), dtype=np.uint8)
    image[:, : width // 2] = (200, 40, 10)  # blue-ish left half (BGR)
    image[:, width // 2 :] = (10, 60, 220)  # red-ish right half
    return image


def make_frame(
    frame_id: str = "f1",
    image: np.ndarray | None = None,
    insights: dict | None = None,
    roi: dict | None = None,
) -> FrameData:
    return FrameData(
        image=make_image() if image is None else image,
        frame_id=frame_id,
        timestamp=1_700_000_000.25,
        insights_meta=insights or {"objects_meta": [], "events_meta": [], "other_meta": {}},
        roi=roi,
    )


class Recorder(CustomNode):
    """A configurable SDK node that records what it received and answers per its handshake.

    It returns the frame mirrored (when the response type holds an image) in
    the encoding it asked for, and one ``thing`` object per frame.
    """

    def __init__(
        self,
        image_type: int = pb2.IMAGE_TYPE_NUMPY,
        request_type: int = pb2.FRAME_WITH_IMAGE,
        response_type: int = pb2.IMAGE_AND_INSIGHTS_META,
    ) -> None:
        self.image_type = image_type
        self.request_type = request_type
        self.response_type = response_type
        self.handshakes: list[pb2.HandshakeRequest] = []
        self.requests: list[pb2.ProcessRequest] = []
        self.methods: list[str] = []

    def Handshake(self, request, context):
        self.handshakes.append(request)
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=self.image_type,
            process_request_type=self.request_type,
            process_response_type=self.response_type,
        )

    def Process(self, request, context):
        self.requests.append(request)
        response = pb2.ProcessResponse(ack=request.seq)
        if self.response_type in (pb2.IMAGE_ONLY, pb2.IMAGE_AND_INSIGHTS_META):
            pixels = decode_request_image(request)
            response.image.CopyFrom(encode_image(pixels[:, ::-1], self.image_type))
        if self.response_type in (pb2.INSIGHTS_META_ONLY, pb2.IMAGE_AND_INSIGHTS_META):
            thing = object_meta("thing", 0.75, (0.5, 0.25, 0.25, 0.5), tracking_id="t-1")
            response.insights_meta.objects_meta.append(thing)
            response.insights_meta.other_meta["node"] = "recorder"
        return response

    def ProcessStream(self, request_iterator, context):
        self.methods.append("ProcessStream")
        yield from super().ProcessStream(request_iterator, context)


@pytest.fixture
def serve() -> Iterator[Callable[..., CustomNodeServer]]:
    """Start a node on 127.0.0.1 (a free port unless given); every server stops after the test."""
    servers: list[CustomNodeServer] = []

    def start(node: CustomNode, port: int = 0, **kwargs) -> CustomNodeServer:
        server = CustomNodeServer(port, node, host="127.0.0.1", **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def connect() -> Iterator[Callable[..., CustomNodeClient]]:
    """Clients with short deadlines and backoff; every client is closed after the test."""
    clients: list[CustomNodeClient] = []

    def make(target: CustomNodeServer | str, **kwargs) -> CustomNodeClient:
        endpoint = target if isinstance(target, str) else f"127.0.0.1:{target.port}"
        kwargs.setdefault("timeout", 2.0)
        kwargs.setdefault("backoff_initial", 0.05)
        kwargs.setdefault("backoff_max", 0.2)
        client = CustomNodeClient(endpoint, **kwargs)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """Set at teardown so nodes that block 'forever' let their server stop."""
    event = threading.Event()
    yield event
    event.set()


def eventually(call: Callable[[], object], seconds: float = 10.0) -> object:
    """Retry ``call`` until it stops raising (reconnects back off), or re-raise at the end."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return call()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
