"""Insights dicts (the POSS JSON shape) <-> contract messages."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.customnode import (
    event_from_proto,
    event_to_proto,
    insights_from_proto,
    insights_to_proto,
    object_from_proto,
    object_meta,
    object_to_proto,
    pb2,
    roi_from_proto,
    roi_to_proto,
)
from designer.customnode.insights import clip_bbox, set_timestamp, timestamp_seconds

CAR = {
    "timestamp": 1_700_000_000.5,
    "label": "car",
    "confidence": 0.9,
    "inference_id": "det-1",
    "attributes": [{"name": "colour", "label": "red", "confidence": 0.7}],
    "bbox": {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4},
    "tracking_info": {"tracking_id": "7", "speed": 1.5, "direction": {"x": 0.6, "y": -0.8}},
}
CROSSING = {
    "timestamp": 1_700_000_001.0,
    "type": "line_crossing",
    "event_id": "e-1",
    "related_ids": ["7"],
    "properties": {"line": "gate", "direction": "in"},
}


def test_object_round_trips_with_float32_noise_rounded_away():
    assert object_from_proto(object_to_proto(CAR)) == CAR


def test_object_without_tracking_has_no_tracking_info():
    plain = {k: v for k, v in CAR.items() if k != "tracking_info"}
    assert "tracking_info" not in object_from_proto(object_to_proto(plain))


def test_missing_keys_take_defaults():
    obj = object_from_proto(object_to_proto({"label": "person"}))
    assert obj["label"] == "person" and obj["confidence"] == 0.0
    assert "bbox" not in obj  # an object without a box is not a zero-size box at (0, 0)


def test_event_round_trips():
    assert event_from_proto(event_to_proto(CROSSING)) == CROSSING


def test_insights_round_trip_and_none_is_empty():
    insights = {"objects_meta": [CAR], "events_meta": [CROSSING], "other_meta": {"fps": "15"}}
    assert insights_from_proto(insights_to_proto(insights)) == insights
    assert insights_from_proto(insights_to_proto(None)) == {
        "objects_meta": [],
        "events_meta": [],
        "other_meta": {},
    }


def test_roi_round_trips_and_unknown_types_are_refused():
    roi = {"name": "gate", "type": "POLYGON", "id": "r1", "value": "[[0,0],[1,0],[1,1]]"}
    assert roi_to_proto(roi).type == pb2.POLYGON
    assert roi_from_proto(roi_to_proto(roi)) == roi
    with pytest.raises(ValueError, match="'CIRCLE' is not LINE or POLYGON"):
        roi_to_proto({**roi, "type": "CIRCLE"})


def test_timestamps_keep_sub_second_precision():
    message = pb2.Timestamp()
    set_timestamp(message, 1_700_000_000.123456)
    assert (message.seconds, message.nanos // 1000) == (1_700_000_000, 123456)
    assert math.isclose(timestamp_seconds(message), 1_700_000_000.123456, abs_tol=1e-6)


def test_object_meta_from_pixel_boxes_is_normalised():
    message = object_meta("dog", 0.5, (64, 48, 32, 24), image_size=(640, 480), tracking_id="3")
    obj = object_from_proto(message)
    assert obj["bbox"] == {"l": 0.1, "t": 0.1, "w": 0.05, "h": 0.05}
    assert obj["tracking_info"]["tracking_id"] == "3"


def test_object_meta_from_normalised_boxes_keeps_them():
    obj = object_from_proto(object_meta("car", 0.9, (0.1, 0.2, 0.3, 0.4)))
    assert obj["bbox"] == {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4}
    with pytest.raises(ValueError, match="image_size"):
        object_meta("car", 0.9, (1, 2, 3, 4), image_size=(0, 480))


@pytest.mark.parametrize(
    ("box", "clipped"),
    [
        ({"l": -0.1, "t": 0.5, "w": 0.3, "h": 0.7}, {"l": 0.0, "t": 0.5, "w": 0.2, "h": 0.5}),
        ({"l": 0.9, "t": 0.9, "w": 0.5, "h": 0.5}, {"l": 0.9, "t": 0.9, "w": 0.1, "h": 0.1}),
        ({"l": 1.5, "t": -2.0, "w": 0.5, "h": 0.5}, {"l": 1.0, "t": 0.0, "w": 0.0, "h": 0.0}),
    ],
)
def test_boxes_outside_the_frame_are_clipped_into_it(box, clipped):
    assert clip_bbox(box) is True
    assert box == pytest.approx(clipped)


def test_boxes_inside_are_left_alone_and_nan_is_refused():
    box = {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4}
    assert clip_bbox(box) is False
    with pytest.raises(ValueError, match="non-finite"):
        clip_bbox({"l": math.nan, "t": 0.0, "w": 0.1, "h": 0.1})


_unit = st.integers(0, 10_000).map(lambda n: n / 10_000)  # 4 decimals: exact through float32
_text = st.text(max_size=12)
_objects = st.fixed_dictionaries(
    {
        "timestamp": st.integers(0, 4_000_000_000).map(float),
        "label": _text,
        "confidence": _unit,
        "inference_id": _text,
        "attributes": st.lists(
            st.fixed_dictionaries({"name": _text, "label": _text, "confidence": _unit}),
            max_size=3,
        ),
        "bbox": st.fixed_dictionaries({"l": _unit, "t": _unit, "w": _unit, "h": _unit}),
    }
)
_events = st.fixed_dictionaries(
    {
        "timestamp": st.integers(0, 4_000_000_000).map(float),
        "type": _text,
        "event_id": _text,
        "related_ids": st.lists(_text, max_size=3),
        "properties": st.dictionaries(_text, _text, max_size=3),
    }
)


@settings(max_examples=60, deadline=None)
@given(
    st.fixed_dictionaries(
        {
            "objects_meta": st.lists(_objects, max_size=4),
            "events_meta": st.lists(_events, max_size=3),
            "other_meta": st.dictionaries(_text, _text, max_size=3),
        }
    )
)
def test_any_insights_survive_the_wire(insights):
    wire = insights_to_proto(insights).SerializeToString()
    assert insights_from_proto(pb2.InsightsMeta.FromString(wire)) == insights
