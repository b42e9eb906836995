"""The sample nodes, through our client and through a POSS-style client."""

from __future__ import annotations

import re
from pathlib import Path

import grpc
import numpy as np
import pytest

from designer.cli import main
from designer.customnode import custom_node_pb2, custom_node_pb2_grpc, pb2
from designer.customnode.samples import SAMPLES, BoxCounter, FakeDetection, Flip

from .conftest import make_frame, make_image


def test_fake_detection_is_the_poss_sample(serve, connect):
    client = connect(serve(FakeDetection()))
    result = client.process(make_frame())
    assert client.handshake.describe() == "IMAGE_TYPE_NUMPY, FRAME_WITH_IMAGE, INSIGHTS_META_ONLY"
    (car,) = result.insights_meta["objects_meta"]
    assert (car["label"], car["confidence"]) == ("car", 0.9)
    assert car["bbox"] == {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4}
    assert car["timestamp"] == make_frame().timestamp
    assert result.image is None


def test_flip_mirrors_the_frame_in_every_encoding(serve, connect):
    for image_type in (pb2.IMAGE_TYPE_NUMPY, pb2.IMAGE_TYPE_BMP, pb2.IMAGE_TYPE_JPEG):
        client = connect(serve(Flip(image_type)))
        result = client.process(make_frame())
        assert result.insights_meta is None
        error = np.abs(result.image.astype(int) - make_image()[:, ::-1]).mean()
        assert error < (4 if image_type == pb2.IMAGE_TYPE_JPEG else 1e-9)


def test_box_counter_counts_upstream_objects_without_receiving_pixels(serve, connect):
    client = connect(serve(BoxCounter()))
    upstream = {
        "objects_meta": [
            {"label": "person", "tracking_info": {"tracking_id": "p1"}},
            {"label": "person", "tracking_info": {"tracking_id": "p2"}},
            {"label": "car"},
        ],
    }
    result = client.process(make_frame("f7", insights=upstream))
    assert client.handshake.process_request_type == pb2.FRAME_WITHOUT_IMAGE
    (event,) = result.insights_meta["events_meta"]
    assert event["type"] == "box_count" and event["event_id"] == "f7-box-count"
    assert event["properties"] == {"count": "3", "count.car": "1", "count.person": "2"}
    assert event["related_ids"] == ["p1", "p2"]
    assert result.insights_meta["objects_meta"] == []


def test_a_poss_style_client_works_against_our_sdk(serve):
    """A client written like POSS's: plain stubs, unary calls, raw numpy bytes."""
    server = serve(FakeDetection())
    with grpc.insecure_channel(f"127.0.0.1:{server.port}") as channel:
        stub = custom_node_pb2_grpc.CustomNodeHandlerStub(channel)
        handshake = stub.Handshake(custom_node_pb2.HandshakeRequest(seq=1, instance_id="i"))
        assert handshake.ack == 1
        assert handshake.image_type == custom_node_pb2.IMAGE_TYPE_NUMPY
        image = make_image()
        for seq in (2, 3):
            frame = custom_node_pb2.Frame(
                image=custom_node_pb2.Image(
                    image_pointer=image.tobytes(),
                    properties=custom_node_pb2.ImageProperties(height=48, width=64),
                ),
                frame_id="0",
                datetime="2000-01-01T00:00:00",
            )
            response = stub.Process(custom_node_pb2.ProcessRequest(seq=seq, frame=frame))
            assert response.ack == seq
            assert [o.label for o in response.insights_meta.objects_meta] == ["car"]


ROOT = Path(__file__).resolve().parents[2]
DOCUMENTED = re.compile(r"serve-sample ([a-z-]+)[^\n]*?port (\d+)")


def test_samples_have_their_documented_ports(capsys):
    """What the README and the custom-node guide promise: ``serve-sample NAME`` listens on the
    port they name, and ``serve-sample --help`` lists every sample with its port."""
    documented = {
        (name, int(port))
        for doc in (ROOT / "README.md", ROOT / "docs" / "custom-nodes.md")
        for name, port in DOCUMENTED.findall(doc.read_text(encoding="utf-8"))
    }
    assert ("fake-detection", 6677) in documented  # the POSS sample's port
    for name, port in documented:
        assert name in SAMPLES, f"the docs name a sample {name!r} that does not exist"
        assert SAMPLES[name].default_port == port, name
    with pytest.raises(SystemExit) as done:
        main(["serve-sample", "--help"])
    assert done.value.code == 0
    help_text = "".join(capsys.readouterr().out.split())  # however argparse wraps it
    for name, sample in SAMPLES.items():
        assert "".join(f"{name}: {sample.summary}, port {sample.default_port}".split()) in help_text


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_listed_sample_answers_frames_as_its_handshake_declares(serve, connect, name):
    client = connect(serve(SAMPLES[name].factory(pb2.IMAGE_TYPE_NUMPY)))
    result = client.process(make_frame(insights={"objects_meta": [{"label": "person"}]}))
    response_type = client.handshake.process_response_type
    assert (result.image is not None) == (response_type in (pb2.IMAGE_ONLY, pb2.IMAGE_AND_INSIGHTS_META))
    assert (result.insights_meta is not None) == (
        response_type in (pb2.INSIGHTS_META_ONLY, pb2.IMAGE_AND_INSIGHTS_META)
    )
