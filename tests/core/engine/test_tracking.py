"""ByteTrack core: ids follow objects through motion, crossings, occlusion and weak detections."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.core.engine.tracking import ByteTracker

PERSON, CAR = 0, 1


def box(x: float, y: float, w: float = 40, h: float = 80) -> list[float]:
    return [x, y, x + w, y + h]


def step(
    tracker: ByteTracker,
    boxes: list[list[float]],
    confidence: float | list[float] = 0.9,
    class_id: int | list[int] = PERSON,
) -> list[int]:
    n = len(boxes)
    conf = np.broadcast_to(np.asarray(confidence, dtype=float), (n,))
    cls = np.broadcast_to(np.asarray(class_id), (n,))
    return tracker.update(np.asarray(boxes, dtype=float).reshape(-1, 4), conf, cls).tolist()


def test_a_smooth_mover_keeps_one_id() -> None:
    tracker = ByteTracker()
    seen = [step(tracker, [box(100 + 6 * i, 200 + 2 * i)])[0] for i in range(60)]
    assert seen[0] == -1  # a single sighting is not a track yet
    assert seen[1] >= 1 and seen[1:] == [seen[1]] * 59


@pytest.mark.parametrize("b_first", [False, True])
def test_crossing_objects_keep_distinct_ids_through_the_crossing(b_first: bool) -> None:
    """A moves right, B left, their boxes overlap heavily for several frames on the way."""
    tracker = ByteTracker()
    a_ids, b_ids, overlapping = [], [], 0
    for i in range(50):
        a, b = box(100 + 8 * i, 300), box(500 - 8 * i, 315)
        overlapping += abs(a[0] - b[0]) < 20  # IoU 0.3 to 0.7
        ids = step(tracker, [b, a] if b_first else [a, b])
        a_id, b_id = (ids[1], ids[0]) if b_first else (ids[0], ids[1])
        a_ids.append(a_id)
        b_ids.append(b_id)
    assert overlapping >= 3
    assert set(a_ids[1:]) == {a_ids[1]} and set(b_ids[1:]) == {b_ids[1]}
    assert a_ids[1] != b_ids[1] and -1 not in (a_ids[1], b_ids[1])


def test_an_occluded_object_gets_its_id_back_within_the_buffer() -> None:
    tracker = ByteTracker(lost_track_buffer=30)
    for i in range(20):
        before = step(tracker, [box(100 + 5 * i, 200)])[0]
    for _ in range(20, 30):  # hidden for 10 frames, still moving
        step(tracker, [])
    after = [step(tracker, [box(100 + 5 * i, 200)])[0] for i in range(30, 33)]
    assert before >= 1 and after == [before] * 3


def test_an_object_missing_longer_than_the_buffer_gets_a_new_id() -> None:
    tracker = ByteTracker(lost_track_buffer=5)
    for _ in range(10):
        old = step(tracker, [box(300, 200)])[0]
    for _ in range(6):  # one frame more than the buffer
        step(tracker, [])
    back = [step(tracker, [box(300, 200)])[0] for _ in range(3)]
    assert back[0] == -1  # starts over as a new, unconfirmed track
    assert back[1] > old and back[1:] == [back[1]] * 2


def test_an_object_missing_exactly_the_buffer_keeps_its_id() -> None:
    tracker = ByteTracker(lost_track_buffer=5)
    for _ in range(10):
        old = step(tracker, [box(300, 200)])[0]
    for _ in range(5):
        step(tracker, [])
    assert step(tracker, [box(300, 200)]) == [old]


def test_low_confidence_boxes_continue_a_track_but_never_start_one() -> None:
    tracker = ByteTracker(track_activation_threshold=0.5)
    for i in range(5):
        ids = step(tracker, [box(100 + 4 * i, 100), box(500, 400)], confidence=[0.9, 0.3])
    tracked = ids[0]
    assert tracked >= 1 and ids[1] == -1
    for i in range(5, 15):  # the tracked object fades to low confidence (occluded, blurred)
        ids = step(tracker, [box(100 + 4 * i, 100), box(500, 400)], confidence=0.3)
        assert ids == [tracked, -1]


def test_boxes_under_the_confidence_floor_are_ignored() -> None:
    tracker = ByteTracker(track_activation_threshold=0.5)
    for _ in range(3):
        tracked = step(tracker, [box(200, 200)])[0]
    assert step(tracker, [box(200, 200)], confidence=0.05) == [-1]
    assert step(tracker, [box(200, 200)]) == [tracked]  # lost for a frame, not forgotten


@pytest.mark.parametrize("frames", [1, 2, 4])
def test_minimum_consecutive_frames_delays_the_id(frames: int) -> None:
    tracker = ByteTracker(minimum_consecutive_frames=frames)
    seen = [step(tracker, [box(200, 200)])[0] for _ in range(6)]
    first = max(frames, 2) - 1  # the frame a track is confirmed on (never its first)
    assert seen[:first] == [-1] * first
    assert seen[first] >= 1 and seen[first:] == [seen[first]] * (6 - first)


def test_an_unconfirmed_track_that_misses_a_frame_starts_counting_again() -> None:
    tracker = ByteTracker(minimum_consecutive_frames=3)
    seen = [step(tracker, [box(200, 200)])[0] for _ in range(2)]
    step(tracker, [])
    seen += [step(tracker, [box(200, 200)])[0] for _ in range(3)]
    assert seen[:4] == [-1] * 4 and seen[4] >= 1


def test_a_box_of_another_class_does_not_inherit_the_id() -> None:
    tracker = ByteTracker()
    for _ in range(5):
        person = step(tracker, [box(200, 200)], class_id=PERSON)[0]
    car = [step(tracker, [box(200, 200)], class_id=CAR)[0] for _ in range(3)]
    assert car[0] == -1 and car[1] >= 1 and car[1] != person


def test_ids_are_unique_and_increasing() -> None:
    tracker = ByteTracker(lost_track_buffer=1)
    given = []
    for round_ in range(4):  # each round a new object far from the last, the last one lost
        for _ in range(3):
            ids = step(tracker, [box(50 + 150 * round_, 100)])
        given.append(ids[0])
        step(tracker, [])
        step(tracker, [])
    assert given == sorted(set(given)) and given[0] == 1


def test_a_box_without_area_is_not_tracked_and_disturbs_nothing() -> None:
    tracker = ByteTracker()
    for _ in range(4):
        ids = step(tracker, [box(100, 100), [300, 300, 300, 380], [np.nan, 0, 10, 10]])
    assert ids[0] >= 1 and ids[1:] == [-1, -1]


def test_bad_input_and_parameters_say_what_is_wrong() -> None:
    tracker = ByteTracker()
    with pytest.raises(ValueError, match="2 boxes, 1 confidences"):
        tracker.update(np.zeros((2, 4)), np.ones(1), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="lost_track_buffer"):
        ByteTracker(lost_track_buffer=0)
    with pytest.raises(ValueError, match="minimum_matching_threshold"):
        ByteTracker(minimum_matching_threshold=1.5)


def test_a_weak_duplicate_box_of_a_tracked_object_gets_no_id() -> None:
    tracker = ByteTracker()
    for _ in range(3):
        tracked = step(tracker, [box(200, 200)])[0]
    # a detector's leftover: the same object boxed again, weaker, a few pixels off
    assert step(tracker, [box(200, 200), box(203, 202)], confidence=[0.9, 0.2]) == [tracked, -1]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.lists(
            st.tuples(
                st.floats(0, 60),
                st.floats(0, 60),
                st.floats(0, 60),
                st.floats(0, 60),
                st.sampled_from([0.05, 0.2, 0.9]),
                st.integers(0, 1),
            ),
            max_size=6,
        ),
        min_size=1,
        max_size=12,
    )
)
def test_whatever_the_detections_no_two_boxes_of_a_frame_share_an_id(frames: list) -> None:
    """Crowded, overlapping, degenerate boxes of mixed confidence: ids stay one per object."""
    tracker = ByteTracker()
    for detections in frames:
        rows = np.array([(x, y, x + w, y + h) for x, y, w, h, _, _ in detections]).reshape(-1, 4)
        conf = np.array([d[4] for d in detections], dtype=float)
        cls = np.array([d[5] for d in detections], dtype=int)
        ids = tracker.update(rows, conf, cls)
        given = ids[ids >= 0].tolist()
        assert len(ids) == len(detections) and len(given) == len(set(given))
