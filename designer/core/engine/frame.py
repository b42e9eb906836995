"""Frames and their insights, and the insight message in the exact shape POSS sent.

Images are shared, never copied per hop: sources hand out read-only arrays,
so a node that changes pixels must put a new array on the frame. Insights
are small and are copied when a frame fans out to several branches.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np


@dataclass(slots=True)
class BBox:
    """Normalised to the frame: l, t = top-left corner; w, h = size; all in [0, 1]."""

    l: float  # noqa: E741 -- the wire name
    t: float
    w: float
    h: float


@dataclass(slots=True)
class Attribute:
    name: str
    label: str
    confidence: float
    timestamp: float = 0.0
    inference_id: str = ""


@dataclass(slots=True)
class TrackingInfo:
    tracking_id: str
    speed: float = 0.0
    direction: tuple[float, float] = (0.0, 0.0)
    timestamp: float = 0.0


@dataclass(slots=True)
class ObjectMeta:
    label: str
    confidence: float
    bbox: BBox | None = None
    timestamp: float = 0.0
    inference_id: str = ""
    attributes: list[Attribute] = field(default_factory=list)
    tracking_info: TrackingInfo | None = None
    class_id: int = -1  # not on the wire; lets trackers and NMS group by class


@dataclass(slots=True)
class EventMeta:
    type: str
    event_id: str = ""
    related_ids: list[str] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    timestamp: float = 0.0


@dataclass(slots=True)
class Frame:
    image: np.ndarray  # H x W x 3 uint8 BGR, treated as immutable
    frame_id: str
    timestamp: float
    objects: list[ObjectMeta] = field(default_factory=list)
    events: list[EventMeta] = field(default_factory=list)
    other_meta: dict[str, str] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])

    def branch(self) -> Frame:
        """A copy for one branch of a fan-out: own insights, shared (read-only) image."""
        return Frame(
            image=self.image,
            frame_id=self.frame_id,
            timestamp=self.timestamp,
            objects=copy.deepcopy(self.objects),
            events=copy.deepcopy(self.events),
            other_meta=dict(self.other_meta),
        )


# --- the POSS insight shape -------------------------------------------------------------


def object_to_dict(obj: ObjectMeta) -> dict:
    data = {
        "timestamp": obj.timestamp,
        "label": obj.label,
        "confidence": obj.confidence,
        "inference_id": obj.inference_id,
        "attributes": [
            {"name": a.name, "label": a.label, "confidence": a.confidence} for a in obj.attributes
        ],
    }
    if obj.bbox is not None:
        data["bbox"] = {"l": obj.bbox.l, "t": obj.bbox.t, "w": obj.bbox.w, "h": obj.bbox.h}
    if obj.tracking_info is not None:
        info = obj.tracking_info
        data["tracking_info"] = {
            "tracking_id": info.tracking_id,
            "speed": info.speed,
            "direction": {"x": info.direction[0], "y": info.direction[1]},
        }
    return data


def object_from_dict(data: dict) -> ObjectMeta:
    bbox = data.get("bbox")
    tracking = data.get("tracking_info")
    direction = (tracking or {}).get("direction") or {}
    return ObjectMeta(
        label=str(data.get("label", "")),
        confidence=float(data.get("confidence", 0.0)),
        bbox=BBox(float(bbox["l"]), float(bbox["t"]), float(bbox["w"]), float(bbox["h"])) if bbox else None,
        timestamp=float(data.get("timestamp", 0.0) or 0.0),
        inference_id=str(data.get("inference_id", "")),
        attributes=[
            Attribute(
                name=str(a.get("name", "")),
                label=str(a.get("label", "")),
                confidence=float(a.get("confidence", 0.0)),
                timestamp=float(a.get("timestamp", 0.0) or 0.0),
                inference_id=str(a.get("inference_id", "")),
            )
            for a in data.get("attributes") or []
        ],
        tracking_info=TrackingInfo(
            tracking_id=str(tracking.get("tracking_id", "")),
            speed=float(tracking.get("speed", 0.0) or 0.0),
            direction=(float(direction.get("x", 0.0)), float(direction.get("y", 0.0))),
        )
        if tracking
        else None,
    )


def event_to_dict(event: EventMeta) -> dict:
    return {
        "timestamp": event.timestamp,
        "type": event.type,
        "event_id": event.event_id,
        "related_ids": list(event.related_ids),
        "properties": dict(event.properties),
    }


def event_from_dict(data: dict) -> EventMeta:
    return EventMeta(
        type=str(data.get("type", "")),
        event_id=str(data.get("event_id", "")),
        related_ids=[str(i) for i in data.get("related_ids") or []],
        properties={str(k): str(v) for k, v in (data.get("properties") or {}).items()},
        timestamp=float(data.get("timestamp", 0.0) or 0.0),
    )


def insights_meta(frame: Frame) -> dict:
    """``insights_meta`` of the message (also what gRPC custom nodes receive)."""
    return {
        "objects_meta": [object_to_dict(o) for o in frame.objects],
        "events_meta": [event_to_dict(e) for e in frame.events],
        "other_meta": dict(frame.other_meta),
    }


def iso_datetime(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def insight_message(frame: Frame, *, instance_id: str = "", skill_id: str = "", device_id: str = "") -> dict:
    """One frame's insight message, in the shape POSS consumers expect (new fields only added)."""
    return {
        "image": {"properties": {"height": frame.height, "width": frame.width, "color_format": "BGR"}},
        "insights_meta": insights_meta(frame),
        "timestamp": frame.timestamp,
        "frame_id": frame.frame_id,
        "instance_id": instance_id,
        "skill_id": skill_id,
        "device_id": device_id,
        "datetime": iso_datetime(frame.timestamp),
    }
