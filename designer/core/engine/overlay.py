"""Draws insights onto a copy of a frame: the preview, video snippets and exports share it.

Frames are shared read-only between nodes, so drawing always happens on a new
array. OpenCV primitives only: this runs on every previewed frame.
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from designer.core.engine.frame import BBox, ObjectMeta

# BGR colours that stay readable on video with either black or white text.
PALETTE: tuple[tuple[int, int, int], ...] = (
    (56, 56, 255),
    (151, 157, 255),
    (31, 112, 255),
    (29, 178, 255),
    (49, 210, 207),
    (10, 249, 72),
    (23, 204, 146),
    (134, 219, 61),
    (211, 188, 0),
    (255, 194, 0),
    (236, 24, 0),
    (255, 56, 132),
    (133, 0, 82),
    (255, 56, 203),
    (200, 149, 255),
    (199, 55, 255),
)
ZONE_COLOUR = (0, 255, 255)
FONT = cv2.FONT_HERSHEY_SIMPLEX


@dataclass(frozen=True, slots=True)
class ZoneShape:
    """A zone to draw: normalised points, a line (open) or a polygon (closed), and its counts."""

    points: Sequence[tuple[float, float]]
    closed: bool
    text: str = ""


def colour_for(key: str) -> tuple[int, int, int]:
    """The same colour for the same key in every run (Python's str hash is salted per process)."""
    return PALETTE[zlib.crc32(key.encode()) % len(PALETTE)]


def object_caption(obj: ObjectMeta) -> str:
    """``label conf, name: label ... #tracking_id``: what the user reads next to a box."""
    parts = [f"{obj.label} {obj.confidence:.2f}"]
    parts.extend(f", {attr.name}: {attr.label}" for attr in obj.attributes)
    if obj.tracking_info is not None:
        parts.append(f" #{obj.tracking_info.tracking_id}")
    return "".join(parts)


def draw_insights(
    image: np.ndarray,
    objects: Iterable[ObjectMeta],
    *,
    zones: Iterable[ZoneShape] | None = None,
) -> np.ndarray:
    """A new BGR image with the objects' boxes and captions, and the zones, drawn on it."""
    canvas = np.array(image, dtype=np.uint8, copy=True, order="C")
    height, width = canvas.shape[:2]
    thickness = max(1, round(min(height, width) / 240))
    scale = max(0.4, min(height, width) / 1200)
    for zone in zones or ():
        _draw_zone(canvas, zone, thickness, scale)
    for obj in objects:
        if obj.bbox is None:
            continue
        x1, y1, x2, y2 = _pixels(obj.bbox, width, height)
        key = obj.tracking_info.tracking_id if obj.tracking_info is not None else obj.label
        colour = colour_for(key)
        _draw_box(canvas, (x1, y1, x2, y2), colour, thickness)
        _draw_label(canvas, object_caption(obj), (x1, y1), colour, scale)
    return canvas


def _pixels(box: BBox, width: int, height: int) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) in pixels inside the image, in plain Python (numpy on scalars is slow)."""
    x1 = min(max(round(box.l * width), 0), width)
    y1 = min(max(round(box.t * height), 0), height)
    x2 = min(max(round((box.l + box.w) * width), 0), width)
    y2 = min(max(round((box.t + box.h) * height), 0), height)
    return x1, y1, x2, y2


def _draw_box(
    canvas: np.ndarray,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    thickness: int,
) -> None:
    """Nested one-pixel rectangles: cv2's thick-line rectangle costs several times more."""
    x1, y1, x2, y2 = box
    for inset in range(min(thickness, (x2 - x1 + 1) // 2, (y2 - y1 + 1) // 2)):
        cv2.rectangle(canvas, (x1 + inset, y1 + inset), (x2 - 1 - inset, y2 - 1 - inset), colour, 1)


def _draw_zone(canvas: np.ndarray, zone: ZoneShape, thickness: int, scale: float) -> None:
    height, width = canvas.shape[:2]
    if not zone.points:
        return
    pixels = np.array(
        [(round(x * (width - 1)), round(y * (height - 1))) for x, y in zone.points], dtype=np.int32
    )
    cv2.polylines(canvas, [pixels], zone.closed, ZONE_COLOUR, thickness + 1, cv2.LINE_AA)
    if zone.text:
        x, y = pixels[0]
        _draw_label(canvas, zone.text, (int(x), int(y)), ZONE_COLOUR, scale)


@functools.lru_cache(maxsize=4096)
def _text_size(text: str, scale: float, weight: int) -> tuple[tuple[int, int], int]:
    """Captions repeat from frame to frame; measuring them is a good part of the drawing cost."""
    (width, height), baseline = cv2.getTextSize(text, FONT, scale, weight)
    return (width, height), baseline


def _draw_label(
    canvas: np.ndarray,
    text: str,
    corner: tuple[int, int],
    colour: tuple[int, int, int],
    scale: float,
) -> None:
    """Text on a filled background above ``corner``, or below it near the top; never outside."""
    height, width = canvas.shape[:2]
    weight = 1 if scale < 0.8 else 2
    (text_w, text_h), baseline = _text_size(text, scale, weight)
    box_h = text_h + baseline + 4
    x = min(max(corner[0], 0), max(width - text_w - 4, 0))
    top = corner[1] - box_h if corner[1] - box_h >= 0 else corner[1]
    top = min(max(top, 0), max(height - box_h, 0))
    cv2.rectangle(canvas, (x, top), (x + text_w + 3, top + box_h - 1), colour, cv2.FILLED)
    blue, green, red = colour
    ink = (0, 0, 0) if 0.114 * blue + 0.587 * green + 0.299 * red > 140 else (255, 255, 255)
    cv2.putText(canvas, text, (x + 2, top + text_h + 2), FONT, scale, ink, weight, cv2.LINE_AA)
