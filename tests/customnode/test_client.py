"""The client against real SDK servers: every enum value of the contract, end to end."""

from __future__ import annotations

import numpy as np
import pytest

from designer.customnode import decode_image, encode_image, pb2

from .conftest import Recorder, make_frame, make_image

IMAGE_TYPES = [pb2.IMAGE_TYPE_NUMPY, pb2.IMAGE_TYPE_BMP, pb2.IMAGE_TYPE_JPEG]
RESPONSE_TYPES = [pb2.IMAGE_ONLY, pb2.INSIGHTS_META_ONLY, pb2.IMAGE_AND_INSIGHTS_META, pb2.EMPTY]
UPSTREAM = {
    "objects_meta": [
        {
            "timestamp": 1_700_000_000.25,
            "label": "person",
            "confidence": 0.8,
            "inference_id": "yolo",
            "attributes": [],
            "bbox": {"l": 0.1, "t": 0.1, "w": 0.2, "h": 0.5},
            "tracking_info": {"tracking_id": "p-4", "speed": 0.0, "direction": {"x": 0, "y": 0}},
        }
    ],
    "events_meta": [],
    "other_meta": {"camera": "lobby"},
}
ROI = {"name": "door", "type": "LINE", "id": "roi-1", "value": "[[0.5,0],[0.5,1]]"}


def assert_same_picture(actual: np.ndarray, expected: np.ndarray, image_type: int) -> None:
    assert actual.shape == expected.shape and actual.dtype == np.uint8
    if image_type == pb2.IMAGE_TYPE_JPEG:
        assert np.abs(actual.astype(int) - expected).mean() < 4
    else:
        np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize("response_type", RESPONSE_TYPES, ids=pb2.ProcessResponseType.Name)
@pytest.mark.parametrize("image_type", IMAGE_TYPES, ids=pb2.ImageType.Name)
def test_frames_with_image_for_every_encoding_and_response_type(serve, connect, image_type, response_type):
    node = Recorder(image_type, pb2.FRAME_WITH_IMAGE, response_type)
    client = connect(serve(node), instance_id="inst-1", skill_id="skill-1", device_id="dev-1")
    frame = make_frame("frame-9", insights=UPSTREAM, roi=ROI)

    result = client.process(frame)

    (handshake,) = node.handshakes
    assert (handshake.seq, handshake.instance_id, handshake.skill_id, handshake.device_id) == (
        1,
        "inst-1",
        "skill-1",
        "dev-1",
    )
    (request,) = node.requests
    sent = request.frame
    assert request.seq == 2
    assert (sent.frame_id, sent.timestamp.seconds, sent.timestamp.nanos) == (
        "frame-9",
        1_700_000_000,
        250_000_000,
    )
    assert sent.datetime == "2023-11-14T22:13:20.250+00:00"
    assert (sent.image.properties.height, sent.image.properties.width) == (48, 64)
    assert_same_picture(decode_image(sent.image), frame.image, image_type)
    assert [o.label for o in sent.insights_meta.objects_meta] == ["person"]
    assert sent.insights_meta.objects_meta[0].tracking_info.tracking_id == "p-4"
    assert dict(sent.insights_meta.other_meta) == {"camera": "lobby"}
    assert (sent.roi.name, sent.roi.type, sent.roi.value) == ("door", pb2.LINE, ROI["value"])

    if response_type in (pb2.IMAGE_ONLY, pb2.IMAGE_AND_INSIGHTS_META):
        assert_same_picture(result.image, frame.image[:, ::-1], image_type)
    else:
        assert result.image is None
    if response_type in (pb2.INSIGHTS_META_ONLY, pb2.IMAGE_AND_INSIGHTS_META):
        (thing,) = result.insights_meta["objects_meta"]
        assert (thing["label"], thing["confidence"]) == ("thing", 0.75)
        assert thing["bbox"] == {"l": 0.5, "t": 0.25, "w": 0.25, "h": 0.5}
        assert thing["tracking_info"]["tracking_id"] == "t-1"
        assert result.insights_meta["other_meta"] == {"node": "recorder"}
    else:
        assert result.insights_meta is None


