"""Object Tracker: ids follow objects across frames; speed and direction from their motion."""

from __future__ import annotations

import random

import numpy as np
import pytest

from designer.core.engine.frame import BBox, Frame, ObjectMeta
from designer.core.engine.nodes.tracker import TrackerRuntime
from designer.core.engine.runtime import RunContext
from designer.core.skill.catalog.process import TrackerParams

FPS = 30.0
IMAGE = np.zeros((480, 640, 3), dtype=np.uint8)
IMAGE.setflags(write=False)


def make_frame(index: int, objects: list[ObjectMeta]) -> Frame:
    return Frame(image=IMAGE, frame_id=str(index), timestamp=1_700_000_000 + index / FPS, objects=objects)


def person(left: float, top: float, *, label: str = "person", confidence: float = 0.9) -> ObjectMeta:
    return ObjectMeta(label=label, confidence=confidence, bbox=BBox(left, top, 0.1, 0.2))


def open_tracker(**params: object) -> TrackerRuntime:
    runtime = TrackerRuntime("tracker1", TrackerParams(**params), RunContext())
    runtime.open()
    return runtime


def ids(frame: Frame) -> list[str | None]:
    return [o.tracking_info.tracking_id if o.tracking_info else None for o in frame.objects]


def test_id_stays_the_same_while_an_object_moves_smoothly() -> None:
    tracker = open_tracker()
    seen = []
    for i in range(60):
        frame = tracker.process(make_frame(i, [person(0.1 + 0.005 * i, 0.3)]))
        seen.append(ids(frame)[0])
    assert seen[0] is None  # one sighting is not a track yet
    assert None not in seen[1:]
    assert len(set(seen[1:])) == 1


def test_speed_and_direction_follow_the_box_centre() -> None:
    tracker = open_tracker()
    for i in range(20):  # 0.006 of the width per frame to the right, 0.003 down: at 30 fps
        frame = tracker.process(make_frame(i, [person(0.1 + 0.006 * i, 0.2 + 0.003 * i)]))
    info = frame.objects[0].tracking_info
    assert info is not None
    assert info.speed == pytest.approx(np.hypot(0.18, 0.09), rel=1e-3)
    assert info.direction == pytest.approx((2 / np.sqrt(5), 1 / np.sqrt(5)), rel=1e-3)
    assert info.timestamp == frame.timestamp


def test_still_object_has_zero_speed() -> None:
    tracker = open_tracker()
    for i in range(5):
        frame = tracker.process(make_frame(i, [person(0.4, 0.4)]))
    info = frame.objects[0].tracking_info
    assert info is not None and info.speed == 0.0 and info.direction == (0.0, 0.0)


def test_two_objects_keep_distinct_ids_whatever_their_order_in_the_frame() -> None:
    tracker = open_tracker()
    shuffle = random.Random(4)
    by_label: dict[str, set[str]] = {"left": set(), "right": set()}
    for i in range(40):
        objects = [
            person(0.05 + 0.004 * i, 0.1, label="left"),
            person(0.85 - 0.004 * i, 0.6, label="right"),
        ]
        shuffle.shuffle(objects)
        frame = tracker.process(make_frame(i, objects))
        for obj in frame.objects:
            if i > 0:
                assert obj.tracking_info is not None
                by_label[obj.label].add(obj.tracking_info.tracking_id)
    assert len(by_label["left"]) == 1 and len(by_label["right"]) == 1
    assert by_label["left"] != by_label["right"]


def test_a_new_object_gets_a_new_id() -> None:
    tracker = open_tracker()
    for i in range(10):
        first = tracker.process(make_frame(i, [person(0.1 + 0.005 * i, 0.1)]))
    old_id = ids(first)[0]
    for i in range(10, 13):
        frame = tracker.process(make_frame(i, [person(0.1 + 0.005 * i, 0.1), person(0.6, 0.6)]))
    new_ids = ids(frame)
    assert new_ids[0] == old_id
    assert new_ids[1] is not None and new_ids[1] != old_id


def test_objects_are_never_dropped_and_unconfirmed_ones_have_no_id() -> None:
    tracker = open_tracker(track_activation_threshold=0.5)
    for i in range(5):
        objects = [
            person(0.1, 0.1),
            person(0.6, 0.6, confidence=0.2),  # too unsure to start a track
            ObjectMeta(label="scene", confidence=0.7),  # frame-level result: no box to track
        ]
        frame = tracker.process(make_frame(i, objects))
        assert [o.label for o in frame.objects] == ["person", "person", "scene"]
    assert ids(frame)[0] is not None
    assert ids(frame)[1:] == [None, None]


def test_minimum_consecutive_frames_delays_the_id() -> None:
    tracker = open_tracker(minimum_consecutive_frames=3)
    seen = [ids(tracker.process(make_frame(i, [person(0.3, 0.3)])))[0] for i in range(5)]
    assert seen[:2] == [None, None]
    assert seen[2] is not None and seen[2:] == [seen[2]] * 3


def test_lost_object_comes_back_with_its_id_within_the_buffer() -> None:
    tracker = open_tracker(lost_track_buffer=10)
    for i in range(10):
        before = tracker.process(make_frame(i, [person(0.2 + 0.005 * i, 0.2)]))
    for i in range(10, 15):  # hidden for 5 frames
        tracker.process(make_frame(i, []))
    after = tracker.process(make_frame(15, [person(0.2 + 0.005 * 15, 0.2)]))
    assert ids(after) == ids(before)


def test_changed_parameters_recreate_the_tracker_without_reusing_ids() -> None:
    tracker = open_tracker()
    before = set()
    for i in range(5):
        frame = tracker.process(make_frame(i, [person(0.1, 0.1), person(0.5, 0.5)]))
        before.update(i for i in ids(frame) if i)
    assert tracker.update(TrackerParams()) is True  # same parameters: tracks go on
    frame = tracker.process(make_frame(5, [person(0.1, 0.1), person(0.5, 0.5)]))
    assert set(ids(frame)) == before

    assert tracker.update(TrackerParams(lost_track_buffer=5)) is True
    after = set()
    for i in range(6, 10):
        frame = tracker.process(make_frame(i, [person(0.1, 0.1), person(0.5, 0.5)]))
        after.update(i for i in ids(frame) if i)
    assert len(after) == 2 and not after & before
