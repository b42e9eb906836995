"""Privacy Mask: blur or pixelate the boxes of chosen labels; the insights pass on unchanged.

Images are shared read-only between nodes, so the masked picture is a new array, made
once per frame and only when at least one box is masked; only the boxes' regions are
worked on. Each box is masked from its own pixels alone (no colour bleeds in from the
background), grown by the padding, rounded outwards to whole pixels and clamped to the
image; empty, degenerate and non-finite boxes are skipped.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from designer.core.engine.frame import BBox, Frame
from designer.core.engine.runtime import NodeRuntime, RunContext
from designer.core.skill.catalog.privacy_mask import PrivacyMaskParams

MIN_SIGMA = 1.0  # pixels: even the weakest blur of a tiny box changes it
MIN_BLOCK = 2  # pixels: a pixel block of one pixel would hide nothing
EPSILON = 1e-6  # pixels: a box edge on a pixel boundary, give or take float rounding, stays there


class PrivacyMaskRuntime(NodeRuntime[PrivacyMaskParams]):
    def __init__(self, node_id: str, params: PrivacyMaskParams, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self._labels = frozenset(params.labels)

    def update(self, params: PrivacyMaskParams) -> bool:
        """Every parameter applies from the next frame on."""
        self.params, self._labels = params, frozenset(params.labels)
        return True

    def process(self, frame: Frame) -> Frame:
        params, labels = self.params, self._labels  # one consistent set, even mid-update
        threshold = params.confidence_threshold / 100.0
        image = frame.image
        height, width = image.shape[:2]
        masked: np.ndarray | None = None
        for obj in frame.objects:
            if obj.bbox is None or (labels and obj.label not in labels) or obj.confidence < threshold:
                continue
            box = box_pixels(obj.bbox, width, height, params.padding)
            if box is None:
                continue
            if masked is None:
                masked = np.array(image, dtype=image.dtype, copy=True, order="C")
            x1, y1, x2, y2 = box
            mask_region(masked[y1:y2, x1:x2], params.method, params.strength)
        if masked is not None:
            frame.image = masked
        return frame


def box_pixels(box: BBox, width: int, height: int, padding: int) -> tuple[int, int, int, int] | None:
    """(x1, y1, x2, y2), the padded box rounded outwards to whole pixels and clamped to the image;
    None when nothing is left."""
    l, t, w, h = box.l, box.t, box.w, box.h  # noqa: E741
    if not all(math.isfinite(v) for v in (l, t, w, h)) or w <= 0 or h <= 0:
        return None
    pad_x, pad_y = w * padding / 100.0, h * padding / 100.0
    x1 = max(0, math.floor((l - pad_x) * width + EPSILON))
    y1 = max(0, math.floor((t - pad_y) * height + EPSILON))
    x2 = min(width, math.ceil((l + w + pad_x) * width - EPSILON))
    y2 = min(height, math.ceil((t + h + pad_y) * height - EPSILON))
    if x2 <= x1 or y2 <= y1:
        return None
    return x1, y1, x2, y2


def mask_region(region: np.ndarray, method: str, strength: int) -> None:
    """Mask a view into the (new) image in place: ``strength`` percent of its smaller side sets
    the blur's spread (sigma is half of it) or the pixel blocks' size."""
    rows, cols = region.shape[:2]
    scale = strength / 100.0 * min(rows, cols)
    if method == "pixelate":
        block = max(MIN_BLOCK, round(scale))
        small = cv2.resize(
            region,
            (max(1, round(cols / block)), max(1, round(rows / block))),
            interpolation=cv2.INTER_AREA,
        )
        region[...] = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_NEAREST).reshape(region.shape)
    else:
        sigma = max(MIN_SIGMA, scale / 2.0)
        kernel = min(2 * math.ceil(3 * sigma) + 1, _odd_at_most(2 * max(rows, cols) + 1))
        blurred = cv2.GaussianBlur(region, (kernel, kernel), sigma, borderType=cv2.BORDER_REFLECT_101)
        region[...] = blurred.reshape(region.shape)


def _odd_at_most(value: int) -> int:
    return value if value % 2 else value - 1
