"""Bad servers and bad input: the right error type, naming the endpoint, and recovery."""

from __future__ import annotations

import math
import socket
import threading
import time

import grpc
import numpy as np
import pytest

from designer.core.engine.frame import Frame
from designer.core.engine.nodes.grpc import GrpcRuntime
from designer.core.engine.runtime import NodeError, RunContext
from designer.core.skill.catalog.process import GrpcEndpointParams
from designer.customnode import (
    AckMismatchError,
    CustomNodeError,
    DeadlineExceededError,
    FrameTooLargeError,
    HandshakeRefusedError,
    InvalidFrameError,
    ProcessFailedError,
    ProtocolError,
    ServerUnreachableError,
    UndecodableImageError,
    pb2,
)

from .conftest import Recorder, eventually, make_frame


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raises_naming_endpoint(error_type, client, frame=None, match=None):
    with pytest.raises(error_type, match=match) as info:
        client.process(frame or make_frame())
    assert client.endpoint in str(info.value)
    assert info.value.endpoint == client.endpoint
    return info.value


def test_server_down_at_start_then_started(serve, connect):
    port = free_port()
    client = connect(f"127.0.0.1:{port}")
    raises_naming_endpoint(ServerUnreachableError, client, match="is it running")
    raises_naming_endpoint(ServerUnreachableError, client, match="next reconnect in")

    node = Recorder()
    serve(node, port=port)
    eventually(lambda: client.process(make_frame()))
    assert [h.seq for h in node.handshakes] == [1]


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_server_killed_mid_stream_and_restarted(serve, connect, streaming):
    first = Recorder()
    server = serve(first)
    client = connect(server, streaming=streaming)
    client.process(make_frame("a"))
    client.process(make_frame("b"))
    server.stop()

    raises_naming_endpoint(ServerUnreachableError, client)

    second = Recorder()
    serve(second, port=server.port)
    eventually(lambda: client.process(make_frame("c")))
    assert [h.seq for h in second.handshakes] == [1]  # a fresh handshake
    assert [r.seq for r in second.requests] == [2]  # seq starts over
    assert second.methods == (["ProcessStream"] if streaming else [])  # stream tried again


class WrongAck(Recorder):
    def __init__(self, handshake_offset=0, process_offsets=()):
        super().__init__(response_type=pb2.EMPTY)
        self.handshake_offset = handshake_offset
        self.process_offsets = list(process_offsets)

    def Handshake(self, request, context):
        response = super().Handshake(request, context)
        response.ack += self.handshake_offset
        return response

    def Process(self, request, context):
        response = super().Process(request, context)
        if self.process_offsets:
            response.ack += self.process_offsets.pop(0)
        return response


@pytest.mark.parametrize("offset", [41, -1], ids=["higher", "lower"])
def test_wrong_handshake_ack_is_a_protocol_error(serve, connect, offset):
    node = WrongAck(handshake_offset=offset)
    client = connect(serve(node))
    error = raises_naming_endpoint(AckMismatchError, client, match=f"sent seq 1 but got ack {1 + offset}")
    assert isinstance(error, ProtocolError)
    assert node.requests == []  # no frame goes to a server that answered the handshake wrong


@pytest.mark.parametrize("offset", [1, -1], ids=["higher", "lower"])
@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_wrong_process_ack_drops_the_connection_and_recovers(serve, connect, streaming, offset):
    node = WrongAck(process_offsets=[0, offset])
    client = connect(serve(node), streaming=streaming)
    client.process(make_frame("a"))
    raises_naming_endpoint(
        AckMismatchError, client, make_frame("b"), f"frame b: sent seq 3 but got ack {3 + offset}"
    )
    assert client.handshake is None  # the connection was dropped
    eventually(lambda: client.process(make_frame("c")))
    assert len(node.handshakes) == 2


@pytest.mark.parametrize("field", ["image_type", "process_request_type", "process_response_type"])
def test_unknown_enum_value_in_handshake_is_a_protocol_error(serve, connect, field):
    class Odd(Recorder):
        def Handshake(self, request, context):
            response = super().Handshake(request, context)
            setattr(response, field, 7)
            return response

    client = connect(serve(Odd()))
    raises_naming_endpoint(ProtocolError, client, match=f"{field} = 7, which the contract")


class BadImage(Recorder):
    """Answers IMAGE_ONLY with a damaged picture for the first frame only."""

    def __init__(self, damage):
        super().__init__(pb2.IMAGE_TYPE_JPEG, response_type=pb2.IMAGE_ONLY)
        self.damage = damage

    def Process(self, request, context):
        response = super().Process(request, context)
        if len(self.requests) == 1:
            self.damage(response.image)
        return response


