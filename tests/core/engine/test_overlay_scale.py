"""Boxes stay visible on large frames: the outline grows with the frame (1 px per 240 px of its
shorter side, at least 1), so a 1080p preview does not show hairlines."""

from __future__ import annotations

import numpy as np
import pytest

from designer.core.engine.frame import BBox, ObjectMeta
from designer.core.engine.overlay import draw_insights


@pytest.mark.parametrize(("size", "thickness"), [((320, 240), 1), ((1280, 720), 3), ((1920, 1080), 4)])
def test_box_outlines_grow_with_the_frame(size: tuple[int, int], thickness: int) -> None:
    width, height = size
    frame = np.zeros((height, width, 3), np.uint8)
    person = ObjectMeta(label="person", confidence=0.9, bbox=BBox(0.25, 0.5, 0.5, 0.25))
    drawn = draw_insights(frame, [person])
    # the box's left edge, halfway down: count the painted columns from its outer edge inwards
    row = drawn[int(height * 0.625), int(width * 0.25) : int(width * 0.5)]
    painted = np.flatnonzero(row.any(axis=1))
    assert painted[0] == 0 and painted[:thickness].tolist() == list(range(thickness))
    assert len(painted) == thickness  # and nothing else on that row inside the box
