"""Turn a BGR frame into the model's input tensor, and remember how to map boxes back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
import numpy.typing as npt

from designer.core.models.preprocess_settings import (  # noqa: F401 - re-exported
    ColorOrder,
    DataFormat,
    InputDType,
    PreprocessSettings,
    ResizeMode,
)


@dataclass(frozen=True, slots=True)
class Transform:
    """How a frame was mapped into the input: ``input_px = source_px * scale + pad``."""

    src_width: int
    src_height: int
    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    in_width: int
    in_height: int

    def to_frame(self, xyxy: np.ndarray) -> np.ndarray:
        """Boxes ``[N, 4]`` x1,y1,x2,y2 in input pixels -> l,t,w,h normalised to the frame,
        clipped to [0, 1]."""
        out = np.empty((len(xyxy), 4), dtype=np.float32)
        x1 = np.clip((xyxy[:, 0] - self.pad_x) / (self.scale_x * self.src_width), 0.0, 1.0)
        y1 = np.clip((xyxy[:, 1] - self.pad_y) / (self.scale_y * self.src_height), 0.0, 1.0)
        x2 = np.clip((xyxy[:, 2] - self.pad_x) / (self.scale_x * self.src_width), 0.0, 1.0)
        y2 = np.clip((xyxy[:, 3] - self.pad_y) / (self.scale_y * self.src_height), 0.0, 1.0)
        out[:, 0], out[:, 1], out[:, 2], out[:, 3] = x1, y1, x2 - x1, y2 - y1
        return out


def resize_image(image_bgr: np.ndarray, s: PreprocessSettings) -> tuple[np.ndarray, Transform]:
    """Resize (stretch or letterbox) a BGR frame to the input size."""
    if image_bgr.ndim == 2:
        image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_GRAY2BGR)
    h, w = image_bgr.shape[:2]
    if h == 0 or w == 0:
        raise ValueError(f"cannot pre-process an empty image of size {w}x{h}")
    if s.resize == "stretch":
        out = cv2.resize(image_bgr, (s.width, s.height), interpolation=cv2.INTER_LINEAR)
        return out, Transform(w, h, s.width / w, s.height / h, 0.0, 0.0, s.width, s.height)
    ratio = min(s.width / w, s.height / h)
    new_w, new_h = max(1, round(w * ratio)), max(1, round(h * ratio))
    left, top = (s.width - new_w) // 2, (s.height - new_h) // 2
    resized = cv2.resize(image_bgr, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    out = cv2.copyMakeBorder(
        resized,
        top,
        s.height - new_h - top,
        left,
        s.width - new_w - left,
        cv2.BORDER_CONSTANT,
        value=(s.pad_value,) * 3,
    )
    return out, Transform(w, h, new_w / w, new_h / h, float(left), float(top), s.width, s.height)


def to_tensor(resized_bgr: np.ndarray, s: PreprocessSettings) -> np.ndarray:
    """A resized BGR image -> a batch-of-one tensor in the model's layout, colour and dtype."""
    if s.color == "RGB":
        image = cv2.cvtColor(resized_bgr, cv2.COLOR_BGR2RGB)
    elif s.color == "GRAY":
        image = cv2.cvtColor(resized_bgr, cv2.COLOR_BGR2GRAY)[:, :, None]
    else:
        image = resized_bgr
    if s.dtype == "uint8":
        batch = image[None]
        return np.ascontiguousarray(batch.transpose(0, 3, 1, 2) if s.data_format == "NCHW" else batch)
    # blobFromImage scales, converts and transposes to NCHW in one native pass; its blob is
    # float32 (the default ddepth), which its stub's return type (any Mat) cannot say.
    tensor = cast("npt.NDArray[np.float32]", cv2.dnn.blobFromImage(image, scalefactor=s.scale, swapRB=False))
    channels = tensor.shape[1]
    if any(m != 0.0 for m in s.mean) or any(d != 1.0 for d in s.std):
        mean = np.asarray(s.mean[:channels], dtype=np.float32).reshape(1, channels, 1, 1)
        std = np.asarray(s.std[:channels], dtype=np.float32).reshape(1, channels, 1, 1)
        tensor -= mean
        tensor /= std
    if s.data_format == "NHWC":
        tensor = np.ascontiguousarray(tensor.transpose(0, 2, 3, 1))
    return tensor.astype(np.float16) if s.dtype == "float16" else tensor


def preprocess(image_bgr: np.ndarray, s: PreprocessSettings) -> tuple[np.ndarray, Transform]:
    """A BGR frame -> (input tensor, Transform to map boxes back to the frame)."""
    resized, transform = resize_image(image_bgr, s)
    return to_tensor(resized, s), transform
