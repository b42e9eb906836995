"""Object Tracker: stable tracking ids across frames, with speed and direction.

Tracking is our ByteTrack (``designer.core.engine.tracking``), one step per
frame, so "lost track buffer" counts frames as the parameter says; speed and
direction come from the frames' own timestamps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from designer.core.engine.frame import Frame, ObjectMeta, TrackingInfo
from designer.core.engine.runtime import NodeRuntime, RunContext
from designer.core.engine.tracking import ByteTracker
from designer.core.skill.catalog.process import TrackerParams

# Weight of the newest velocity sample: detector boxes jitter, ids must not.
VELOCITY_SMOOTHING = 0.5


@dataclass(slots=True)
class _Motion:
    """Where a track was last seen, and its smoothed velocity (normalised units / s)."""

    cx: float
    cy: float
    timestamp: float
    frame_index: int
    vx: float = 0.0
    vy: float = 0.0
    has_velocity: bool = False


class TrackerRuntime(NodeRuntime[TrackerParams]):
    """Writes ``tracking_info`` on every object the tracker confirms; never drops objects."""

    def __init__(self, node_id: str, params: TrackerParams, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self._tracker: ByteTracker | None = None
        self._class_ids: dict[str, int] = {}
        self._motion: dict[int, _Motion] = {}
        self._frame_index = 0
        # Ids stay unique when the tracker is recreated (new parameters restart its count).
        self._id_offset = 0
        self._max_id = 0

    def open(self) -> None:
        params = self.params
        self._tracker = ByteTracker(
            track_activation_threshold=params.track_activation_threshold,
            lost_track_buffer=params.lost_track_buffer,
            minimum_matching_threshold=params.minimum_matching_threshold,
            minimum_consecutive_frames=params.minimum_consecutive_frames,
        )

    def update(self, params: TrackerParams) -> bool:
        changed = params != self.params
        self.params = params
        if changed and self._tracker is not None:
            self._id_offset = self._max_id
            self._motion.clear()
            self.open()
        return True

    def close(self) -> None:
        self._tracker = None
        self._motion.clear()

    def process(self, frame: Frame) -> Frame:
        if self._tracker is None:
            raise self.fail("the tracker is not open; the engine opens nodes before frames flow")
        self._frame_index += 1
        boxed = [obj for obj in frame.objects if obj.bbox is not None]
        for obj in boxed:
            obj.tracking_info = None
        raw_ids = self._tracker.update(*self._detections(boxed, frame.width, frame.height))
        for obj, raw_id in zip(boxed, raw_ids.tolist(), strict=True):
            if raw_id < 0:
                continue
            track_id = raw_id + self._id_offset
            self._max_id = max(self._max_id, track_id)
            obj.tracking_info = self._tracking_info(track_id, obj, frame.timestamp)
        self._forget_lost_tracks()
        return frame

    def _detections(
        self, objects: list[ObjectMeta], width: int, height: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes in pixels (IoU is not scale-free when width != height), confidences, classes."""
        xyxy = np.empty((len(objects), 4))
        for row, obj in enumerate(objects):
            box = obj.bbox
            assert box is not None
            xyxy[row] = (box.l, box.t, box.l + box.w, box.t + box.h)
        xyxy *= (width, height, width, height)
        confidence = np.array([obj.confidence for obj in objects], dtype=np.float64)
        class_id = np.array([self._class_id(obj.label) for obj in objects], dtype=np.int64)
        return xyxy, confidence, class_id

    def _class_id(self, label: str) -> int:
        return self._class_ids.setdefault(label, len(self._class_ids))

    def _tracking_info(self, track_id: int, obj: ObjectMeta, timestamp: float) -> TrackingInfo:
        box = obj.bbox
        assert box is not None
        cx, cy = box.l + box.w / 2, box.t + box.h / 2
        motion = self._motion.get(track_id)
        if motion is None:
            self._motion[track_id] = _Motion(cx, cy, timestamp, self._frame_index)
            return TrackingInfo(tracking_id=str(track_id), timestamp=timestamp)
        dt = timestamp - motion.timestamp
        if dt > 0:
            vx, vy = (cx - motion.cx) / dt, (cy - motion.cy) / dt
            if motion.has_velocity:
                vx = VELOCITY_SMOOTHING * vx + (1 - VELOCITY_SMOOTHING) * motion.vx
                vy = VELOCITY_SMOOTHING * vy + (1 - VELOCITY_SMOOTHING) * motion.vy
            motion.vx, motion.vy, motion.has_velocity = vx, vy, True
            motion.cx, motion.cy, motion.timestamp = cx, cy, timestamp
        motion.frame_index = self._frame_index
        speed = math.hypot(motion.vx, motion.vy)
        direction = (motion.vx / speed, motion.vy / speed) if speed > 0 else (0.0, 0.0)
        return TrackingInfo(str(track_id), speed=speed, direction=direction, timestamp=timestamp)

    def _forget_lost_tracks(self) -> None:
        """Drop motion state of tracks the tracker has given up on (keeps memory flat)."""
        horizon = self._frame_index - self.params.lost_track_buffer - 1
        for track_id in [t for t, m in self._motion.items() if m.frame_index < horizon]:
            del self._motion[track_id]
