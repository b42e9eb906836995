"""The label file decides between YOLO layouts when an output's shape fits both.

A ``[1, 7, 9]`` output reads as YOLOv8 (4 box channels + 3 classes, 9 anchors) or as YOLOv5
(7 rows of 5 + 4 classes); ``[1, 9, 7]`` as YOLOv8 with 5 classes or YOLOv5 with 2. Only the
number of labels tells them apart (the shape alone suggests the other reading for one of each
pair), and the wrong reading gives boxes from the wrong numbers without any error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_factory import constant_model, write_labels

from designer.core.models.inspect import inspect_model

CASES = [
    ((1, 7, 9), 3, "yolov8"),
    ((1, 7, 9), 4, "yolov5"),
    ((1, 9, 7), 5, "yolov8"),
    ((1, 9, 7), 2, "yolov5"),
]


@pytest.mark.parametrize(("shape", "classes", "kind"), CASES)
def test_the_label_count_picks_the_layout_an_ambiguous_shape_fits(
    tmp_path: Path, shape: tuple[int, ...], classes: int, kind: str
) -> None:
    outputs = {"output0": np.zeros(shape, np.float32)}
    path = constant_model(tmp_path / "m.onnx", outputs, input_shape=(1, 3, 64, 64))
    labels = write_labels(tmp_path / "labels.txt", [f"class {i}" for i in range(classes)])
    info = inspect_model(path, labels)
    assert (info.layout.kind, info.num_classes) == (kind, classes)
