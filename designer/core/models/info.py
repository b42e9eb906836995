"""What inspecting a model found, as plain values: the library lists and describes its models
without importing onnx, onnxruntime or numpy (their first import holds the interpreter for
most of a second)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from designer.core.models.layouts import LayoutSpec
from designer.core.models.preprocess_settings import PreprocessSettings
from designer.core.models.tensors import TensorInfo

Task = Literal["detection", "classification"]


class ModelInfo(BaseModel):
    """Everything the engine needs to run a model; stored as JSON in the model library."""

    model_config = ConfigDict(frozen=True)

    path: str
    task: Task
    layout: LayoutSpec
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    opset: int
    labels: list[str]
    labels_source: Literal["file", "metadata", "none"]
    num_classes: int | None
    preprocess: PreprocessSettings
    dynamic_batch: bool
    metadata: dict[str, str]
    producer: str

    def label(self, class_id: int) -> str:
        """The class's label, or its number when the model has no label for it."""
        return self.labels[class_id] if 0 <= class_id < len(self.labels) else str(class_id)
