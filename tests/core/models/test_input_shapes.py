"""Models whose input is not square, and classifiers with the smallest and the 4-D outputs.

The bundled model and most test models have square inputs, where reading the width from the
height's place changes nothing; a 64 x 32 input does not forgive it. A yes/no classifier has
two classes, the fewest a classifier can have, and SqueezeNet-style ones answer ``[1, C, 1, 1]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx_factory import constant_model, write_labels

from designer.core.models.errors import UnknownLayoutError
from designer.core.models.inspect import inspect_model
from designer.core.models.session import OnnxModel


@pytest.mark.parametrize("input_shape", [(1, 3, 32, 64), (1, 32, 64, 3)], ids=["NCHW", "NHWC"])
def test_a_wide_input_is_read_as_wide_and_boxes_map_back(tmp_path: Path, input_shape) -> None:
    # one box, x1,y1,x2,y2 = (8, 16, 24, 24) pixels of the 64 x 32 input
    outputs = {"boxes": np.array([[8, 16, 24, 24]], np.float32), "scores": np.array([0.9], np.float32)}
    info = inspect_model(constant_model(tmp_path / "m.onnx", outputs, input_shape=input_shape))
    assert (info.preprocess.width, info.preprocess.height) == (64, 32)
    (found,) = OnnxModel(info).detect(np.zeros((100, 400, 3), np.uint8), 0.5)
    assert (found.left, found.top, found.width, found.height) == pytest.approx((0.125, 0.5, 0.25, 0.25))


@pytest.mark.parametrize(
    "scores",
    [np.array([[0.2, 0.8]], np.float32), np.array([[[[0.1]], [[0.7]], [[0.2]]]], np.float32)],
    ids=["two-classes", "NC11"],
)
def test_small_and_four_dimensional_classifier_outputs_are_classifiers(tmp_path: Path, scores) -> None:
    labels = write_labels(tmp_path / "labels.txt", [f"class {i}" for i in range(scores.shape[1])])
    info = inspect_model(
        constant_model(tmp_path / "m.onnx", {"probs": scores}, input_shape=(1, 3, 32, 32)), labels
    )
    assert (info.task, info.layout.kind, info.num_classes) == (
        "classification",
        "classification",
        scores.shape[1],
    )
    (best,) = OnnxModel(info).classify(np.zeros((32, 32, 3), np.uint8), 0.0, top_k=1)
    assert (best.label, best.confidence) == ("class 1", pytest.approx(float(scores.reshape(-1)[1])))


def test_a_four_dimensional_output_that_is_no_classifier_is_refused(tmp_path: Path) -> None:
    """A feature map ``[1, 3, 4, 5]`` (a segmentation head, say) is not three class scores."""
    path = constant_model(
        tmp_path / "m.onnx", {"features": np.zeros((1, 3, 4, 5), np.float32)}, input_shape=(1, 3, 32, 32)
    )
    with pytest.raises(UnknownLayoutError, match="features"):
        inspect_model(path)
