"""The insight message, field by field: what the log holds and what gRPC nodes receive and send back.

Consumers written for POSS parse these messages by key; a field that vanishes or two values
that swap break them without any error here. So the message of one rich frame is pinned in
full against a hand-written copy, and followed through the Insights Log and a real gRPC server.
Every number is exact in float32, so the wire changes nothing.
"""

from __future__ import annotations

import json

import grpc
import numpy as np
import pytest

from designer.core.engine.frame import (
    Attribute,
    BBox,
    EventMeta,
    Frame,
    ObjectMeta,
    TrackingInfo,
    insight_message,
)
from designer.core.engine.nodes.grpc import GrpcRuntime
from designer.core.engine.nodes.insights_log import InsightsLogRuntime
from designer.core.engine.runtime import RunContext
from designer.core.skill.catalog.exports import InsightsLogParams
from designer.core.skill.catalog.process import GrpcEndpointParams
from designer.customnode import CustomNode, CustomNodeServer, pb2
from designer.customnode.insights import insights_from_proto, object_meta

TIME = 1_700_000_000.5


def rich_frame() -> Frame:
    """A frame with everything a message can carry: two objects (one tracked, with an
    attribute; one boxless), an event and the counts a zone leaves in ``other_meta``."""
    image = np.zeros((90, 160, 3), np.uint8)
    image.flags.writeable = False
    person = ObjectMeta(
        label="person",
        confidence=0.875,
        bbox=BBox(0.125, 0.25, 0.0625, 0.5),
        timestamp=TIME,
        inference_id="detector",
        attributes=[Attribute(name="colour", label="red", confidence=0.75, timestamp=TIME)],
        tracking_info=TrackingInfo(tracking_id="7", speed=1.5, direction=(0.25, -0.75)),
        class_id=0,
    )
    scene = ObjectMeta(label="night", confidence=0.5, timestamp=TIME, inference_id="scene")
    crossing = EventMeta(
        type="line_crossing",
        event_id="door-1",
        related_ids=["7"],
        properties={"line": "door", "direction": "in"},
        timestamp=TIME,
    )
    return Frame(
        image=image,
        frame_id="42",
        timestamp=TIME,
        objects=[person, scene],
        events=[crossing],
        other_meta={"zone:door:in": "1", "zone:door:count": "3"},
    )


EXPECTED_INSIGHTS = {
    "objects_meta": [
        {
            "timestamp": TIME,
            "label": "person",
            "confidence": 0.875,
            "inference_id": "detector",
            "attributes": [{"name": "colour", "label": "red", "confidence": 0.75}],
            "bbox": {"l": 0.125, "t": 0.25, "w": 0.0625, "h": 0.5},
            "tracking_info": {"tracking_id": "7", "speed": 1.5, "direction": {"x": 0.25, "y": -0.75}},
        },
        {
            "timestamp": TIME,
            "label": "night",
            "confidence": 0.5,
            "inference_id": "scene",
            "attributes": [],
        },
    ],
    "events_meta": [
        {
            "timestamp": TIME,
            "type": "line_crossing",
            "event_id": "door-1",
            "related_ids": ["7"],
            "properties": {"line": "door", "direction": "in"},
        }
    ],
    "other_meta": {"zone:door:in": "1", "zone:door:count": "3"},
}

EXPECTED_MESSAGE = {
    "image": {"properties": {"height": 90, "width": 160, "color_format": "BGR"}},
    "insights_meta": EXPECTED_INSIGHTS,
    "timestamp": TIME,
    "frame_id": "42",
    "instance_id": "inst-1",
    "skill_id": "skill-1",
    "device_id": "dev-1",
    "datetime": "2023-11-14T22:13:20.500000+00:00",
}


def context(tmp_path) -> RunContext:
    return RunContext(
        skill_dir=tmp_path, output_dir=tmp_path, instance_id="inst-1", skill_id="skill-1", device_id="dev-1"
    )


def test_the_message_of_a_rich_frame_is_exactly_the_poss_shape():
    message = insight_message(rich_frame(), instance_id="inst-1", skill_id="skill-1", device_id="dev-1")
    assert message == EXPECTED_MESSAGE
    assert list(message) == list(EXPECTED_MESSAGE)  # key order too: people read these logs


def test_the_insights_log_writes_that_message_on_one_line(tmp_path):
    log = InsightsLogRuntime("log", InsightsLogParams(path="out.jsonl"), context(tmp_path))
    log.open()
    try:
        log.process(rich_frame())
        log.process(rich_frame())
    finally:
        log.close()
    lines = (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line) for line in lines] == [EXPECTED_MESSAGE, EXPECTED_MESSAGE]


