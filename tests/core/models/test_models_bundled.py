"""The bundled YOLOv3-tiny model on the bundled pedestrian clip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from designer.core.models.inspect import ModelInfo, inspect_model
from designer.core.models.session import OnnxModel

RESOURCES = Path(__file__).resolve().parents[3] / "resources"
MODEL = RESOURCES / "models" / "yolov3-tiny-coco.onnx"
LABELS = RESOURCES / "models" / "yolov3-tiny-coco.labels.txt"
CLIP = RESOURCES / "video" / "vtest.avi"


@pytest.fixture(scope="module")
def info() -> ModelInfo:
    return inspect_model(MODEL, LABELS)


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    wanted, found = {100, 300, 600}, {}
    cap = cv2.VideoCapture(str(CLIP))
    try:
        for index in range(max(wanted) + 1):
            ok, frame = cap.read()
            assert ok, f"{CLIP} ended at frame {index}"
            if index in wanted:
                found[index] = frame
    finally:
        cap.release()
    return found


def test_bundled_model_is_understood(info: ModelInfo) -> None:
    assert info.task == "detection" and info.layout.kind == "yolov5"
    assert info.layout.scores_include_objectness is True
    assert info.num_classes == 80 and info.labels[0] == "person"
    assert (info.preprocess.width, info.preprocess.height) == (416, 416)
    assert info.preprocess.resize == "stretch" and info.preprocess.color == "RGB"
    assert inspect_model(MODEL).labels == info.labels  # the metadata has the same names


@pytest.mark.parametrize("index", [100, 300, 600])
def test_people_are_found_where_people_walk(info: ModelInfo, frames, index: int) -> None:
    people = [d for d in OnnxModel(info).detect(frames[index], 0.3) if d.label == "person"]
    assert len(people) >= 2
    for p in people:
        assert 0.03 <= p.height <= 0.5 and 0.008 <= p.width <= 0.2, p
        assert p.height > p.width, p  # people stand upright
        assert 0.0 <= p.left and p.left + p.width <= 1.0 and p.top + p.height <= 1.0


def test_no_people_in_an_empty_frame(info: ModelInfo) -> None:
    blank = np.full((576, 768, 3), 128, np.uint8)
    assert [d for d in OnnxModel(info).detect(blank, 0.3) if d.label == "person"] == []
