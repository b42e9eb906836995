"""The Filter node: labels (spaces allowed) and a confidence threshold; the rest passes untouched."""

from __future__ import annotations

import numpy as np

from designer.core.engine.frame import Attribute, BBox, EventMeta, Frame, ObjectMeta
from designer.core.engine.nodes.filter import FilterRuntime
from designer.core.engine.runtime import RunContext
from designer.core.skill.catalog.process import FilterParams


def frame_with(*objects: tuple[str, float]) -> Frame:
    return Frame(
        image=np.zeros((4, 4, 3), np.uint8),
        frame_id="0",
        timestamp=0.0,
        objects=[
            ObjectMeta(
                label, confidence, BBox(0.1, 0.1, 0.2, 0.2), attributes=[Attribute("color", "red", 0.7)]
            )
            for label, confidence in objects
        ],
        events=[EventMeta("line_crossing")],
    )


def kept(labels: list[str], threshold: int, *objects: tuple[str, float]) -> list[tuple[str, float]]:
    node = FilterRuntime("f", FilterParams(labels=labels, confidence_threshold=threshold), RunContext())
    out = node.process(frame_with(*objects))
    return [(o.label, o.confidence) for o in out.objects]


def test_keeps_listed_labels_including_multi_word_ones():
    objects = [("traffic light", 0.9), ("person", 0.8), ("car", 0.7)]
    assert kept(["traffic light", "car"], 0, *objects) == [("traffic light", 0.9), ("car", 0.7)]


def test_empty_label_list_keeps_every_label():
    assert kept([], 0, ("person", 0.8), ("car", 0.1)) == [("person", 0.8), ("car", 0.1)]


def test_threshold_is_inclusive_percent():
    assert kept([], 50, ("a", 0.49), ("b", 0.5), ("c", 0.51)) == [("b", 0.5), ("c", 0.51)]


def test_events_and_attributes_pass_untouched():
    node = FilterRuntime("f", FilterParams(labels=["person"]), RunContext())
    out = node.process(frame_with(("person", 0.9), ("car", 0.9)))
    assert [e.type for e in out.events] == ["line_crossing"]
    assert out.objects[0].attributes == [Attribute("color", "red", 0.7)]