@pytest.mark.parametrize("image_type", IMAGE_TYPES, ids=pb2.ImageType.Name)
def test_frame_without_image_sends_properties_and_metadata_but_no_pixels(serve, connect, image_type):
    node = Recorder(image_type, pb2.FRAME_WITHOUT_IMAGE, pb2.INSIGHTS_META_ONLY)
    client = connect(serve(node))

    result = client.process(make_frame(insights=UPSTREAM))

    sent = node.requests[0].frame
    assert sent.image.image_pointer == b""
    assert (sent.image.properties.height, sent.image.properties.width) == (48, 64)
    assert [o.label for o in sent.insights_meta.objects_meta] == ["person"]
    assert result.insights_meta["objects_meta"][0]["label"] == "thing"


@pytest.mark.parametrize("streaming", [True, False], ids=["stream", "unary"])
def test_seq_grows_by_one_per_frame_and_both_transports_agree(serve, connect, streaming):
    node = Recorder()
    client = connect(serve(node), streaming=streaming)
    results = [client.process(make_frame(f"f{i}")) for i in range(4)]

    assert [r.seq for r in node.requests] == [2, 3, 4, 5]
    assert [r.frame.frame_id for r in node.requests] == ["f0", "f1", "f2", "f3"]
    assert client.transport == ("stream" if streaming else "unary")
    assert node.methods == (["ProcessStream"] if streaming else [])
    for result in results:
        np.testing.assert_array_equal(result.image, make_image()[:, ::-1])


def test_rgb_images_are_handed_back_as_bgr(serve, connect):
    class RgbFlip(Recorder):
        def Process(self, request, context):
            response = super().Process(request, context)
            pixels = decode_image(response.image)
            response.image.CopyFrom(encode_image(pixels, color_format=pb2.COLOR_FORMAT_RGB))
            return response

    client = connect(serve(RgbFlip(response_type=pb2.IMAGE_ONLY)))
    np.testing.assert_array_equal(client.process(make_frame()).image, make_image()[:, ::-1])


def test_a_raw_1080p_frame_passes_both_ways_with_default_limits(serve, connect):
    client = connect(serve(Recorder(response_type=pb2.IMAGE_ONLY)), timeout=10.0)
    image = np.zeros((1080, 1920, 3), np.uint8)
    image[:, :960] = 255
    result = client.process(make_frame(image=image))
    assert result.image.shape == (1080, 1920, 3)
    assert result.image[:, 960:].min() == 255 and result.image[:, :960].max() == 0


def test_handshake_info_and_explicit_connect(serve, connect):
    client = connect(serve(Recorder(pb2.IMAGE_TYPE_JPEG, pb2.FRAME_WITHOUT_IMAGE, pb2.EMPTY)))
    assert client.handshake is None and client.transport is None
    info = client.connect()
    assert info.describe() == "IMAGE_TYPE_JPEG, FRAME_WITHOUT_IMAGE, EMPTY"
    assert client.process(make_frame()).insights_meta is None


def test_returned_images_without_properties(serve, connect):
    """Raw pixels without properties are taken at the frame's size; a file at its own."""

    class Bare(Recorder):
        def __init__(self, image_type, size):
            super().__init__(image_type, response_type=pb2.IMAGE_ONLY)
            self.size = size

        def Process(self, request, context):
            response = super().Process(request, context)
            pixels = decode_image(response.image)
            resized = np.ascontiguousarray(pixels[: self.size[0], : self.size[1]])
            response.image.CopyFrom(
                pb2.Image(image_pointer=encode_image(resized, self.image_type).image_pointer)
            )
            return response

    raw = connect(serve(Bare(pb2.IMAGE_TYPE_NUMPY, (48, 64)))).process(make_frame())
    np.testing.assert_array_equal(raw.image, make_image()[:, ::-1])
    crop = connect(serve(Bare(pb2.IMAGE_TYPE_BMP, (20, 30)))).process(make_frame())
    np.testing.assert_array_equal(crop.image, make_image()[:20, ::-1][:, :30])
