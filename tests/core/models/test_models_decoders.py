"""Every output layout, decoded by a real onnxruntime session on a tiny constant model.

The frame is 256x128 and the model input 64x64 (plain resize), so a box normalised to the
input is the same box normalised to the frame.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_factory import constant_model, write_labels

from designer.core.models.errors import UnknownLayoutError
from designer.core.models.inspect import inspect_model
from designer.core.models.session import OnnxModel

FRAME = np.zeros((128, 256, 3), np.uint8)
INPUT = (1, 3, 64, 64)
# The expected box: x1,y1,x2,y2 = (8, 16, 24, 48) input pixels = l,t,w,h (.125, .25, .25, .5).
EXPECTED_BOX = (0.125, 0.25, 0.25, 0.5)


def _box(det) -> tuple[float, ...]:
    return (det.left, det.top, det.width, det.height)


def _run(tmp_path: Path, outputs: dict, labels=None, conf=0.5, **model_kw):
    labels_path = write_labels(tmp_path / "labels.txt", labels) if labels else None
    path = constant_model(tmp_path / "m.onnx", outputs, input_shape=INPUT)
    info = inspect_model(path, labels_path)
    return info, OnnxModel(info, **model_kw).detect(FRAME, conf)


def _yolov5_rows(rows: list[list[float]], n: int = 12) -> np.ndarray:
    out = np.zeros((1, n, len(rows[0])), np.float32)
    out[0, : len(rows)] = rows
    return out


def test_yolov5_raw_scores_are_multiplied_by_objectness(tmp_path: Path) -> None:
    rows = _yolov5_rows(
        [
            [16, 32, 16, 32, 0.8, 0.1, 0.9, 0.2],  # 0.8 x 0.9 = 0.72 for "car"
            [40, 40, 8, 8, 0.6, 0.7, 0.0, 0.0],  # 0.42: below the threshold
        ]
    )
    info, dets = _run(tmp_path, {"output": rows}, ["person", "car", "bus"])
    assert info.layout.kind == "yolov5" and info.layout.scores_include_objectness is False
    assert info.num_classes == 3 and info.task == "detection"
    assert len(dets) == 1
    assert (dets[0].label, dets[0].class_id) == ("car", 1)
    assert dets[0].confidence == pytest.approx(0.72)
    assert _box(dets[0]) == pytest.approx(EXPECTED_BOX)


def test_yolov5_premultiplied_scores_are_used_as_they_are(tmp_path: Path) -> None:
    rows = _yolov5_rows(
        [
            [16, 32, 16, 32, 0.8, 0.08, 0.72, 0.16],
            [40, 40, 8, 8, 0.6, 0.45, 0.0, 0.0],  # 0.45, not 0.6 x 0.45
        ]
    )
    info, dets = _run(tmp_path, {"output": rows}, ["person", "car", "bus"], conf=0.3)
    assert info.layout.scores_include_objectness is True
    assert [(d.label, round(d.confidence, 4)) for d in dets] == [("car", 0.72), ("person", 0.45)]


def test_yolov8_channels_first_with_normalised_boxes(tmp_path: Path) -> None:
    out = np.zeros((1, 6, 20), np.float32)
    out[0, :, 3] = [0.25, 0.5, 0.25, 0.5, 0.1, 0.9]
    out[0, :, 7] = [0.5, 0.5, 0.1, 0.1, 0.3, 0.2]
    info, dets = _run(tmp_path, {"output0": out}, ["cat", "dog"])
    assert info.layout.kind == "yolov8" and info.num_classes == 2
    assert [(d.label, round(d.confidence, 4)) for d in dets] == [("dog", 0.9)]
    assert _box(dets[0]) == pytest.approx(EXPECTED_BOX)


def test_ssd_rows(tmp_path: Path) -> None:
    out = np.zeros((1, 1, 5, 7), np.float32)
    out[0, 0, 0] = [0, 2, 0.95, 0.125, 0.25, 0.375, 0.75]
    out[0, 0, 1] = [0, 1, 0.2, 0.5, 0.5, 0.6, 0.6]  # low confidence
    out[0, 0, 2] = [-1, 1, 0.99, 0.5, 0.5, 0.6, 0.6]  # padding row (image id -1)
    info, dets = _run(tmp_path, {"detection_out": out}, ["background", "a", "b"])
    assert info.layout.kind == "ssd"
    assert [(d.label, round(d.confidence, 4)) for d in dets] == [("b", 0.95)]
    assert _box(dets[0]) == pytest.approx(EXPECTED_BOX)


def test_torchvision_boxes_scores_labels_in_pixels(tmp_path: Path) -> None:
    outputs = {
        "boxes": np.array([[8, 16, 24, 48], [40, 40, 60, 60], [0, 0, 4, 4]], np.float32),
        "scores": np.array([0.9, 0.7, 0.1], np.float32),
        "labels": np.array([2, 0, 1], np.int64),
    }
    info, dets = _run(tmp_path, outputs, ["a", "b", "c"])
    assert info.layout.kind == "boxes_scores"
    assert (info.layout.boxes_output, info.layout.scores_output, info.layout.classes_output) == (
        "boxes",
        "scores",
        "labels",
    )
    assert [(d.label, round(d.confidence, 4)) for d in dets] == [("c", 0.9), ("a", 0.7)]
    assert _box(dets[0]) == pytest.approx(EXPECTED_BOX)
    assert _box(dets[1]) == pytest.approx((40 / 64, 40 / 64, 20 / 64, 20 / 64))


def test_tensorflow_style_outputs_with_count(tmp_path: Path) -> None:
    outputs = {
        "detection_boxes": np.array([[[0.25, 0.125, 0.75, 0.375], [0, 0, 1, 1]]], np.float32),
        "detection_scores": np.array([[0.8, 0.99]], np.float32),
        "detection_classes": np.array([[1, 0]], np.float32),
        "num_detections": np.array([1], np.float32),  # the second row is beyond the count
    }
    info, dets = _run(tmp_path, outputs, ["a", "b"])
    assert info.layout.box_format == "yxyx" and info.layout.count_output == "num_detections"
    assert [(d.label, round(d.confidence, 4)) for d in dets] == [("b", 0.8)]
    assert _box(dets[0]) == pytest.approx(EXPECTED_BOX)


def test_boxes_with_per_class_scores(tmp_path: Path) -> None:
    outputs = {
        "boxes": np.array([[[8, 16, 24, 48], [30, 30, 40, 40]]], np.float32),
        "scores": np.array([[[0.1, 0.2, 0.85], [0.3, 0.1, 0.2]]], np.float32),
    }
    info, dets = _run(tmp_path, outputs, ["a", "b", "c"])
    assert info.layout.kind == "boxes_scores" and info.num_classes == 3
    assert [(d.label, round(d.confidence, 4)) for d in dets] == [("c", 0.85)]
    assert _box(dets[0]) == pytest.approx(EXPECTED_BOX)


def test_boxes_outside_the_frame_are_clipped(tmp_path: Path) -> None:
    outputs = {
        "boxes": np.array([[-10, 48, 16, 80]], np.float32),
        "scores": np.array([0.9], np.float32),
    }
    _, dets = _run(tmp_path, outputs)
    assert _box(dets[0]) == pytest.approx((0.0, 0.75, 0.25, 0.25))


def test_nms_per_class_agnostic_and_max_detections(tmp_path: Path) -> None:
    outputs = {
        "boxes": np.array([[8, 16, 24, 48], [9, 16, 24, 48], [8, 17, 24, 48], [40, 40, 60, 60]], np.float32),
        "scores": np.array([0.9, 0.8, 0.7, 0.6], np.float32),
        "labels": np.array([0, 0, 1, 1], np.int64),
    }
    _, per_class = _run(tmp_path, outputs)
    assert [round(d.confidence, 2) for d in per_class] == [0.9, 0.7, 0.6]
    _, agnostic = _run(tmp_path, outputs, class_agnostic_nms=True)
    assert [round(d.confidence, 2) for d in agnostic] == [0.9, 0.6]
    _, loose = _run(tmp_path, outputs, iou_threshold=0.99)
    assert len(loose) == 4
    _, capped = _run(tmp_path, outputs, max_detections=2)
    assert [round(d.confidence, 2) for d in capped] == [0.9, 0.7]


def test_letterbox_is_undone(tmp_path: Path) -> None:
    # 256x128 into 64x64 with letterbox: scaled to 64x32, 16 rows of padding above.
    outputs = {"boxes": np.array([[16, 24, 48, 40]], np.float32), "scores": np.array([0.9], np.float32)}
    path = constant_model(tmp_path / "m.onnx", outputs, input_shape=INPUT)
    info = inspect_model(path, resize="letterbox")
    model = OnnxModel(info)
    tensor, transform = model.preprocess(np.full((128, 256, 3), 255, np.uint8))
    assert (transform.pad_x, transform.pad_y) == (0.0, 16.0)
    assert tensor[0, :, :16].max() == pytest.approx(114 / 255)
    assert tensor[0, :, 16:48].min() == pytest.approx(1.0)
    (det,) = model.decode(model.infer(tensor), transform, 0.5)
    assert _box(det) == pytest.approx((0.25, 0.25, 0.5, 0.5))


@pytest.mark.parametrize("probabilities", [False, True])
def test_classification_logits_and_probabilities(tmp_path: Path, probabilities: bool) -> None:
    values = [0.1, 0.7, 0.2] if probabilities else [1.0, 3.0, 2.0]
    path = constant_model(tmp_path / "c.onnx", {"prob": np.array([values], np.float32)}, input_shape=INPUT)
    info = inspect_model(path, write_labels(tmp_path / "l.txt", ["a", "b", "c"]))
    assert info.task == "classification" and info.num_classes == 3
    result = OnnxModel(info).classify(FRAME)
    expected = np.array(values) if probabilities else np.exp(values) / np.exp(values).sum()
    assert [c.label for c in result] == ["b", "c", "a"]
    assert [c.confidence for c in result] == pytest.approx(sorted(expected, reverse=True))


def test_layout_override(tmp_path: Path) -> None:
    rows = _yolov5_rows([[16, 32, 16, 32, 0.8, 0.8, 0.1]])
    path = constant_model(tmp_path / "m.onnx", {"output": rows}, input_shape=INPUT)
    info = inspect_model(path, layout={"kind": "yolov5", "scores_include_objectness": False})
    assert info.layout.scores_include_objectness is False
    (det,) = OnnxModel(info).detect(FRAME, 0.5)
    assert det.confidence == pytest.approx(0.64)
    with pytest.raises(UnknownLayoutError, match="requested layout ssd"):
        inspect_model(path, layout="ssd")
