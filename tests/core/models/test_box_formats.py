"""Every box format a boxes + scores model may use, set with a layout override as users do.

Only ``xyxy`` and ``yxyx`` are ever detected; ``xywh`` and ``cxcywh`` reach the decoder only
through ``models add --layout``, so without these tests a wrong column in their conversion
(a box's height taken from its width) would pass every other test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_factory import constant_model

from designer.core.models.inspect import inspect_model
from designer.core.models.session import OnnxModel

FRAME = np.zeros((128, 256, 3), np.uint8)  # a plain resize to the 64 x 64 input
# One box, x1,y1,x2,y2 = (8, 16, 24, 48) input pixels: 16 wide, 32 high (never square, so a
# swapped width and height shows), written in each format.
BOXES = {
    "xyxy": [8, 16, 24, 48],
    "yxyx": [16, 8, 48, 24],
    "xywh": [8, 16, 16, 32],
    "cxcywh": [16, 32, 16, 32],
}
EXPECTED = (0.125, 0.25, 0.25, 0.5)  # l, t, w, h of the frame


@pytest.mark.parametrize("box_format", sorted(BOXES))
def test_each_box_format_gives_the_same_box(tmp_path: Path, box_format: str) -> None:
    outputs = {
        "boxes": np.array([BOXES[box_format], [40, 40, 10, 10]], np.float32),
        "scores": np.array([0.9, 0.1], np.float32),  # the second box is under the threshold
    }
    path = constant_model(tmp_path / "m.onnx", outputs, input_shape=(1, 3, 64, 64))
    layout = {
        "kind": "boxes_scores",
        "boxes_output": "boxes",
        "scores_output": "scores",
        "box_format": box_format,
    }
    info = inspect_model(path, layout=layout)
    assert info.layout.box_format == box_format
    (found,) = OnnxModel(info).detect(FRAME, 0.5)
    assert (found.left, found.top, found.width, found.height) == pytest.approx(EXPECTED)
    assert found.confidence == pytest.approx(0.9)
