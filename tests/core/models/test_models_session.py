"""OnnxModel: sessions, fallback warnings, crop classification."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_factory import blob_detector, color_classifier, write_labels

from designer.core.models.errors import ModelError
from designer.core.models.inspect import inspect_model
from designer.core.models.results import Detection
from designer.core.models.session import OnnxModel

RED, GREEN, BLUE = (0, 0, 255), (0, 255, 0), (255, 0, 0)


def _stripes() -> np.ndarray:
    """Left half red, right half blue, a green square in the middle of the red half."""
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :100] = RED
    frame[:, 100:] = BLUE
    frame[40:60, 40:60] = GREEN
    return frame


@pytest.mark.parametrize("dynamic_batch", [True, False])
def test_classify_crops(tmp_path: Path, dynamic_batch: bool) -> None:
    path = color_classifier(tmp_path / "c.onnx", dynamic_batch=dynamic_batch)
    info = inspect_model(path, write_labels(tmp_path / "l.txt", ["red", "green", "blue"]))
    assert info.dynamic_batch is dynamic_batch
    model = OnnxModel(info)
    boxes = [
        (0.0, 0.0, 0.5, 1.0),  # the red half (with a little green)
        Detection(0, "x", 0.9, 0.5, 0.0, 0.5, 1.0),  # the blue half, as a detection
        (0.2, 0.4, 0.1, 0.2),  # the green square
        (0.3, 0.3, 0.0, 0.2),  # empty: no pixels
        (1.2, 0.0, 0.3, 0.3),  # outside the frame
    ]
    results = model.classify_crops(_stripes(), boxes, top_k=2)
    assert [r[0].label if r else None for r in results] == ["red", "blue", "green", None, None]
    assert all(len(r) == 2 and r[0].confidence > r[1].confidence for r in results[:3])
    assert results[2][0].confidence == pytest.approx(np.exp(10) / (np.exp(10) + 2), rel=1e-3)


def test_classify_whole_frame_with_probabilities_model(tmp_path: Path) -> None:
    path = color_classifier(
        tmp_path / "c.onnx", probabilities=True, metadata={"names": '["red", "green", "blue"]'}
    )
    info = inspect_model(path)
    assert info.layout.kind == "classification"
    frame = np.full((30, 30, 3), BLUE, np.uint8)
    (best,) = OnnxModel(info).classify(frame, conf_threshold=0.5)
    assert best.label == "blue" and best.confidence == pytest.approx(0.99991, rel=1e-4)


def test_blob_detector_follows_the_object(tmp_path: Path) -> None:
    model = OnnxModel(inspect_model(blob_detector(tmp_path / "b.onnx")))
    for x in (10, 50, 90):
        frame = np.zeros((120, 160, 3), np.uint8)
        frame[30:60, x : x + 30] = 255
        (det,) = model.detect(frame, 0.5)
        assert (det.left, det.top, det.width, det.height) == pytest.approx((x / 160, 0.25, 30 / 160, 0.25))
    assert model.detect(np.zeros((120, 160, 3), np.uint8), 0.5) == []


def test_missing_provider_warns_and_runs_on_cpu(tmp_path: Path) -> None:
    info = inspect_model(color_classifier(tmp_path / "c.onnx"))
    warnings: list[str] = []
    model = OnnxModel(info, acceleration="Intel iGPU", threads=1, on_warning=warnings.append)
    if "OpenVINOExecutionProvider" in model.providers:
        pytest.skip("OpenVINO is installed here")
    assert model.providers == ["CPUExecutionProvider"]
    assert warnings and "OpenVINOExecutionProvider" in warnings[0]
    assert model.classify(np.zeros((8, 8, 3), np.uint8))


def test_model_file_damaged_after_inspection(tmp_path: Path) -> None:
    path = color_classifier(tmp_path / "c.onnx")
    info = inspect_model(path)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ModelError) as err:
        OnnxModel(info)
    assert str(path) in str(err.value)
    path.unlink()
    with pytest.raises(ModelError, match="file not found"):
        OnnxModel(info)
