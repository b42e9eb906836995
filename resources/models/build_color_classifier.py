"""Builds color-classifier.onnx: a real, tiny classifier of an image's dominant colour.

It pools the image to its mean RGB colour and picks the nearest of a few
prototype colours (a linear layer: -|x - p|^2 = 2 x.p - |p|^2 - |x|^2, and the
last term is the same for every class). Bundled so the tutorial cascade
(detector -> colour of each box) runs offline; rebuild with
`python resources/models/build_color_classifier.py`.
"""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

COLOURS = {
    "white": (1.0, 1.0, 1.0),
    "gray": (0.5, 0.5, 0.5),
    "black": (0.0, 0.0, 0.0),
    "red": (0.8, 0.1, 0.1),
    "green": (0.1, 0.6, 0.1),
    "blue": (0.1, 0.2, 0.8),
    "yellow": (0.9, 0.85, 0.1),
}
SHARPNESS = 20.0  # larger: more confident softmax


def build(folder: Path) -> Path:
    prototypes = np.array(list(COLOURS.values()), np.float32)  # [C, 3]
    weights = (2 * SHARPNESS * prototypes.T).astype(np.float32)  # [3, C]
    bias = (-SHARPNESS * (prototypes**2).sum(axis=1)).astype(np.float32)  # [C]
    graph = helper.make_graph(
        [
            helper.make_node("GlobalAveragePool", ["images"], ["pooled"]),
            helper.make_node("Flatten", ["pooled"], ["mean_rgb"]),
            helper.make_node("Gemm", ["mean_rgb", "weights", "bias"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "color_classifier",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", len(COLOURS)])],
        initializer=[numpy_helper.from_array(weights, "weights"), numpy_helper.from_array(bias, "bias")],
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="skill-designer"
    )
    model.ir_version = 8
    model.metadata_props.append(onnx.StringStringEntryProto(key="names", value=",".join(COLOURS)))
    onnx.checker.check_model(model)
    path = folder / "color-classifier.onnx"
    onnx.save(model, str(path))
    (folder / "color-classifier.labels.txt").write_text("\n".join(COLOURS) + "\n", encoding="utf-8")
    return path


if __name__ == "__main__":
    print(build(Path(__file__).resolve().parent))
