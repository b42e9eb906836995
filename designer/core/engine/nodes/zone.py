"""Line Crossing / Zone: counts line crossings per direction, or objects inside a polygon.

Counting is supervision's ``LineZone`` and ``PolygonZone`` on pixel coordinates
of the current frame size (the shapes are rebuilt when the size changes).

A line crossing is a tracked object's anchor changing sides, so only objects
with ``tracking_info`` (an Object Tracker upstream) can be counted on a line;
objects without it pass through uncounted. Polygon occupancy needs no tracker.
A crossing is counted on the second frame on the new side (``CROSSING_FRAMES``).

Direction, as supervision defines it: walking the line from its first point to
its second, "in" is a crossing from the right-hand side to the left-hand side
and "out" the reverse. For the default line (left to right across the image),
"in" is moving up the image and "out" moving down.
"""

from __future__ import annotations

import re
import uuid

import numpy as np
import supervision as sv

from designer.core.engine.frame import EventMeta, Frame, ObjectMeta
from designer.core.engine.overlay import ZoneShape
from designer.core.engine.runtime import NodeRuntime, RunContext
from designer.core.skill.catalog.process import ZoneParams

ANCHORS = {
    "center": sv.Position.CENTER,
    "bottom_center": sv.Position.BOTTOM_CENTER,
    "top_center": sv.Position.TOP_CENTER,
}
# A crossing counts once the anchor has been seen on the new side this many frames in a row:
# a detector's box jittering on the line must not count one walk-through as several crossings.
CROSSING_FRAMES = 2
# Tracking ids that are not integers (from a custom node) get keys above any tracker's.
FOREIGN_ID_BASE = 1 << 40


