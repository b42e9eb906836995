"""Line Crossing / Zone: crossings counted once per direction, occupancy counted and announced."""

from __future__ import annotations

import numpy as np
import pytest

from designer.core.engine.frame import BBox, Frame, ObjectMeta
from designer.core.engine.nodes.tracker import TrackerRuntime
from designer.core.engine.nodes.zone import ZoneRuntime
from designer.core.engine.runtime import NodeError, RunContext
from designer.core.skill.catalog.process import Point, TrackerParams, ZoneParams

SQUARE = [
    Point(x=0.25, y=0.25),
    Point(x=0.75, y=0.25),
    Point(x=0.75, y=0.75),
    Point(x=0.25, y=0.75),
]


def make_frame(index: int, objects: list[ObjectMeta], size: tuple[int, int] = (640, 480)) -> Frame:
    image = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    return Frame(image=image, frame_id=str(index), timestamp=1_700_000_000 + index / 30, objects=objects)


def box(left: float, top: float, *, label: str = "person") -> ObjectMeta:
    return ObjectMeta(label=label, confidence=0.9, bbox=BBox(left, top, 0.1, 0.2))


class Chain:
    """Tracker then zone, as a skill wires them."""

    def __init__(self, tracked: bool = True, **zone_params: object) -> None:
        self.tracker = TrackerRuntime("tracker1", TrackerParams(), RunContext()) if tracked else None
        self.zone = ZoneRuntime("zone1", ZoneParams(name="door", **zone_params), RunContext())
        if self.tracker:
            self.tracker.open()
        self.zone.open()
        self.index = 0

    def run(self, objects: list[ObjectMeta], size: tuple[int, int] = (640, 480)) -> Frame:
        frame = make_frame(self.index, objects, size)
        self.index += 1
        if self.tracker:
            frame = self.tracker.process(frame)
        return self.zone.process(frame)

    def walk(self, tops: np.ndarray, left: float = 0.45, **kwargs: object) -> list[Frame]:
        return [self.run([box(left, float(top), **kwargs)]) for top in tops]


def crossings(frames: list[Frame]) -> list[tuple[int, dict[str, str]]]:
    return [
        (n, event.properties)
        for n, frame in enumerate(frames)
        for event in frame.events
        if event.type == "line_crossing"
    ]


def test_an_object_crossing_the_line_once_each_way_is_counted_once_per_direction() -> None:
    chain = Chain()
    down = chain.walk(np.linspace(0.05, 0.7, 60))  # bottom edge goes from 0.25 to 0.9
    up = chain.walk(np.linspace(0.7, 0.05, 60))
    events = crossings(down + up)
    assert [e["direction"] for _, e in events] == ["out", "in"]
    assert events[0][1] == {"zone": "door", "direction": "out", "in_count": "0", "out_count": "1"}
    assert events[1][1] == {"zone": "door", "direction": "in", "in_count": "1", "out_count": "1"}
    assert (chain.zone.in_count, chain.zone.out_count) == (1, 1)
    last = up[-1].other_meta
    assert last["zone.door.in_count"] == "1" and last["zone.door.out_count"] == "1"


def test_a_box_jittering_on_the_line_is_still_one_crossing() -> None:
    chain = Chain()
    bottoms = [0.44, 0.46, 0.48, 0.51, 0.49, 0.52, 0.495, 0.53, 0.55, 0.57, 0.6, 0.65, 0.7]
    frames = chain.walk(np.array(bottoms) - 0.2)
    assert [e["direction"] for _, e in crossings(frames)] == ["out"]
    assert (chain.zone.in_count, chain.zone.out_count) == (0, 1)


def test_crossing_event_names_the_tracked_object() -> None:
    chain = Chain()
    frames = chain.walk(np.linspace(0.05, 0.7, 40))
    ((n, _),) = crossings(frames)
    event = next(e for e in frames[n].events if e.type == "line_crossing")
    assert event.related_ids == [frames[n].objects[0].tracking_info.tracking_id]
    assert event.event_id and event.timestamp == frames[n].timestamp


def test_two_objects_crossing_are_both_counted() -> None:
    chain = Chain()
    for top in np.linspace(0.05, 0.7, 40):
        frame = chain.run([box(0.1, float(top)), box(0.7, float(top) + 0.02)])
    assert (chain.zone.in_count, chain.zone.out_count) == (0, 2)
    assert frame.other_meta["zone.door.out_count"] == "2"


def test_anchor_decides_when_the_crossing_happens() -> None:
    tops = np.linspace(0.05, 0.7, 66)  # 0.01 per frame; box height 0.2
    bottom = crossings(Chain(anchor="bottom_center").walk(tops))
    top = crossings(Chain(anchor="top_center").walk(tops))
    centre = crossings(Chain(anchor="center").walk(tops))
    assert len(bottom) == len(top) == len(centre) == 1
    # the bottom edge reaches y=0.5 when top=0.3, the centre at 0.4, the top edge at 0.5;
    # the count comes on the second frame past the line
    assert tops[bottom[0][0]] == pytest.approx(0.3 + 0.01, abs=0.011)
    assert tops[centre[0][0]] == pytest.approx(0.4 + 0.01, abs=0.011)
    assert tops[top[0][0]] == pytest.approx(0.5 + 0.01, abs=0.011)


