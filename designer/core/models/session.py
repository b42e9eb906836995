"""Run a model: preprocess, infer and decode, as separate steps and as one ``detect``/``classify``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import onnxruntime as ort

from designer.core.models.decoders import class_scores, decode_candidates, nms
from designer.core.models.inspect import ModelInfo, open_session
from designer.core.models.preprocess import Transform, preprocess
from designer.core.models.providers import providers_for
from designer.core.models.results import Classification, Detection

if TYPE_CHECKING:
    from designer.core.models.shared import SessionPool, SharedSession

Box = tuple[float, float, float, float]


class OnnxModel:
    """One onnxruntime session for an inspected model, with the decoder of its layout.

    Thread-safe (onnxruntime allows concurrent ``run``): the engine runs two frames at
    once on one model in lossless runs.
    """

    def __init__(
        self,
        info: ModelInfo,
        acceleration: str = "CPU",
        threads: int = 0,
        on_warning: Callable[[str], None] | None = None,
        *,
        iou_threshold: float = 0.45,
        max_detections: int = 100,
        class_agnostic_nms: bool = False,
        pool: SessionPool | None = None,
        lane: str = "",
    ) -> None:
        self.info = info
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self.class_agnostic_nms = class_agnostic_nms
        options = ort.SessionOptions()
        options.intra_op_num_threads = max(0, threads)
        providers = providers_for(acceleration, on_warning)
        # In a deployment, nodes running the same model share one session (``pool``), queued
        # fairly per ``lane`` (their camera) and batched across lanes when the batch is dynamic.
        self._shared: SharedSession | None = None
        self.lane = lane
        if pool is not None:
            self._shared = pool.acquire(
                info.path,
                providers,
                max(0, threads),
                lambda: open_session(info.path, providers, options),
                dynamic_batch=info.dynamic_batch,
            )
            self._session = self._shared.session
        else:
            self._session = open_session(info.path, providers, options)
        self._pool = pool
        self.providers: list[str] = self._session.get_providers()
        self._input = info.inputs[0].name
        self._output_names = [o.name for o in info.outputs]

    def close(self) -> None:
        """Give a shared session back to its pool (the last user's release frees it); safe twice."""
        shared, self._shared = self._shared, None
        if shared is not None and self._pool is not None:
            self._pool.release(shared)

    @property
    def is_classifier(self) -> bool:
        return self.info.task == "classification"

    def preprocess(self, image_bgr: np.ndarray) -> tuple[np.ndarray, Transform]:
        """A BGR frame -> (input tensor, Transform that maps boxes back to the frame)."""
        return preprocess(image_bgr, self.info.preprocess)

    def infer(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Run the session; outputs by name."""
        if self._shared is not None:
            values = self._shared.run(self._output_names, {self._input: tensor}, self.lane)
        else:
            values = self._session.run(self._output_names, {self._input: tensor})
        return dict(zip(self._output_names, values, strict=True))

    def decode(
        self, outputs: dict[str, np.ndarray], transform: Transform, conf_threshold: float = 0.25
    ) -> list[Detection] | list[Classification]:
        """Detections (NMS applied, boxes normalised to the frame) or classes best first."""
        if self.is_classifier:
            return self._classes(
                class_scores(self.info.layout, outputs[self.info.layout.output_tensor])[0], conf_threshold
            )
        cands = decode_candidates(self.info.layout, outputs, transform, conf_threshold)
        cands = nms(cands, self.iou_threshold, self.max_detections, self.class_agnostic_nms)
        boxes = transform.to_frame(cands.xyxy)
        return [
            Detection(int(c), self.info.label(int(c)), float(s), *map(float, b))
            for c, s, b in zip(cands.class_ids, cands.scores, boxes, strict=True)
            if b[2] > 0.0 and b[3] > 0.0
        ]

    def detect(self, image_bgr: np.ndarray, conf_threshold: float = 0.25) -> list[Detection]:
        tensor, transform = self.preprocess(image_bgr)
        return self.decode(self.infer(tensor), transform, conf_threshold)  # type: ignore[return-value]

    def classify(
        self, image_bgr: np.ndarray, conf_threshold: float = 0.0, top_k: int = 5
    ) -> list[Classification]:
        """The frame's classes, best first (at most ``top_k``)."""
        tensor, _ = self.preprocess(image_bgr)
        probs = class_scores(self.info.layout, self.infer(tensor)[self.info.layout.output_tensor])
        return self._classes(probs[0], conf_threshold, top_k)

    def classify_crops(
        self,
        image_bgr: np.ndarray,
        boxes: Sequence[Box | Detection],
        conf_threshold: float = 0.0,
        top_k: int = 5,
    ) -> list[list[Classification]]:
        """Classify each normalised l,t,w,h box's crop; one list per box, empty for a box
        whose crop is empty. Batched in one run when the model's batch is dynamic."""
        crops = [_crop(image_bgr, b) for b in boxes]
        live = [(i, c) for i, c in enumerate(crops) if c is not None]
        results: list[list[Classification]] = [[] for _ in boxes]
        if not live:
            return results
        output = self.info.layout.output_tensor
        tensors = [self.preprocess(crop)[0] for _, crop in live]
        if self.info.dynamic_batch:
            probs = class_scores(self.info.layout, self.infer(np.concatenate(tensors))[output])
        else:
            probs = np.concatenate([class_scores(self.info.layout, self.infer(t)[output]) for t in tensors])
        for (i, _), row in zip(live, probs, strict=True):
            results[i] = self._classes(row, conf_threshold, top_k)
        return results

    def _classes(self, probs: np.ndarray, conf_threshold: float, top_k: int = 5) -> list[Classification]:
        order = np.argsort(-probs, kind="stable")[:top_k]
        return [
            Classification(int(i), self.info.label(int(i)), float(probs[i]))
            for i in order
            if probs[i] >= conf_threshold
        ]


def _crop(image: np.ndarray, box: Box | Detection) -> np.ndarray | None:
    if isinstance(box, Detection):
        box = (box.left, box.top, box.width, box.height)
    h, w = image.shape[:2]
    left, top, width, height = box
    x1, y1 = max(0, round(left * w)), max(0, round(top * h))
    x2, y2 = min(w, round((left + width) * w)), min(h, round((top + height) * h))
    if x2 <= x1 or y2 <= y1:
        return None
    return image[y1:y2, x1:x2]
