"""Track ids: one per object, unique among live tracks, never reused, however many start at once.

Users count objects by their ids (line crossings, dwell times, "people seen today"): two objects
sharing an id merge into one count, so these tests give several objects their first sighting
on the same frame, where the id counter has to hand out several ids in one step.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.core.engine.frame import BBox, Frame, ObjectMeta
from designer.core.engine.nodes.tracker import TrackerRuntime
from designer.core.engine.runtime import RunContext
from designer.core.engine.tracking import ByteTracker
from designer.core.skill.catalog.process import TrackerParams

SLOTS = 9  # objects live on a 3 x 3 grid of far-apart places, so no two can be confused


def slot_box(slot: int, frame: int) -> list[float]:
    """The box of the object in ``slot`` on ``frame``: 40 x 80 px, drifting 2 px a frame."""
    x = 20 + 200 * (slot % 3) + 2 * frame
    y = 20 + 200 * (slot // 3) + frame
    return [x, y, x + 40, y + 80]


def update(tracker: ByteTracker, slots: list[int], frame: int) -> list[int]:
    boxes = np.array([slot_box(s, frame) for s in slots], dtype=float).reshape(-1, 4)
    return tracker.update(boxes, np.full(len(slots), 0.9), np.zeros(len(slots), dtype=int)).tolist()


def live_ids(tracker: ByteTracker) -> list[int]:
    """Ids of every confirmed track the tracker keeps, the lost ones included."""
    ids = tracker._tracks.track_id  # white-box: lost tracks are invisible in one frame's output
    return ids[ids >= 0].tolist()


@pytest.mark.parametrize("count", [2, 3, 5])
@pytest.mark.parametrize("consecutive", [1, 3])
def test_objects_that_appear_together_get_distinct_ids(count: int, consecutive: int) -> None:
    tracker = ByteTracker(minimum_consecutive_frames=consecutive)
    slots = list(range(count))
    frames = [update(tracker, slots, f) for f in range(max(consecutive, 2) + 2)]
    assert frames[0] == [-1] * count  # a first sighting gives no id
    confirmed = frames[-1]
    assert sorted(confirmed) == list(range(1, count + 1))
    assert all(f == confirmed for f in frames[max(consecutive, 2) :])  # and they keep them


def test_ids_stay_unique_among_live_tracks_while_objects_hide_and_new_ones_arrive() -> None:
    tracker = ByteTracker(lost_track_buffer=10)
    for f in range(3):
        first = update(tracker, [0, 1, 2], f)
    for f in range(3, 6):  # 0 and 1 hide (lost, kept); 3, 4 and 5 arrive together
        update(tracker, [2, 3, 4, 5], f)
    assert sorted(live_ids(tracker)) == [1, 2, 3, 4, 5, 6]
    back = update(tracker, [0, 1, 2, 3, 4, 5], 6)  # the hidden ones come back with their ids
    assert back[:3] == first and sorted(back) == [1, 2, 3, 4, 5, 6]


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sets(st.integers(0, SLOTS - 1)), min_size=2, max_size=25),
    st.integers(1, 3),
    st.integers(1, 4),
)
def test_whatever_comes_and_goes_an_id_is_one_object_and_never_reused(
    scene: list[set[int]], consecutive: int, buffer: int
) -> None:
    """Objects in fixed far-apart places appear and vanish at random, several at once: every
    id seen belongs to one place, ids are unique among live tracks, and a new id is always
    higher than every id given before (never reused)."""
    tracker = ByteTracker(lost_track_buffer=buffer, minimum_consecutive_frames=consecutive)
    owner: dict[int, int] = {}  # id -> slot
    highest = 0
    for f, present in enumerate(scene):
        slots = sorted(present)
        ids = update(tracker, slots, f)
        given_ids = [i for i in ids if i >= 0]
        assert len(given_ids) == len(set(given_ids))
        for slot, track_id in zip(slots, ids, strict=True):
            if track_id < 0:
                continue
            if track_id not in owner:
                assert track_id > highest, f"frame {f}: id {track_id} given after {highest}"
                highest = track_id
            assert owner.setdefault(track_id, slot) == slot, f"frame {f}: id {track_id} moved"
        live = live_ids(tracker)
        assert len(live) == len(set(live)), f"frame {f}: live tracks share an id: {live}"


def test_the_tracker_node_gives_people_who_enter_close_together_distinct_tracking_ids() -> None:
    """Two people enter together and a third one frame later: three ids, not [1, 2, 2]."""
    runtime = TrackerRuntime("tracker1", TrackerParams(), RunContext())
    runtime.open()
    image = np.zeros((480, 640, 3), np.uint8)
    for i in range(5):
        people = [
            ObjectMeta(label="person", confidence=0.9, bbox=BBox(0.05 + 0.3 * k + 0.002 * i, 0.2, 0.1, 0.3))
            for k in range(3 if i else 2)
        ]
        frame = runtime.process(Frame(image=image, frame_id=str(i), timestamp=1.0 + i / 30, objects=people))
    tracking = [o.tracking_info.tracking_id for o in frame.objects if o.tracking_info]
    assert len(tracking) == 3 and len(set(tracking)) == 3


@pytest.mark.parametrize(("confidence", "keeps_id"), [(0.15, True), (0.1, False)])
def test_a_weak_sighting_keeps_the_id_unless_it_is_at_the_background_floor(
    confidence: float, keeps_id: bool
) -> None:
    """ByteTrack's floor (0.1, the paper's): weaker boxes are background, stronger ones may
    continue a track (an occluded person at 15 % keeps their id, and is counted once)."""
    tracker = ByteTracker(track_activation_threshold=0.5)
    for f in range(3):
        (tracked,) = update(tracker, [0], f)
    boxes = np.array([slot_box(0, 3)], dtype=float)
    (weak,) = tracker.update(boxes, np.array([confidence]), np.zeros(1, dtype=int)).tolist()
    assert weak == (tracked if keeps_id else -1)