def test_only_listed_labels_are_counted() -> None:
    chain = Chain(labels=["person"])
    for top in np.linspace(0.05, 0.7, 40):
        chain.run([box(0.1, float(top), label="car"), box(0.7, float(top), label="person")])
    assert (chain.zone.in_count, chain.zone.out_count) == (0, 1)


def test_untracked_objects_cannot_cross_a_line() -> None:
    chain = Chain(tracked=False)
    frames = chain.walk(np.linspace(0.05, 0.7, 40))
    assert crossings(frames) == []
    assert [len(f.objects) for f in frames] == [1] * 40  # they still pass through


def test_points_are_normalised_to_any_frame_size() -> None:
    chain = Chain(points=[Point(x=0.5, y=0.0), Point(x=0.5, y=1.0)])  # a vertical line
    for left in np.linspace(0.1, 0.8, 40):
        chain.run([box(float(left), 0.4)], size=(1920, 1080))
    for left in np.linspace(0.8, 0.1, 40):
        chain.run([box(float(left), 0.4)], size=(320, 240))
    assert chain.zone.in_count + chain.zone.out_count == 2
    assert chain.zone.in_count == chain.zone.out_count == 1


def occupancy(frames: list[Frame]) -> list[tuple[int, str]]:
    return [
        (n, event.properties["count"])
        for n, frame in enumerate(frames)
        for event in frame.events
        if event.type == "zone_occupancy"
    ]


def test_polygon_counts_objects_inside_and_announces_changes() -> None:
    chain = Chain(tracked=False, roi_type="POLYGON", points=SQUARE, anchor="center")
    scenes = [
        [box(0.0, 0.0)],  # outside
        [box(0.4, 0.4)],  # one inside
        [box(0.4, 0.4)],  # no change: no event
        [box(0.4, 0.4), box(0.3, 0.3), box(0.8, 0.8)],  # two inside, one outside
        [],  # empty
    ]
    frames = [chain.run(objects) for objects in scenes]
    assert [f.other_meta["zone.door.count"] for f in frames] == ["0", "1", "1", "2", "0"]
    assert occupancy(frames) == [(1, "1"), (3, "2"), (4, "0")]
    assert all(e.properties["zone"] == "door" for f in frames for e in f.events)


def test_polygon_occupancy_names_tracked_objects_and_restarts_for_a_new_shape() -> None:
    chain = Chain(roi_type="POLYGON", points=SQUARE, anchor="center")
    scene = [box(0.5, 0.3), box(0.85, 0.0)]  # centres (0.55, 0.4) inside, (0.9, 0.1) outside
    frames = [chain.run(scene) for _ in range(3)]
    assert occupancy(frames) == [(0, "1")]
    assert chain.zone.update(ZoneParams(name="door", roi_type="POLYGON", points=SQUARE, anchor="center"))
    assert chain.run(scene).events == []  # same shape: counting goes on

    triangle = SQUARE[:3]
    assert chain.zone.update(ZoneParams(name="door", roi_type="POLYGON", points=triangle, anchor="center"))
    frame = chain.run(scene)
    (event,) = frame.events
    inside = frame.objects[0].tracking_info.tracking_id
    assert event.properties == {"zone": "door", "count": "1"}
    assert event.related_ids == [inside]


def test_polygon_respects_labels() -> None:
    chain = Chain(tracked=False, roi_type="POLYGON", points=SQUARE, labels=["car"], anchor="center")
    frame = chain.run([box(0.4, 0.4, label="person"), box(0.45, 0.4, label="car")])
    assert frame.other_meta["zone.door.count"] == "1"


def test_wrong_number_of_points_is_a_clear_error() -> None:
    zone = ZoneRuntime("zone7", ZoneParams(roi_type="POLYGON", name="lobby"), RunContext())
    with pytest.raises(NodeError, match=r"zone7.*'points'.*polygon needs at least 3"):
        zone.open()


def test_overlay_shape_carries_the_counts() -> None:
    chain = Chain()
    chain.walk(np.linspace(0.05, 0.7, 40))
    shape = chain.zone.overlay_shape()
    assert shape.closed is False and shape.points == ((0.0, 0.5), (1.0, 0.5))
    assert shape.text == "door: in 0 / out 1"


def test_a_bad_shape_while_running_is_left_to_a_reopen_that_names_the_problem() -> None:
    chain = Chain()
    chain.walk(np.linspace(0.05, 0.7, 40))
    bad = ZoneParams(name="door", points=[Point(x=0.2, y=0.2), Point(x=0.2, y=0.2)])
    assert chain.zone.update(bad) is False
    chain.walk(np.linspace(0.7, 0.05, 40))  # until the engine reopens it, the zone counts on
    assert (chain.zone.in_count, chain.zone.out_count) == (1, 1)
    with pytest.raises(NodeError, match=r"zone1.*'points'.*2 different points"):
        ZoneRuntime("zone1", bad, RunContext()).open()
