"""Decode raw outputs of each layout into boxes, scores and classes; NMS with OpenCV."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from designer.core.models.layouts import LayoutSpec
from designer.core.models.preprocess import Transform

NORMALISED_LIMIT = 1.5
_EMPTY = np.empty((0, 4), dtype=np.float32)


@dataclass(frozen=True, slots=True)
class Candidates:
    """Detections after the confidence threshold: x1,y1,x2,y2 in input pixels."""

    xyxy: np.ndarray
    scores: np.ndarray
    class_ids: np.ndarray

    @staticmethod
    def empty() -> Candidates:
        return Candidates(_EMPTY, np.empty(0, np.float32), np.empty(0, np.int32))


def decode_candidates(
    spec: LayoutSpec, outputs: dict[str, np.ndarray], transform: Transform, conf: float
) -> Candidates:
    """Boxes of one image above ``conf``, before NMS."""
    if spec.kind == "yolov5":
        return _yolov5(spec, outputs[spec.output_tensor], transform, conf)
    if spec.kind == "yolov8":
        return _yolov8(spec, outputs[spec.output_tensor], transform, conf)
    if spec.kind == "ssd":
        return _ssd(spec, outputs[spec.output_tensor], transform, conf)
    if spec.kind == "boxes_scores":
        return _boxes_scores(spec, outputs, transform, conf)
    raise ValueError(f"layout {spec.kind!r} does not produce boxes")


def nms(cands: Candidates, iou: float, max_detections: int, class_agnostic: bool) -> Candidates:
    """Non-maximum suppression per class (or across classes), best ``max_detections`` kept."""
    if len(cands.scores) == 0:
        return cands
    ltwh = cands.xyxy.astype(np.float64)
    ltwh[:, 2:] -= ltwh[:, :2]
    scores = cands.scores.astype(np.float32)
    class_ids = cands.class_ids.astype(np.int32)
    # OpenCV takes arrays for its sequences; its generated stubs list only Python sequences.
    if class_agnostic:
        found = cv2.dnn.NMSBoxes(ltwh, scores, 0.0, iou)  # type: ignore[arg-type]
    else:
        found = cv2.dnn.NMSBoxesBatched(ltwh, scores, class_ids, 0.0, iou)  # type: ignore[arg-type]
    keep = np.asarray(found, dtype=np.int64).reshape(-1)[:max_detections]
    return Candidates(cands.xyxy[keep], cands.scores[keep], cands.class_ids[keep])


def class_scores(spec: LayoutSpec, output: np.ndarray) -> np.ndarray:
    """Classification output -> probabilities ``[batch, C]`` (softmax unless already ones)."""
    rows = output.reshape(output.shape[0], -1).astype(np.float32)
    softmax = spec.apply_softmax
    if softmax is None:
        sums = rows.sum(axis=1)
        softmax = not (rows.min() >= 0.0 and rows.max() <= 1.0 and np.allclose(sums, 1.0, atol=1e-3))
    if not softmax:
        return rows
    exp = np.exp(rows - rows.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def scores_look_premultiplied(output: np.ndarray) -> bool:
    """YOLOv5-style rows whose class scores never exceed objectness were multiplied by it."""
    rows = output.reshape(-1, output.shape[-1])
    if rows.shape[1] < 6 or len(rows) == 0:
        return False
    return bool(np.all(rows[:, 5:].max(axis=1) <= rows[:, 4] + 1e-5))


def _is_normalised(spec: LayoutSpec, coords: np.ndarray) -> bool:
    if spec.normalized is not None:
        return spec.normalized
    return coords.size == 0 or float(np.abs(coords).max()) <= NORMALISED_LIMIT


def _to_input_pixels(spec: LayoutSpec, xyxy: np.ndarray, all_coords: np.ndarray, t: Transform) -> np.ndarray:
    if _is_normalised(spec, all_coords):
        xyxy = xyxy * np.array([t.in_width, t.in_height] * 2, dtype=np.float32)
    return xyxy


def _cxcywh_to_xyxy(b: np.ndarray) -> np.ndarray:
    half = b[:, 2:4] / 2
    return np.concatenate([b[:, :2] - half, b[:, :2] + half], axis=1)


def _convert(b: np.ndarray, fmt: str) -> np.ndarray:
    if fmt == "cxcywh":
        return _cxcywh_to_xyxy(b)
    if fmt == "xywh":
        return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:4]], axis=1)
    if fmt == "yxyx":
        return b[:, [1, 0, 3, 2]]
    return b


def _yolov5(spec: LayoutSpec, out: np.ndarray, t: Transform, conf: float) -> Candidates:
    rows = out.reshape(-1, out.shape[-1])
    obj = rows[:, 4]
    # Class scores are at most objectness either way, so objectness prefilters cheaply.
    keep = rows[obj >= conf]
    if not spec.scores_include_objectness:
        cls = keep[:, 5:] * keep[:, 4:5]
    else:
        cls = keep[:, 5:]
    class_ids = cls.argmax(axis=1)
    scores = cls[np.arange(len(cls)), class_ids]
    sel = scores >= conf
    xyxy = _cxcywh_to_xyxy(keep[sel, :4].astype(np.float32))
    xyxy = _to_input_pixels(spec, xyxy, rows[:, :4], t)
    return Candidates(xyxy, scores[sel].astype(np.float32), class_ids[sel].astype(np.int32))


def _yolov8(spec: LayoutSpec, out: np.ndarray, t: Transform, conf: float) -> Candidates:
    chans = out.reshape(out.shape[-2], out.shape[-1])
    cls = chans[4:]
    class_ids = cls.argmax(axis=0)
    scores = cls[class_ids, np.arange(cls.shape[1])]
    sel = scores >= conf
    xyxy = _cxcywh_to_xyxy(chans[:4, sel].T.astype(np.float32))
    xyxy = _to_input_pixels(spec, xyxy, chans[:4], t)
    return Candidates(xyxy, scores[sel].astype(np.float32), class_ids[sel].astype(np.int32))


def _ssd(spec: LayoutSpec, out: np.ndarray, t: Transform, conf: float) -> Candidates:
    rows = out.reshape(-1, 7)
    rows = rows[(rows[:, 0] >= 0) & (rows[:, 2] >= conf)]
    xyxy = _to_input_pixels(spec, rows[:, 3:7].astype(np.float32), rows[:, 3:7], t)
    return Candidates(xyxy, rows[:, 2].astype(np.float32), rows[:, 1].astype(np.int32))


def _boxes_scores(spec: LayoutSpec, outputs: dict[str, np.ndarray], t: Transform, conf: float) -> Candidates:
    boxes = outputs[spec.boxes_tensor].reshape(-1, 4).astype(np.float32)
    scores = outputs[spec.scores_tensor].astype(np.float32)
    n = len(boxes)
    if spec.count_output is not None:
        n = min(n, int(np.asarray(outputs[spec.count_output]).reshape(-1)[0]))
        boxes = boxes[:n]
    if scores.size == len(outputs[spec.boxes_tensor].reshape(-1, 4)):
        scores = scores.reshape(-1)[:n]
        if spec.classes_output is not None:
            class_ids = outputs[spec.classes_output].reshape(-1)[:n].astype(np.int32)
        else:
            class_ids = np.zeros(n, dtype=np.int32)
    else:
        per_class = scores.reshape(-1, scores.shape[-1])[:n]
        class_ids = per_class.argmax(axis=1).astype(np.int32)
        scores = per_class[np.arange(len(per_class)), class_ids]
    sel = scores >= conf
    xyxy = _to_input_pixels(spec, _convert(boxes[sel], spec.box_format), boxes, t)
    return Candidates(xyxy, scores[sel], class_ids[sel])
