"""Pre-processing settings: plain values, importable without numpy or OpenCV (the model
library lists its models without loading either)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DataFormat = Literal["NCHW", "NHWC"]
ColorOrder = Literal["RGB", "BGR", "GRAY"]
ResizeMode = Literal["stretch", "letterbox"]
InputDType = Literal["float32", "float16", "uint8"]


class PreprocessSettings(BaseModel):
    """How a frame becomes an input tensor: ``((pixel * scale) - mean) / std`` after resizing.

    ``mean`` and ``std`` apply to the already scaled values (so ImageNet models with
    ``scale=1/255`` use ``mean=(0.485, 0.456, 0.406)``), in the model's channel order.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    width: int = Field(gt=0)
    height: int = Field(gt=0)
    data_format: DataFormat = "NCHW"
    color: ColorOrder = "RGB"
    scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0, 0.0, 0.0)
    std: tuple[float, ...] = (1.0, 1.0, 1.0)
    resize: ResizeMode = "stretch"
    pad_value: int = Field(default=114, ge=0, le=255)
    dtype: InputDType = "float32"


#: Value ranges a model may expect, as (scale, mean, std) over 0..255 pixels; the Add model wizard
#: and the Models page offer them by name.
PRESETS: dict[str, tuple[float, tuple[float, ...], tuple[float, ...]]] = {
    "0..1": (1.0 / 255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
    "ImageNet mean/std": (1.0 / 255.0, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
    "-1..1": (1.0 / 127.5, (1.0, 1.0, 1.0), (1.0, 1.0, 1.0)),
    "raw 0..255": (1.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)),
}


def preset_of(settings: PreprocessSettings) -> str | None:
    """The name of the preset ``settings`` uses (scale, mean and std), or None for a custom one."""
    for name, (scale, mean, std) in PRESETS.items():
        if abs(settings.scale - scale) < 1e-9 and _close(settings.mean, mean) and _close(settings.std, std):
            return name
    return None


def preset_overrides(name: str) -> dict[str, object]:
    """The pre-processing overrides (``scale``, ``mean``, ``std``) of a preset."""
    scale, mean, std = PRESETS[name]
    return {"scale": scale, "mean": mean, "std": std}


def _close(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b, strict=True))
