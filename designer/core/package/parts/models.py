"""``models/<id>/``: each distinct model once, its label file and ``model.json`` (its settings)."""

from __future__ import annotations

import json
from pathlib import Path

from designer.core.models.inspect import ModelInfo
from designer.core.package.context import ExportContext, ExportError
from designer.core.package.models import PackagedModel
from designer.core.package.parts import PartOutput
from designer.core.skill.compiled import CompiledSkill


def inspected(model: PackagedModel) -> ModelInfo:
    """What inspecting the model found (the export inspects every model before the parts run)."""
    if model.info is None:
        raise ExportError(f"model {model.id}: it was not inspected; cannot describe it in the package")
    return model.info


def model_settings(model: PackagedModel) -> bytes:
    info = inspected(model)
    data = {
        "id": model.id,
        "nodes": model.nodes,
        "source": model.source,
        "task": info.task,
        "layout": info.layout.model_dump(),
        "preprocess": info.preprocess.model_dump(),
        "labels_source": info.labels_source,
        "num_classes": info.num_classes,
        "opset": info.opset,
        "inputs": [t.model_dump() for t in info.inputs],
        "outputs": [t.model_dump() for t in info.outputs],
        "producer": info.producer,
        "overrides": model.overrides,
    }
    return (json.dumps(data, indent=2, sort_keys=True, default=list, allow_nan=False) + "\n").encode()


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    files: dict[str, bytes | Path] = {}
    for model in context.models.values():
        files[model.onnx_name] = model.onnx
        if model.labels is not None:
            files[model.labels_name] = model.labels
        files[f"models/{model.id}/model.json"] = model_settings(model)
    return PartOutput(files)