class Echo(CustomNode):
    """Records the frames it gets; answers with ``reply(request)``'s insights (none by default)."""

    def __init__(self, reply=None) -> None:
        self.handshakes: list[pb2.HandshakeRequest] = []
        self.requests: list[pb2.ProcessRequest] = []
        self.reply = reply

    def Handshake(self, request, context: grpc.ServicerContext) -> pb2.HandshakeResponse:
        self.handshakes.append(request)
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=pb2.IMAGE_TYPE_NUMPY,
            process_request_type=pb2.FRAME_WITH_IMAGE,
            process_response_type=pb2.INSIGHTS_META_ONLY,
        )

    def Process(self, request, context: grpc.ServicerContext) -> pb2.ProcessResponse:
        self.requests.append(request)
        response = pb2.ProcessResponse(ack=request.seq)
        if self.reply is not None:
            response.insights_meta.CopyFrom(self.reply(request))
        return response


@pytest.fixture
def grpc_node(tmp_path):
    """A GrpcRuntime ``enrich`` talking to a real server running ``node``."""
    started: list[tuple[CustomNodeServer, GrpcRuntime]] = []

    def start(node: CustomNode) -> GrpcRuntime:
        server = CustomNodeServer(0, node, host="127.0.0.1").start()
        params = GrpcEndpointParams(endpoint_url=f"127.0.0.1:{server.port}", timeout_s=5)
        runtime = GrpcRuntime("enrich", params, context(tmp_path))
        runtime.open()
        started.append((server, runtime))
        return runtime

    yield start
    for server, runtime in started:
        runtime.close()
        server.stop()


def test_a_grpc_node_receives_the_same_insights_the_log_holds(grpc_node):
    node = Echo()
    grpc_node(node).process(rich_frame())
    (request,) = node.requests
    sent = request.frame.insights_meta
    assert insights_from_proto(sent) == EXPECTED_INSIGHTS
    # the raw wire fields, as a server written for POSS reads them
    assert dict(sent.other_meta) == {"zone:door:in": "1", "zone:door:count": "3"}
    direction = sent.objects_meta[0].tracking_info.direction
    assert (direction.x, direction.y) == (0.25, -0.75)
    assert not sent.objects_meta[1].HasField("bbox")
    assert request.frame.frame_id == "42"
    (hello,) = node.handshakes
    assert (hello.instance_id, hello.skill_id, hello.device_id) == ("inst-1", "skill-1", "dev-1")


def annotate_the_person(request: pb2.ProcessRequest) -> pb2.InsightsMeta:
    """What a classifier + tracker server answers: the box it was sent, with an attribute,
    a tracking id and its own confidence; a new box of its own; an event; a count."""
    same = object_meta("person", 0.5, (0.125, 0.25, 0.0625, 0.5), tracking_id="server-9")
    same.attributes.add(name="colour", label="red", confidence=0.75)  # already known: not doubled
    same.attributes.add(name="helmet", label="yes", confidence=0.625)
    new = object_meta("dog", 0.25, (0.5, 0.5, 0.25, 0.25))
    moved = object_meta("person", 0.5, (0.5, 0.25, 0.0625, 0.5))  # another box: a new object
    insights = pb2.InsightsMeta(objects_meta=[same, new, moved])
    insights.events_meta.add(type="helmet_check", event_id="e-2", related_ids=["server-9"])
    insights.other_meta["helmets"] = "1"
    insights.other_meta["zone:door:count"] = "4"  # the server's value wins
    return insights


def test_objects_a_grpc_node_returns_update_the_ones_it_was_sent(grpc_node):
    frame = grpc_node(Echo(annotate_the_person)).process(rich_frame())
    labels = [o.label for o in frame.objects]
    assert labels == ["person", "night", "dog", "person"]  # the sent person is not duplicated
    person = frame.objects[0]
    assert [(a.name, a.label, a.confidence) for a in person.attributes] == [
        ("colour", "red", 0.75),
        ("helmet", "yes", 0.625),
    ]
    assert person.tracking_info is not None and person.tracking_info.tracking_id == "server-9"
    assert person.confidence == 0.5
    assert person.bbox == BBox(0.125, 0.25, 0.0625, 0.5) and person.inference_id == "detector"
    assert frame.objects[1].attributes == [] and frame.objects[1].bbox is None  # untouched
    assert frame.objects[3].bbox == BBox(0.5, 0.25, 0.0625, 0.5)
    assert [e.type for e in frame.events] == ["line_crossing", "helmet_check"]
    assert frame.events[1].related_ids == ["server-9"]
    assert frame.other_meta == {"zone:door:in": "1", "zone:door:count": "4", "helmets": "1"}


def test_a_returned_object_without_tracking_keeps_the_upstream_track(grpc_node):
    def classify(request):
        same = object_meta("person", 0.75, (0.125, 0.25, 0.0625, 0.5))
        return pb2.InsightsMeta(objects_meta=[same])

    frame = grpc_node(Echo(classify)).process(rich_frame())
    assert len(frame.objects) == 2
    assert frame.objects[0].tracking_info == TrackingInfo("7", 1.5, (0.25, -0.75))
    assert frame.objects[0].confidence == 0.75