@pytest.mark.parametrize(
    "damage",
    [
        lambda image: setattr(image, "image_pointer", image.image_pointer[:200]),
        lambda image: setattr(image, "image_pointer", b"\xff\xd8\xff" + b"\x01" * 300),
        lambda image: setattr(image, "image_pointer", b"not an image at all"),
    ],
    ids=["truncated", "corrupt", "garbage"],
)
def test_undecodable_returned_image_fails_that_frame_only(serve, connect, damage):
    node = BadImage(damage)
    client = connect(serve(node))
    raises_naming_endpoint(UndecodableImageError, client, match="cannot decode the returned image")
    assert client.process(make_frame()).image.shape == (48, 64, 3)
    assert len(node.handshakes) == 1  # the connection was fine all along


def test_declared_image_but_none_returned_is_a_protocol_error(serve, connect):
    class NoImage(Recorder):
        def Process(self, request, context):
            self.requests.append(request)
            return pb2.ProcessResponse(ack=request.seq)

    client = connect(serve(NoImage(response_type=pb2.IMAGE_AND_INSIGHTS_META)))
    raises_naming_endpoint(ProtocolError, client, match="IMAGE_AND_INSIGHTS_META but returned no")


class Boxes(Recorder):
    def __init__(self, *boxes):
        super().__init__(response_type=pb2.INSIGHTS_META_ONLY)
        self.boxes = boxes

    def Process(self, request, context):
        response = pb2.ProcessResponse(ack=request.seq)
        for left, top, width, height in self.boxes:
            obj = response.insights_meta.objects_meta.add(label="x", confidence=0.5)
            obj.bbox.l, obj.bbox.t, obj.bbox.w, obj.bbox.h = left, top, width, height
        return response


def test_boxes_outside_the_frame_are_clipped(serve, connect):
    client = connect(serve(Boxes((-0.25, 0.5, 0.5, 0.75), (0.25, 0.25, 0.5, 0.5))))
    objects = client.process(make_frame()).insights_meta["objects_meta"]
    assert [o["bbox"] for o in objects] == [
        {"l": 0.0, "t": 0.5, "w": 0.25, "h": 0.5},
        {"l": 0.25, "t": 0.25, "w": 0.5, "h": 0.5},
    ]


def test_objects_with_non_finite_boxes_are_dropped_and_the_fix_reported(serve, connect):
    client = connect(
        serve(Boxes((math.nan, 0.0, 0.5, 0.5), (0.25, 0.25, 0.5, math.inf), (0.5, 0.5, 0.25, 0.25)))
    )
    result = client.process(make_frame())
    assert [o["bbox"] for o in result.insights_meta["objects_meta"]] == [
        {"l": 0.5, "t": 0.5, "w": 0.25, "h": 0.25}
    ]
    assert set(result.fixes) == {"dropped objects with a non-finite confidence or box"}


def test_attribute_confidences_outside_0_to_1_are_clamped_and_nan_is_zero(serve, connect):
    class OddAttributes(Recorder):
        def Process(self, request, context):
            response = pb2.ProcessResponse(ack=request.seq)
            obj = response.insights_meta.objects_meta.add(label="person", confidence=1.5)
            for name, confidence in (("nan", math.nan), ("high", 7.0), ("low", -0.25), ("fine", 0.5)):
                obj.attributes.add(name=name, label="x", confidence=confidence)
            return response

    client = connect(serve(OddAttributes(response_type=pb2.INSIGHTS_META_ONLY)))
    (person,) = client.process(make_frame()).insights_meta["objects_meta"]
    assert person["confidence"] == 1.0
    assert {a["name"]: a["confidence"] for a in person["attributes"]} == {
        "nan": 0.0,
        "high": 1.0,
        "low": 0.0,
        "fine": 0.5,
    }


def test_frame_over_the_client_limit_is_refused_before_sending(serve, connect):
    node = Recorder()
    client = connect(serve(node), max_message_bytes=100_000)
    big = make_frame(image=np.zeros((480, 640, 3), np.uint8))
    raises_naming_endpoint(FrameTooLargeError, client, big, "over the 100000-byte message limit")
    assert node.requests == []
    client.process(make_frame())  # small frames still go through on the same connection
    assert len(node.handshakes) == 1


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_frame_over_the_server_limit_is_a_frame_too_large_error(serve, connect, streaming):
    node = Recorder(response_type=pb2.EMPTY)
    client = connect(serve(node, max_message_bytes=100_000), streaming=streaming)
    big = make_frame(image=np.zeros((480, 640, 3), np.uint8))
    raises_naming_endpoint(FrameTooLargeError, client, big, "refused as too large")
    eventually(lambda: client.process(make_frame()))


class Silent(Recorder):
    """Never answers (until the test ends)."""

    def __init__(self, release, in_handshake=False):
        super().__init__()
        self.release = release
        self.in_handshake = in_handshake

    def Handshake(self, request, context):
        if self.in_handshake:
            self.release.wait(10)
        return super().Handshake(request, context)

    def Process(self, request, context):
        self.release.wait(10)
        return super().Process(request, context)


