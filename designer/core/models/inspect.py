"""Inspect an ONNX file: I/O, opset, metadata, output layout, pre-processing and labels.

Inspection refuses what the engine could not run: it also runs the model once on a
blank frame and decodes the result, so a model that passes here runs in a skill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx
import onnxruntime as ort

from designer.core.models.decoders import class_scores, decode_candidates, scores_look_premultiplied
from designer.core.models.errors import LabelError, ModelError
from designer.core.models.info import ModelInfo, Task
from designer.core.models.labels import labels_from_metadata, read_label_file
from designer.core.models.layouts import (
    LayoutSpec,
    layout_num_classes,
    resolve_layout,
    task_of,
)
from designer.core.models.preprocess import preprocess
from designer.core.models.preprocess_infer import infer_preprocess
from designer.core.models.preprocess_settings import PreprocessSettings
from designer.core.models.tensors import TensorInfo

_ORT_TYPES = {
    "tensor(float)": "float32",
    "tensor(float16)": "float16",
    "tensor(double)": "float64",
    "tensor(uint8)": "uint8",
    "tensor(int8)": "int8",
    "tensor(int32)": "int32",
    "tensor(int64)": "int64",
    "tensor(bool)": "bool",
}


def inspect_model(
    path: str | Path,
    labels_path: str | Path | None = None,
    *,
    task: Task | None = None,
    layout: str | LayoutSpec | dict[str, Any] | None = None,
    **preprocess_overrides: Any,
) -> ModelInfo:
    """Load ``path`` in onnxruntime and describe it; raise ModelError on anything unrunnable.

    ``layout`` overrides the detected output layout (a kind name, or LayoutSpec fields);
    keyword arguments override the detected pre-processing (PreprocessSettings fields).
    """
    path = Path(path)
    where = f"model {path}"
    proto = _load_proto(path, where)
    session = open_session(path, ["CPUExecutionProvider"])
    inputs = [_tensor(t) for t in session.get_inputs()]
    outputs = [_tensor(t) for t in session.get_outputs()]
    if len(inputs) != 1:
        raise ModelError(
            f"{where}: has {len(inputs)} inputs ({', '.join(t.describe() for t in inputs)}); "
            "only models with a single image input are supported"
        )
    metadata = {p.key: p.value for p in proto.metadata_props}
    settings = infer_preprocess(inputs[0], metadata, preprocess_overrides, where)
    labels, source = _labels(labels_path, metadata, where)
    spec = resolve_layout(layout, outputs, len(labels) or None, task, where)
    if task is not None and task_of(spec.kind) != task:
        raise ModelError(
            f"{where}: layout {spec.kind} gives {task_of(spec.kind)} results, not {task}; "
            "check the model type, or choose a matching layout"
        )
    num_classes = layout_num_classes(spec, outputs)
    if labels and num_classes is not None and len(labels) != num_classes:
        origin = f"label file {labels_path}" if source == "file" else "the ONNX metadata"
        raise LabelError(
            f"{where}: {origin} has {len(labels)} labels but the model's output has "
            f"{num_classes} classes; give a label file with one label per class"
        )
    spec = _probe(session, inputs[0], settings, spec, where)
    return ModelInfo(
        path=str(path),
        task=task_of(spec.kind),
        layout=spec,
        inputs=inputs,
        outputs=outputs,
        opset=_opset(proto),
        labels=labels,
        labels_source=source,
        num_classes=num_classes if num_classes is not None else (len(labels) or None),
        preprocess=settings,
        dynamic_batch=not isinstance(inputs[0].shape[0], int),
        metadata=metadata,
        producer=f"{proto.producer_name} {proto.producer_version}".strip(),
    )


def open_session(
    path: str | Path, providers: list[str], options: ort.SessionOptions | None = None
) -> ort.InferenceSession:
    """An onnxruntime session, with a ModelError naming the file when it cannot load."""
    path = Path(path)
    if path.is_dir():
        raise ModelError(f"model {path}: is a folder, not an ONNX file; name the .onnx file in it")
    if not path.is_file():
        raise ModelError(f"model {path}: file not found; check the path or re-add the model")
    try:
        # enable_fallback=0: onnxruntime would print an "EP Error" block on stdout and retry;
        # the providers list already ends with the CPU, and the error is reported here
        return ort.InferenceSession(str(path), options, providers=providers, enable_fallback=0)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/... types
        raise ModelError(
            f"model {path}: onnxruntime cannot load it ({_first_line(exc)}); "
            "the file is corrupt, truncated or not an ONNX model - export it again"
        ) from exc


def _load_proto(path: Path, where: str) -> onnx.ModelProto:
    if path.is_dir():
        raise ModelError(f"{where}: is a folder, not an ONNX file; name the .onnx file in it")
    if not path.is_file():
        raise ModelError(f"{where}: file not found; check the path")
    if path.stat().st_size == 0:
        raise ModelError(f"{where}: the file is empty; copy or download the model again")
    try:
        # Weights in external files are onnxruntime's to load; the graph header is enough here.
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError and friends
        raise ModelError(
            f"{where}: not a readable ONNX file ({_first_line(exc)}); "
            "the file is corrupt, truncated or not an ONNX model - export it again"
        ) from exc
    if not proto.graph.output or not proto.opset_import:
        raise ModelError(f"{where}: not an ONNX model (no graph outputs or opset); export it again")
    return proto


def _first_line(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]


def _tensor(arg: ort.NodeArg) -> TensorInfo:
    shape = [d if isinstance(d, int | str) or d is None else None for d in (arg.shape or [])]
    return TensorInfo(name=arg.name, shape=shape, dtype=_ORT_TYPES.get(arg.type, arg.type))


def _opset(proto: onnx.ModelProto) -> int:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _labels(
    labels_path: str | Path | None, metadata: dict[str, str], where: str
) -> tuple[list[str], Literal["file", "metadata", "none"]]:
    if labels_path is not None:
        return read_label_file(labels_path), "file"
    labels = labels_from_metadata(metadata, where)
    return (labels, "metadata") if labels else ([], "none")


def _probe(
    session: ort.InferenceSession,
    image_input: TensorInfo,
    settings: PreprocessSettings,
    spec: LayoutSpec,
    where: str,
) -> LayoutSpec:
    """Run a blank frame through the model and decode it; settle objectness scaling."""
    frame = np.full((settings.height, settings.width, 3), 114, dtype=np.uint8)
    tensor, transform = preprocess(frame, settings)
    try:
        values = session.run(None, {image_input.name: tensor})
    except Exception as exc:
        raise ModelError(
            f"{where}: fails to run on a blank {settings.width}x{settings.height} frame "
            f"({_first_line(exc)}); check the input size and pre-processing settings"
        ) from exc
    outputs = {o.name: v for o, v in zip(session.get_outputs(), values, strict=True)}
    try:
        if spec.kind == "classification":
            class_scores(spec, outputs[spec.output])
        else:
            decode_candidates(spec, outputs, transform, 0.0)
    except (ValueError, IndexError, KeyError) as exc:
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in outputs.items())
        raise ModelError(
            f"{where}: its outputs ({shapes}) cannot be decoded as layout {spec.kind} "
            f"({exc}); choose another layout"
        ) from exc
    if spec.kind == "yolov5" and spec.scores_include_objectness is None:
        premultiplied = scores_look_premultiplied(outputs[spec.output])
        spec = spec.model_copy(update={"scores_include_objectness": premultiplied})
    return spec
