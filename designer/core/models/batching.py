"""A model re-exported with a dynamic batch dimension: the same weights, several frames per run.

Exporters often bake batch 1 into a detector's graph: the input and output shapes, the target
shapes of its Reshape nodes, and constants (anchor grids) concatenated with per-frame tensors.
``make_batch_dynamic`` rewrites those: the input and outputs get a symbolic ``batch``, a
Reshape target ``[1, a, b]`` becomes ``[-1, a, b]`` (or ``[batch, -1, b]`` when it already has a
-1), and a batch-1 constant concatenated on another axis is expanded to the batch. A deployment
then batches frames of several cameras into one inference (``designer.core.models.shared``).
The results for each frame are those of the original model; the caller checks that with
``same_outputs``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from designer.core.models.errors import ModelError

#: Reads a graph input's value when it is a constant (initializer or Constant node), else None.
ConstantReader = Callable[[str], np.ndarray | None]


def make_batch_dynamic(src: str | Path, dst: str | Path) -> int:
    """Write ``src`` with a dynamic batch to ``dst``; returns how many places were rewritten."""
    model = onnx.load(str(src))
    graph = model.graph
    if len(graph.input) != 1:
        raise ModelError(f"model {src}: {len(graph.input)} inputs; only single-input models are rewritten")
    constant = _constant_reader(graph)
    added = _batch_size_nodes(graph)
    rewritten = 0
    for index, node in enumerate(list(graph.node)):
        if node.op_type == "Reshape":
            rewritten += _rewrite_reshape(graph, node, index, constant, added)
        elif node.op_type == "Concat":
            rewritten += _expand_concat_constants(graph, node, index, constant, added)
    _insert_nodes(graph, added)
    for info in [*graph.input, *graph.output]:
        info.type.tensor_type.shape.dim[0].dim_param = "batch"
    del graph.value_info[:]
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))
    return rewritten


def _constant_reader(graph: onnx.GraphProto) -> ConstantReader:
    """Shape targets and anchor grids may be initializers or Constant nodes; read either the same way.

    Only the graph's original constants are known: the ones this rewrite adds are never rewritten.
    """
    initializers = {i.name: i for i in graph.initializer}
    constants = {n.output[0]: n for n in graph.node if n.op_type == "Constant"}

    def constant(name: str) -> np.ndarray | None:
        if name in initializers:
            return numpy_helper.to_array(initializers[name])
        node = constants.get(name)
        if node is not None and node.attribute and node.attribute[0].name == "value":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    return constant


def _batch_size_nodes(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """Nodes giving ``batching_batch``, the batch size read from the input, for shapes built at run time."""
    graph.initializer.append(numpy_helper.from_array(np.array([0], np.int64), "batching_zero"))
    return [
        helper.make_node("Shape", [graph.input[0].name], ["batching_input_shape"]),
        helper.make_node("Gather", ["batching_input_shape", "batching_zero"], ["batching_batch"], axis=0),
    ]


def _rewrite_reshape(
    graph: onnx.GraphProto,
    node: onnx.NodeProto,
    index: int,
    constant: ConstantReader,
    added: list[onnx.NodeProto],
) -> int:
    """A constant Reshape target ``[1, ...]`` baked batch 1 in; returns 1 when it was rewritten.

    Without a -1 the batch becomes -1; with one already (only one is allowed), the target is
    built at run time as ``[batch, rest...]``.
    """
    target = constant(node.input[1])
    if target is None or target.ndim != 1 or not target.size or target[0] != 1:
        return 0
    if -1 not in target:
        fixed = target.astype(np.int64).copy()
        fixed[0] = -1
        name = f"batching_reshape_{index}"
        graph.initializer.append(numpy_helper.from_array(fixed, name))
    else:
        rest = f"batching_rest_{index}"
        graph.initializer.append(numpy_helper.from_array(target[1:].astype(np.int64), rest))
        name = f"batching_shape_{index}"
        added.append(helper.make_node("Concat", ["batching_batch", rest], [name], axis=0))
    node.input[1] = name
    return 1


def _expand_concat_constants(
    graph: onnx.GraphProto,
    node: onnx.NodeProto,
    index: int,
    constant: ConstantReader,
    added: list[onnx.NodeProto],
) -> int:
    """Batch-1 constants (anchor grids) concatenated off the batch axis would not match a larger
    batch: expand each to the run's batch. Returns how many were expanded."""
    axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
    if axis == 0:
        return 0
    rewritten = 0
    for position, name in enumerate(node.input):
        value = constant(name)
        if value is None or value.ndim == 0 or value.shape[0] != 1:
            continue
        rest, shape, out = (f"batching_{kind}_{index}_{position}" for kind in ("dims", "to", "expanded"))
        graph.initializer.append(numpy_helper.from_array(np.array(value.shape[1:], np.int64), rest))
        added += [
            helper.make_node("Concat", ["batching_batch", rest], [shape], axis=0),
            helper.make_node("Expand", [name, shape], [out]),
        ]
        node.input[position] = out
        rewritten += 1
    return rewritten


def _insert_nodes(graph: onnx.GraphProto, added: list[onnx.NodeProto]) -> None:
    """Put the new nodes where their inputs exist, keeping the graph topologically sorted.

    They read only the input and constants, so they go after the Constant nodes still used and
    before the rest; Constant nodes no longer used (replaced by the rewrite) are dropped.
    """
    used = {name for n in [*graph.node, *added] for name in n.input} | {o.name for o in graph.output}
    first = [n for n in graph.node if n.op_type == "Constant" and n.output[0] in used]
    rest_nodes = [n for n in graph.node if n.op_type != "Constant"]
    del graph.node[:]
    graph.node.extend(first + added + rest_nodes)


def same_outputs(original: str | Path, batched: str | Path, frames: int = 3, atol: float = 1e-4) -> bool:
    """True when ``batched`` run on ``frames`` random inputs at once gives, frame by frame, what
    ``original`` gives on each alone."""
    one = ort.InferenceSession(str(original), providers=["CPUExecutionProvider"])
    many = ort.InferenceSession(str(batched), providers=["CPUExecutionProvider"])
    spec = one.get_inputs()[0]
    shape = [d if isinstance(d, int) else 1 for d in spec.shape]
    rng = np.random.default_rng(0)
    inputs = [rng.random(shape, dtype=np.float32) for _ in range(frames)]
    joined = many.run(None, {spec.name: np.concatenate(inputs)})
    for index, x in enumerate(inputs):
        alone = one.run(None, {spec.name: x})
        if not all(np.allclose(a[0], b[index], atol=atol) for a, b in zip(alone, joined, strict=True)):
            return False
    return True
