"""Tiny real ONNX models whose outputs are exactly known, for the model and engine tests.

``constant_model`` ignores its input's content (it adds 0 x the input mean) and emits the
given tensors, so a test knows which boxes must come out. ``color_classifier`` and
``blob_detector`` really look at the frame, for tests of crops and moving objects.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
_ONNX_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.int32): TensorProto.INT32,
}


def _save(graph: onnx.GraphProto, path: Path, metadata: dict[str, str] | None) -> Path:
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="onnx_factory"
    )
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)


def constant_model(
    path: Path,
    outputs: dict[str, np.ndarray],
    *,
    input_shape: Sequence[int | str] = (1, 3, 32, 32),
    input_name: str = "images",
    input_dtype: type = np.float32,
    output_shapes: dict[str, Sequence[int | str | None]] | None = None,
    metadata: dict[str, str] | None = None,
) -> Path:
    """A model with one image input whose outputs are exactly ``outputs`` (in that order).

    ``output_shapes`` declares other (e.g. symbolic) output shapes than the arrays' own.
    """
    in_type = _ONNX_TYPES[np.dtype(input_dtype)]
    nodes = []
    source = input_name
    if in_type != TensorProto.FLOAT:
        nodes.append(helper.make_node("Cast", [input_name], ["as_float"], to=TensorProto.FLOAT))
        source = "as_float"
    nodes += [
        helper.make_node("ReduceMean", [source], ["mean"], keepdims=0),
        helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
    ]
    inits = [numpy_helper.from_array(np.zeros((), np.float32), "zero")]
    outs = []
    for name, value in outputs.items():
        value = np.asarray(value)
        otype = _ONNX_TYPES[value.dtype]
        added = "nothing"
        if otype != TensorProto.FLOAT:
            nodes.append(helper.make_node("Cast", ["nothing"], [f"{name}_zero"], to=otype))
            added = f"{name}_zero"
        inits.append(numpy_helper.from_array(value, f"{name}_value"))
        nodes.append(helper.make_node("Add", [f"{name}_value", added], [name]))
        shape = (output_shapes or {}).get(name, list(value.shape))
        outs.append(helper.make_tensor_value_info(name, otype, list(shape)))
    graph = helper.make_graph(
        nodes,
        "constant_model",
        [helper.make_tensor_value_info(input_name, in_type, list(input_shape))],
        outs,
        initializer=inits,
    )
    return _save(graph, path, metadata)


def color_classifier(
    path: Path,
    *,
    size: int = 16,
    dynamic_batch: bool = False,
    probabilities: bool = False,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Classes (R, G, B) by the input's mean colour: logits = 10 x mean of each RGB channel
    of an NCHW 0..1 input. ``probabilities`` adds a Softmax to the graph."""
    batch: int | str = "batch" if dynamic_batch else 1
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0),
        helper.make_node("MatMul", ["pooled", "w"], ["logits" if probabilities else "scores"]),
    ]
    if probabilities:
        nodes.append(helper.make_node("Softmax", ["logits"], ["scores"], axis=1))
    graph = helper.make_graph(
        nodes,
        "color_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 3, size, size])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, 3])],
        initializer=[numpy_helper.from_array(np.eye(3, dtype=np.float32) * 10.0, "w")],
    )
    return _save(graph, path, metadata)