class ZoneRuntime(NodeRuntime[ZoneParams]):
    """Counts, emits an event when a count changes, and writes the counts to ``other_meta``."""

    def __init__(self, node_id: str, params: ZoneParams, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self._size: tuple[int, int] | None = None
        self._line: sv.LineZone | None = None
        self._polygon: sv.PolygonZone | None = None
        self._foreign_ids: dict[str, int] = {}
        self.in_count = 0
        self.out_count = 0
        self.count = 0

    def open(self) -> None:
        self._check(self.params)

    def update(self, params: ZoneParams) -> bool:
        if params.cross_checks():
            return False  # the engine reopens the node, and open() names the problem
        old, new = self.params, params
        self.params = new
        if (old.roi_type, old.points, old.anchor) != (new.roi_type, new.points, new.anchor):
            self._size = None  # new shape: counting starts again
            self.in_count = self.out_count = self.count = 0
        return True

    def _check(self, params: ZoneParams) -> None:
        problems = params.cross_checks()
        if problems:
            field, message = problems[0]
            raise self.fail(f"parameter '{field}': {message} (zone '{params.name}')")

    def close(self) -> None:
        self._line = self._polygon = None
        self._size = None

    def overlay_shape(self) -> ZoneShape:
        """The zone and its current counts, for ``draw_insights``."""
        return zone_shape(self.params, self.in_count, self.out_count, self.count)

    def process(self, frame: Frame) -> Frame:
        if self._size != (frame.width, frame.height):
            self._build(frame.width, frame.height)
        labels = set(self.params.labels)
        objects = [
            obj for obj in frame.objects if obj.bbox is not None and (not labels or obj.label in labels)
        ]
        if self.params.roi_type == "LINE":
            self._count_crossings(frame, [obj for obj in objects if obj.tracking_info is not None])
        else:
            self._count_inside(frame, objects)
        return frame

    def _build(self, width: int, height: int) -> None:
        points = [(p.x * width, p.y * height) for p in self.params.points]
        anchor = ANCHORS[self.params.anchor]
        if self.params.roi_type == "LINE":
            start, end = (sv.Point(x, y) for x, y in points)
            self._line = sv.LineZone(
                start=start,
                end=end,
                triggering_anchors=(anchor,),
                minimum_crossing_threshold=CROSSING_FRAMES,
            )
        else:
            polygon = np.round(np.array(points)).astype(int)
            self._polygon = sv.PolygonZone(polygon=polygon, triggering_anchors=(anchor,))
        self._size = (width, height)

    def _count_crossings(self, frame: Frame, objects: list[ObjectMeta]) -> None:
        assert self._line is not None
        detections = self._detections(objects, frame.width, frame.height)
        detections.tracker_id = np.array([self._key(obj) for obj in objects], dtype=np.int64)
        crossed_in, crossed_out = self._line.trigger(detections)
        self.in_count += int(crossed_in.sum())
        self.out_count += int(crossed_out.sum())
        for direction, crossed in (("in", crossed_in), ("out", crossed_out)):
            if crossed.any():
                related = [_tracking_id(o) for o, hit in zip(objects, crossed, strict=True) if hit]
                frame.events.append(
                    self._event(
                        "line_crossing",
                        frame,
                        related,
                        direction=direction,
                        in_count=str(self.in_count),
                        out_count=str(self.out_count),
                    )
                )
        frame.other_meta[f"zone.{self.params.name}.in_count"] = str(self.in_count)
        frame.other_meta[f"zone.{self.params.name}.out_count"] = str(self.out_count)

    def _count_inside(self, frame: Frame, objects: list[ObjectMeta]) -> None:
        assert self._polygon is not None
        inside = self._polygon.trigger(self._detections(objects, frame.width, frame.height))
        count = int(inside.sum())
        if count != self.count:
            related = [
                _tracking_id(obj)
                for obj, hit in zip(objects, inside, strict=True)
                if hit and obj.tracking_info is not None
            ]
            frame.events.append(self._event("zone_occupancy", frame, related, count=str(count)))
        self.count = count
        frame.other_meta[f"zone.{self.params.name}.count"] = str(count)

    def _event(self, kind: str, frame: Frame, related: list[str], **properties: str) -> EventMeta:
        return EventMeta(
            type=kind,
            event_id=uuid.uuid4().hex,
            related_ids=related,
            properties={"zone": self.params.name, **properties},
            timestamp=frame.timestamp,
        )

    def _key(self, obj: ObjectMeta) -> int:
        """LineZone keys its state by integer tracker id."""
        tracking_id = _tracking_id(obj)
        if re.fullmatch(r"[0-9]{1,18}", tracking_id):
            return int(tracking_id)
        return self._foreign_ids.setdefault(tracking_id, FOREIGN_ID_BASE + len(self._foreign_ids))

    @staticmethod
    def _detections(objects: list[ObjectMeta], width: int, height: int) -> sv.Detections:
        if not objects:
            return sv.Detections.empty()
        boxes = np.array([_xyxy(obj) for obj in objects], dtype=np.float32)
        boxes *= np.array([width, height, width, height], dtype=np.float32)
        return sv.Detections(xyxy=boxes)


def _xyxy(obj: ObjectMeta) -> tuple[float, float, float, float]:
    box = obj.bbox
    assert box is not None
    return box.l, box.t, box.l + box.w, box.t + box.h


def _tracking_id(obj: ObjectMeta) -> str:
    assert obj.tracking_info is not None
    return obj.tracking_info.tracking_id


def zone_shape(params: ZoneParams, in_count: int = 0, out_count: int = 0, count: int = 0) -> ZoneShape:
    """A zone and its counts as ``draw_insights`` draws them."""
    points = tuple((p.x, p.y) for p in params.points)
    if params.roi_type == "LINE":
        return ZoneShape(points, closed=False, text=f"{params.name}: in {in_count} / out {out_count}")
    return ZoneShape(points, closed=True, text=f"{params.name}: {count}")


def zone_shape_from_meta(params: ZoneParams, other_meta: dict[str, str]) -> ZoneShape:
    """The zone with the counts a frame's ``other_meta`` carries (what ``process`` wrote there):
    the preview draws the counts of the results it shows, not those of the runtime, which runs
    on another thread."""

    def number(what: str) -> int:
        try:
            return int(other_meta.get(f"zone.{params.name}.{what}", 0))
        except ValueError:
            return 0

    return zone_shape(params, number("in_count"), number("out_count"), number("count"))
