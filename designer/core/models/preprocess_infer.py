"""Work out the pre-processing from the model's input and metadata; every item overridable."""

from __future__ import annotations

import ast
from typing import Any

from pydantic import ValidationError

from designer.core.models.errors import ModelError
from designer.core.models.preprocess_settings import PreprocessSettings
from designer.core.models.tensors import TensorInfo, fixed

_DTYPES = {"float32": "float32", "float16": "float16", "uint8": "uint8"}
MAX_INPUT_SIDE = 8192  # pixels; larger inputs do not fit a frame's tensor in memory on a device


def infer_preprocess(
    image_input: TensorInfo, metadata: dict[str, str], overrides: dict[str, Any], where: str
) -> PreprocessSettings:
    """Settings from the input shape/dtype, ultralytics metadata and the user's overrides.

    Defaults: NCHW unless the channels sit last, RGB (GRAY for one channel), float input
    scaled to 0..1 (uint8 input fed raw), plain resize except for ultralytics exports
    (letterbox), no mean/std. A dynamic spatial size needs ``imgsz`` metadata or an override.
    """
    _check_input(image_input, overrides, where)
    shape = image_input.shape
    data_format = overrides.get("data_format") or _data_format(shape)
    channels = fixed(shape[1] if data_format == "NCHW" else shape[3])
    sides = dict(zip(("height", "width"), shape[2:] if data_format == "NCHW" else shape[1:3], strict=True))
    size = _metadata_size(metadata)
    values: dict[str, Any] = {
        "width": fixed(sides["width"]) or (size[1] if size else None),
        "height": fixed(sides["height"]) or (size[0] if size else None),
        "data_format": data_format,
        "color": "GRAY" if channels == 1 else "RGB",
        "dtype": _DTYPES[image_input.dtype],
        "scale": 1.0 if image_input.dtype == "uint8" else 1.0 / 255.0,
        "resize": "letterbox" if _is_ultralytics(metadata) else "stretch",
    }
    for key, side in sides.items():
        if key in overrides and fixed(side) not in (None, overrides[key]):
            raise ModelError(
                f"{where}: input {image_input.describe()} has a fixed {key} of {values[key]}; "
                f"the override {key}={overrides[key]} cannot apply"
            )
    values.update(overrides)
    _check_size(values, image_input, where)
    try:
        return PreprocessSettings(**values)
    except ValidationError as exc:
        raise ModelError(f"{where}: invalid pre-processing settings: {plain_errors(exc)}") from None


def _check_input(image_input: TensorInfo, overrides: dict[str, Any], where: str) -> None:
    """Known override names, an image batch, a supported element type."""
    unknown = set(overrides) - set(PreprocessSettings.model_fields)
    if unknown:
        raise ModelError(
            f"{where}: unknown pre-processing setting(s) {', '.join(sorted(unknown))}; "
            f"valid ones are {', '.join(PreprocessSettings.model_fields)}"
        )
    if len(image_input.shape) != 4:
        raise ModelError(
            f"{where}: input {image_input.describe()} is not an image batch "
            "[N, C, H, W] or [N, H, W, C]; only image models are supported"
        )
    if image_input.dtype not in _DTYPES:
        raise ModelError(
            f"{where}: input {image_input.describe()} has type {image_input.dtype}; "
            "supported input types are float32, float16 and uint8"
        )


def _check_size(values: dict[str, Any], image_input: TensorInfo, where: str) -> None:
    """A known input size that fits in memory on a device."""
    if values["width"] is None or values["height"] is None:
        raise ModelError(
            f"{where}: input {image_input.describe()} has a dynamic spatial size; "
            "give the input size (width=..., height=...) when adding the model"
        )
    for key in ("width", "height"):
        size = values[key]
        if isinstance(size, int) and size > MAX_INPUT_SIDE:
            # a 100000 x 100000 input is 28 GiB per frame: refuse it here, not with a MemoryError
            raise ModelError(
                f"{where}: an input {key} of {size} pixels is too large (at most {MAX_INPUT_SIDE}); "
                "give a smaller size with --preprocess width=... height=..., or export the model "
                "with a smaller input"
            )


def plain_errors(exc: ValidationError) -> str:
    """A pydantic error as one sentence per field (``resize: Input should be ...``), no links."""
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or 'value'}: {error['msg']}" for error in exc.errors()
    )


def _data_format(shape: list) -> str:
    second, last = fixed(shape[1]), fixed(shape[3])
    if last in (1, 3) and second not in (1, 3):
        return "NHWC"
    return "NCHW"


def _is_ultralytics(metadata: dict[str, str]) -> bool:
    return "ultralytics" in metadata.get("author", "").lower() or (
        "stride" in metadata and "names" in metadata and "imgsz" in metadata
    )


def _metadata_size(metadata: dict[str, str]) -> tuple[int, int] | None:
    """``imgsz`` as ultralytics writes it ("[640, 640]", height first) or a single number."""
    raw = metadata.get("imgsz")
    if not raw:
        return None
    try:
        value = ast.literal_eval(raw.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, int) and value > 0:
        return value, value
    if (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and v > 0 for v in value)
    ):
        return value[0], value[1]
    return None
