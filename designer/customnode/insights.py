"""Insights in the POSS JSON shape (plain dicts) <-> the contract's messages.

The engine works with plain dicts so it never sees protobuf types:

- object: ``{"timestamp": float, "label": str, "confidence": float, "inference_id": str,
  "attributes": [{"name", "label", "confidence"}], "bbox": {"l", "t", "w", "h"},
  "tracking_info": {"tracking_id": str, "speed": float, "direction": {"x", "y"}}}``
  (``tracking_info`` only when the object has one)
- event: ``{"timestamp": float, "type": str, "event_id": str, "related_ids": [str],
  "properties": {str: str}}``
- insights: ``{"objects_meta": [...], "events_meta": [...], "other_meta": {str: str}}``
- roi: ``{"name": str, "type": "LINE" | "POLYGON", "id": str, "value": str}``

Timestamps are float epoch seconds. Floats travel as float32, so values read
back are rounded to 6 decimals (0.9 stays 0.9, not 0.8999999762).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from designer.customnode import custom_node_pb2 as pb2

_DECIMALS = 6
_ROI_TYPES = {"LINE": pb2.LINE, "POLYGON": pb2.POLYGON}


def _f(value: float) -> float:
    return round(float(value), _DECIMALS)


def set_timestamp(message: pb2.Timestamp, seconds: float) -> None:
    """Fill a contract Timestamp from float epoch seconds."""
    whole = math.floor(seconds)
    message.seconds = whole
    message.nanos = min(round((seconds - whole) * 1e9), 999_999_999)


def timestamp_seconds(message: pb2.Timestamp) -> float:
    """Float epoch seconds of a contract Timestamp."""
    return message.seconds + message.nanos / 1e9


def object_to_proto(obj: Mapping[str, Any]) -> pb2.ObjectMeta:
    """One object dict -> ObjectMeta; missing keys take the proto defaults."""
    message = pb2.ObjectMeta(
        label=str(obj.get("label", "")),
        confidence=float(obj.get("confidence", 0.0)),
        inference_id=str(obj.get("inference_id", "")),
    )
    if obj.get("timestamp") is not None:
        set_timestamp(message.timestamp, float(obj["timestamp"]))
    for attribute in obj.get("attributes") or ():
        message.attributes.add(
            name=str(attribute.get("name", "")),
            label=str(attribute.get("label", "")),
            confidence=float(attribute.get("confidence", 0.0)),
        )
    bbox = obj.get("bbox")
    if bbox is not None:
        message.bbox.CopyFrom(pb2.BBox(**{k: float(bbox.get(k, 0.0)) for k in "ltwh"}))
    tracking = obj.get("tracking_info")
    if tracking:
        info = message.tracking_info
        info.tracking_id = str(tracking.get("tracking_id", ""))
        info.speed = float(tracking.get("speed", 0.0))
        direction = tracking.get("direction") or {}
        info.direction.x = float(direction.get("x", 0.0))
        info.direction.y = float(direction.get("y", 0.0))
    return message


def object_from_proto(message: pb2.ObjectMeta) -> dict[str, Any]:
    """ObjectMeta -> object dict (always every key of the shape but ``tracking_info``)."""
    obj: dict[str, Any] = {
        "timestamp": timestamp_seconds(message.timestamp),
        "label": message.label,
        "confidence": _f(message.confidence),
        "inference_id": message.inference_id,
        "attributes": [
            {"name": a.name, "label": a.label, "confidence": _f(a.confidence)} for a in message.attributes
        ],
    }
    if message.HasField("bbox"):  # attribute-only objects have no box, not a zero one
        obj["bbox"] = {k: _f(getattr(message.bbox, k)) for k in "ltwh"}
    if message.HasField("tracking_info"):
        info = message.tracking_info
        obj["tracking_info"] = {
            "tracking_id": info.tracking_id,
            "speed": _f(info.speed),
            "direction": {"x": _f(info.direction.x), "y": _f(info.direction.y)},
        }
    return obj


def event_to_proto(event: Mapping[str, Any]) -> pb2.EventMeta:
    """One event dict -> EventMeta."""
    message = pb2.EventMeta(
        type=str(event.get("type", "")),
        event_id=str(event.get("event_id", "")),
        related_ids=[str(i) for i in event.get("related_ids") or ()],
        properties={str(k): str(v) for k, v in (event.get("properties") or {}).items()},
    )
    if event.get("timestamp") is not None:
        set_timestamp(message.timestamp, float(event["timestamp"]))
    return message


def event_from_proto(message: pb2.EventMeta) -> dict[str, Any]:
    """EventMeta -> event dict."""
    return {
        "timestamp": timestamp_seconds(message.timestamp),
        "type": message.type,
        "event_id": message.event_id,
        "related_ids": list(message.related_ids),
        "properties": dict(message.properties),
    }


def insights_to_proto(insights: Mapping[str, Any] | None) -> pb2.InsightsMeta:
    """Insights dict (or None) -> InsightsMeta."""
    insights = insights or {}
    return pb2.InsightsMeta(
        objects_meta=[object_to_proto(o) for o in insights.get("objects_meta") or ()],
        events_meta=[event_to_proto(e) for e in insights.get("events_meta") or ()],
        other_meta={str(k): str(v) for k, v in (insights.get("other_meta") or {}).items()},
    )


def insights_from_proto(message: pb2.InsightsMeta) -> dict[str, Any]:
    """InsightsMeta -> insights dict."""
    return {
        "objects_meta": [object_from_proto(o) for o in message.objects_meta],
        "events_meta": [event_from_proto(e) for e in message.events_meta],
        "other_meta": dict(message.other_meta),
    }


def roi_to_proto(roi: Mapping[str, Any]) -> pb2.Roi:
    """Roi dict -> Roi; raises ValueError for a type other than LINE / POLYGON."""
    kind = str(roi.get("type", "LINE")).upper()
    if kind not in _ROI_TYPES:
        raise ValueError(f"roi type {roi.get('type')!r} is not LINE or POLYGON")
    return pb2.Roi(
        name=str(roi.get("name", "")),
        type=_ROI_TYPES[kind],
        id=str(roi.get("id", "")),
        value=str(roi.get("value", "")),
    )


def roi_from_proto(message: pb2.Roi) -> dict[str, Any]:
    """Roi -> roi dict."""
    return {
        "name": message.name,
        "type": pb2.RoiType.Name(message.type),
        "id": message.id,
        "value": message.value,
    }


def clip_bbox(bbox: dict[str, float]) -> bool:
    """Clip a normalised box dict into the frame in place; True if it changed.

    Raises ValueError for NaN or infinite values: those cannot be clipped to
    anything meaningful.
    """
    values = [bbox[k] for k in "ltwh"]
    if not all(math.isfinite(v) for v in values):
        raise ValueError(f"bbox {bbox} has a non-finite value")
    left, top, width, height = values
    right = min(max(left + width, 0.0), 1.0)
    bottom = min(max(top + height, 0.0), 1.0)
    left, top = min(max(left, 0.0), 1.0), min(max(top, 0.0), 1.0)
    clipped = {
        "l": left,
        "t": top,
        "w": _f(max(right - left, 0.0)),
        "h": _f(max(bottom - top, 0.0)),
    }
    changed = clipped != bbox
    bbox.update(clipped)
    return changed


def object_meta(
    label: str,
    confidence: float,
    box: Sequence[float],
    *,
    image_size: tuple[int, int] | None = None,
    timestamp: float | None = None,
    inference_id: str = "",
    tracking_id: str | None = None,
    attributes: Iterable[Mapping[str, Any]] = (),
) -> pb2.ObjectMeta:
    """Build an ObjectMeta for a node's response.

    ``box`` is ``(left, top, width, height)``: normalised to 0..1 by default,
    or in pixels when ``image_size=(width, height)`` of the frame is given.
    """
    left, top, width, height = (float(v) for v in box)
    if image_size is not None:
        frame_w, frame_h = image_size
        if frame_w <= 0 or frame_h <= 0:
            raise ValueError(f"image_size {image_size} must be positive (width, height)")
        left, width = left / frame_w, width / frame_w
        top, height = top / frame_h, height / frame_h
    obj: dict[str, Any] = {
        "label": label,
        "confidence": confidence,
        "inference_id": inference_id,
        "attributes": list(attributes),
        "bbox": {"l": left, "t": top, "w": width, "h": height},
        "timestamp": timestamp,
    }
    if tracking_id is not None:
        obj["tracking_info"] = {"tracking_id": tracking_id}
    return object_to_proto(obj)


def sanitize_insights(insights: dict[str, Any]) -> list[str]:
    """Make a server's insights safe for every consumer, in place; return what was changed.

    Objects with a non-finite confidence or box are dropped (there is nothing sensible to
    clamp them to); confidences outside 0..1 are clamped; boxes are clipped into the frame;
    non-finite tracking speeds and directions become 0. JSON has no NaN or Infinity, so
    nothing non-finite may pass on. Each message names the kind of fix, without frame data,
    so a caller can report each kind once.
    """
    notes: list[str] = []
    kept = []
    clamped = clipped = 0
    for obj in insights.get("objects_meta", []):
        bbox = obj.get("bbox")
        if not math.isfinite(obj.get("confidence", 0.0)) or (
            bbox is not None and not all(math.isfinite(bbox[k]) for k in "ltwh")
        ):
            notes.append("dropped objects with a non-finite confidence or box")
            continue
        for scored in (obj, *obj.get("attributes", [])):
            value = scored.get("confidence", 0.0)
            if not 0.0 <= value <= 1.0:  # also NaN (an attribute's: an object's was dropped)
                scored["confidence"] = 0.0 if math.isnan(value) else min(max(value, 0.0), 1.0)
                clamped += 1
        tracking = obj.get("tracking_info")
        if tracking:
            direction = tracking.get("direction", {})
            for holder, key in ((tracking, "speed"), (direction, "x"), (direction, "y")):
                if key in holder and not math.isfinite(holder[key]):
                    holder[key] = 0.0
                    notes.append("set a non-finite tracking speed or direction to 0")
        if bbox is not None and clip_bbox(bbox):
            clipped += 1
        kept.append(obj)
    if "objects_meta" in insights:
        insights["objects_meta"] = kept
    if clamped:
        notes.append("clamped confidences outside 0..1 into 0..1")
    if clipped:
        notes.append("clipped boxes that reach outside the frame into it")
    return notes
