"""The bundled detector re-exported with a dynamic batch: same detections, several cameras per run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from designer.core.models.batching import make_batch_dynamic, same_outputs
from designer.core.models.inspect import inspect_model

BUNDLED = Path(__file__).resolve().parents[3] / "resources/models/yolov3-tiny-coco.onnx"


def test_the_bundled_detector_batches_with_the_same_results(tmp_path, capfd):
    out = tmp_path / "dynamic.onnx"
    assert make_batch_dynamic(BUNDLED, out) == 2  # two Reshape targets carried batch 1
    assert same_outputs(BUNDLED, out, frames=3)
    info = inspect_model(out, BUNDLED.with_name("yolov3-tiny-coco.labels.txt"))
    assert info.dynamic_batch and info.layout.kind == "yolov5"
    assert "anchors_fix" in ort.InferenceSession(str(out)).get_modelmeta().custom_metadata_map
    assert "Removing initializer" not in capfd.readouterr().err  # nothing left dangling
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"images": np.zeros((5, 3, 416, 416), np.float32)})
    assert output.shape == (5, 2535, 85)