@pytest.mark.timeout(15)
@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_a_server_that_never_answers_hits_the_deadline(serve, connect, release, streaming):
    client = connect(serve(Silent(release)), timeout=0.3, streaming=streaming)
    raises_naming_endpoint(DeadlineExceededError, client, match="within 0.3 s")
    raises_naming_endpoint(DeadlineExceededError, client)  # backing off, no new wait


@pytest.mark.timeout(15)
def test_a_handshake_that_never_answers_hits_the_deadline(serve, connect, release):
    client = connect(serve(Silent(release, in_handshake=True)), timeout=0.3)
    raises_naming_endpoint(DeadlineExceededError, client, match="the handshake within 0.3 s")


def test_handshake_refused_by_the_server(serve, connect):
    class Refuses(Recorder):
        def Handshake(self, request, context):
            context.abort(grpc.StatusCode.PERMISSION_DENIED, "unknown device dev-9")

    client = connect(serve(Refuses()))
    raises_naming_endpoint(HandshakeRefusedError, client, match="PERMISSION_DENIED: unknown device")


def test_a_node_that_raises_in_process_fails_that_call_and_recovers(serve, connect):
    class Flaky(Recorder):
        def Process(self, request, context):
            if not self.requests:
                self.requests.append(request)
                raise RuntimeError("model not loaded yet")
            return super().Process(request, context)

    client = connect(serve(Flaky(response_type=pb2.EMPTY)))
    raises_naming_endpoint(ProcessFailedError, client, match="model not loaded yet")
    eventually(lambda: client.process(make_frame()))


def test_a_stream_the_server_ends_early_is_a_protocol_error(serve, connect):
    class OneShot(Recorder):
        def ProcessStream(self, request_iterator, context):
            yield self.Process(next(request_iterator), context)

    client = connect(serve(OneShot(response_type=pb2.EMPTY)))
    client.process(make_frame("a"))
    raises_naming_endpoint(ProtocolError, client, make_frame("b"), "ended the stream at frame b")


def test_invalid_frames_and_a_closed_client(serve, connect):
    node = Recorder()
    client = connect(serve(node))
    grey = make_frame(image=np.zeros((48, 64), np.uint8))
    raises_naming_endpoint(InvalidFrameError, client, grey, "frame f1 cannot be sent")
    bad_roi = make_frame(roi={"type": "CIRCLE"})
    raises_naming_endpoint(InvalidFrameError, client, bad_roi, "not LINE or POLYGON")
    assert node.requests == []
    client.close()
    raises_naming_endpoint(CustomNodeError, client, match="closed")


class Refuses(Recorder):
    def Handshake(self, request, context):
        context.abort(grpc.StatusCode.PERMISSION_DENIED, "unknown device dev-9")


class Raises(Recorder):
    def Process(self, request, context):
        raise RuntimeError("model not loaded yet")


@pytest.mark.timeout(20)
@pytest.mark.parametrize(
    ("make_node", "reason"),
    [
        (lambda release: WrongAck(process_offsets=[5]), "sent seq 2 but got ack 7"),
        (lambda release: WrongAck(handshake_offset=1), "handshake sent seq 1 but got ack 2"),
        (lambda release: Refuses(), "unknown device dev-9"),
        (lambda release: Raises(), "model not loaded yet"),
        (lambda release: Silent(release), "within 0.3 s"),
        (lambda release: BadImage(lambda image: setattr(image, "image_pointer", b"x")), "decode"),
        (lambda release: None, "is it running"),
    ],
    ids=["ack", "handshake-ack", "refused", "raises", "deadline", "bad-image", "unreachable"],
)
def test_every_client_failure_reaches_the_engine_as_the_nodes_error(serve, release, make_node, reason):
    """The gRPC node turns each client failure into a NodeError naming the node and the server,
    so the engine reports it and keeps running, instead of the node's thread dying."""
    node = make_node(release)
    endpoint = f"127.0.0.1:{serve(node).port if node is not None else free_port()}"
    runtime = GrpcRuntime("counter", GrpcEndpointParams(endpoint_url=endpoint, timeout_s=0.3), RunContext())
    runtime.open()
    try:
        frame = Frame(image=make_frame().image, frame_id="7", timestamp=1.0)
        with pytest.raises(NodeError, match=reason) as info:
            runtime.process(frame)
        assert info.value.node_id == "counter"
        assert str(info.value).startswith("node counter: ") and endpoint in str(info.value)
    finally:
        runtime.close()


@pytest.mark.timeout(20)
@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_close_cancels_a_call_in_flight_instead_of_waiting_out_the_deadline(
    serve, connect, release, streaming
):
    client = connect(serve(Silent(release)), timeout=60, streaming=streaming)
    client.connect()
    outcome: list[BaseException] = []

    def call():
        try:
            client.process(make_frame())
        except BaseException as exc:  # handed to the test thread
            outcome.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.3)  # let the frame reach the server
    client.close()
    worker.join(10)  # far below the 60 s deadline
    assert not worker.is_alive()
    (error,) = outcome
    assert isinstance(error, CustomNodeError) and "closed" in str(error)