def blob_detector(path: Path, *, size: int = 64, metadata: dict[str, str] | None = None) -> Path:
    """Finds the one bright rectangle on a dark frame; YOLOv8 layout [1, 5, 1] in input pixels.

    Pixels brighter than half (mean over RGB, input 0..1) form the blob: the box is centred
    on their centroid, as wide and high as the columns and rows they cover; the score is 1
    when there is a blob, else 0 (so nothing is detected on an empty frame).
    """
    xs = np.tile(np.arange(size, dtype=np.float32) + 0.5, (size, 1)).reshape(1, 1, size, size)
    # Every reduction keeps its dims ([1, 1, 1, 1]) so the parts concatenate on axis 1.
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["gray"], axes=[1], keepdims=1),
        helper.make_node("Greater", ["gray", "half"], ["mask_b"]),
        helper.make_node("Cast", ["mask_b"], ["mask"], to=TensorProto.FLOAT),
        helper.make_node("ReduceSum", ["mask", "hw"], ["area"], keepdims=1),
        helper.make_node("Max", ["area", "one"], ["safe_area"]),
        helper.make_node("Mul", ["mask", "xs"], ["mx"]),
        helper.make_node("Mul", ["mask", "ys"], ["my"]),
        helper.make_node("ReduceSum", ["mx", "hw"], ["sx"], keepdims=1),
        helper.make_node("ReduceSum", ["my", "hw"], ["sy"], keepdims=1),
        helper.make_node("Div", ["sx", "safe_area"], ["cx"]),
        helper.make_node("Div", ["sy", "safe_area"], ["cy"]),
        helper.make_node("ReduceMax", ["mask"], ["cols"], axes=[2], keepdims=1),
        helper.make_node("ReduceMax", ["mask"], ["rows"], axes=[3], keepdims=1),
        helper.make_node("ReduceSum", ["cols", "hw"], ["width"], keepdims=1),
        helper.make_node("ReduceSum", ["rows", "hw"], ["height"], keepdims=1),
        helper.make_node("Min", ["area", "one"], ["score"]),
        helper.make_node("Concat", ["cx", "cy", "width", "height", "score"], ["flat"], axis=1),
        helper.make_node("Reshape", ["flat", "out_shape"], ["output0"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([2, 3], np.int64), "hw"),
        numpy_helper.from_array(np.array(0.5, np.float32), "half"),
        numpy_helper.from_array(np.array(1.0, np.float32), "one"),
        numpy_helper.from_array(xs, "xs"),
        numpy_helper.from_array(np.ascontiguousarray(xs.transpose(0, 1, 3, 2)), "ys"),
        numpy_helper.from_array(np.array([1, 5, 1], np.int64), "out_shape"),
    ]
    graph = helper.make_graph(
        nodes,
        "blob_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 5, 1])],
        initializer=inits,
    )
    return _save(graph, path, metadata)


def write_labels(path: Path, labels: Sequence[str], *, encoding: str = "utf-8") -> Path:
    """A label file, one label per line."""
    Path(path).write_text("\n".join(labels) + "\n", encoding=encoding)
    return Path(path)


#: The 8 labels of ``normalisation_classifier``: for R, G and B, upper case when the picture's
#: mean is above the ImageNet mean of that channel, lower case when below.
NORMALISATION_LABELS = [
    "".join(c.upper() if (k >> (2 - i)) & 1 else c for i, c in enumerate("rgb")) for k in range(8)
]


def normalisation_classifier(path: Path, size: int = 64) -> Path:
    """A real classifier whose answer depends on mean/std normalisation, like an ImageNet model:
    it pools the input to its mean per channel and answers, for each channel, whether that mean
    is above zero. Fed ImageNet-normalised input, zero is the ImageNet mean, so the answer says
    how the picture compares with it (``NORMALISATION_LABELS``); fed plain 0..1 pixels every
    mean is above zero and the answer is always "RGB", as a wrongly set up model answers
    "binoculars" for everything."""
    signs = np.array([[1.0 if (k >> (2 - i)) & 1 else -1.0 for k in range(8)] for i in range(3)], np.float32)
    nodes = [
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
        helper.make_node("MatMul", ["features", "signs"], ["logits"]),
        helper.make_node("Mul", ["logits", "sharpness"], ["sharp"]),
        helper.make_node("Softmax", ["sharp"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes,
        "normalisation_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 8])],
        [
            numpy_helper.from_array(signs, "signs"),
            numpy_helper.from_array(np.array(20.0, np.float32), "sharpness"),
        ],
    )
    return _save(graph, path, None)
