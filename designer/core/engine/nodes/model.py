"""Run ML Model: detection adds objects; classification labels each upstream box's crop.

With no upstream boxes a classifier labels the whole frame (an object
covering the frame), so its result still reaches the exports.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from designer.core.engine.frame import Attribute, BBox, Frame, ObjectMeta
from designer.core.engine.runtime import NodeRuntime
from designer.core.models.errors import ModelError
from designer.core.models.inspect import inspect_model
from designer.core.models.session import OnnxModel
from designer.core.skill.catalog.process import ModelParams

LIVE_FIELDS = {"confidence_threshold", "nms_iou", "max_detections"}  # changes that need no reload


def _threading(threads: int, lossless: bool) -> tuple[int, int]:
    """(intra-op threads, frames in flight) for the node's ``threads`` setting.

    Automatic (0): a live run keeps latency low, one frame on every core; a
    lossless run (a file at full speed) favours throughput, two frames at
    once on half the cores each: on 2 cores that gives about 6-17 % more
    frames per second (bench/engine_bench.py), since one frame leaves cores
    idle between operators. An explicit count means one frame on that many.
    """
    if threads:
        return threads, 1
    if lossless:
        return max(1, (os.cpu_count() or 2) // 2), 2
    return 0, 1


class ModelRuntime(NodeRuntime[ModelParams]):
    model: OnnxModel | None = None  # loaded by open(), dropped by close()

    def open(self) -> None:
        p = self.params
        model_path, labels_path, entry = self._files()
        node_overrides = p.preprocess_overrides()
        # What the user set when adding a library model applies; the node's own settings win.
        task, layout, overrides = p.settings_with(entry)
        try:
            if entry is not None and not node_overrides and p.layout == "auto" and p.model_type == "auto":
                info = entry.info  # inspected when it was added: no second load and probe run
            else:
                pool = self.context.sessions
                if pool is not None:  # a deployment inspects each model once for all its skills
                    key = (str(model_path), str(labels_path), task, layout, repr(sorted(overrides.items())))
                    info = pool.inspected(
                        model_path,
                        key,
                        lambda: inspect_model(model_path, labels_path, task=task, layout=layout, **overrides),
                    )
                else:
                    info = inspect_model(model_path, labels_path, task=task, layout=layout, **overrides)
            if p.objectness_premultiplied is not None and info.layout.kind == "yolov5":
                layout_spec = info.layout.model_copy(
                    update={"scores_include_objectness": p.objectness_premultiplied}
                )
                info = info.model_copy(update={"layout": layout_spec})
            threads, self.concurrency = _threading(p.threads, self.context.lossless)
            if self.context.sessions is not None:
                # A deployment: one session per model for all cameras, live or not, served in
                # turn (each node keeps a second frame waiting) by two runs at once on half the
                # cores each, as a lossless run does: 4-20 % more frames (bench/deploy_bench.py).
                threads, self.concurrency = _threading(p.threads, lossless=True)[0], 2
            self.model = OnnxModel(
                info,
                acceleration=self.context.acceleration,
                threads=threads,
                on_warning=lambda message: self.context.warn(self.node_id, message),
                iou_threshold=p.nms_iou,
                max_detections=p.max_detections,
                pool=self.context.sessions,
                lane=self.context.lane,
            )
        except (ModelError, ValueError, TypeError) as exc:
            raise self.fail(str(exc)) from None
        self.attribute_name = p.model_id or Path(model_path).stem

    def _files(self) -> tuple[Path, Path | None, Any]:
        """The ONNX and label files, and the library entry when the node names a model id."""
        p = self.params
        if not p.model_id:
            labels = self.context.resolve_path(p.labels_path) if p.labels_path else None
            return self.context.resolve_path(p.model_path), labels, None
        if self.context.models is None:
            raise self.fail(f"model {p.model_id!r} needs the model library, which is not available here")
        try:
            model_path, labels_path, entry = self.context.models.resolve(p.model_id)
        except (KeyError, ModelError) as exc:
            raise self.fail(str(exc).strip("'\"")) from None
        return Path(model_path), Path(labels_path) if labels_path else None, entry

    def process(self, frame: Frame) -> Frame:
        model = self.model
        if model is None:
            raise self.fail("the model is not loaded: open() must run before frames flow")
        threshold = self.params.confidence_threshold / 100.0
        if model.is_classifier:
            self._classify(model, frame, threshold)
            return frame
        for det in model.detect(frame.image, threshold):
            frame.objects.append(
                ObjectMeta(
                    label=det.label,
                    confidence=det.confidence,
                    bbox=BBox(det.left, det.top, det.width, det.height),
                    timestamp=frame.timestamp,
                    inference_id=self.node_id,
                    class_id=det.class_id,
                )
            )
        return frame

    def _classify(self, model: OnnxModel, frame: Frame, threshold: float) -> None:
        boxed = [(obj, obj.bbox) for obj in frame.objects if obj.bbox is not None]
        if not boxed:
            best = model.classify(frame.image, threshold, top_k=1)
            if best:
                frame.objects.append(
                    ObjectMeta(
                        label=best[0].label,
                        confidence=best[0].confidence,
                        bbox=BBox(0.0, 0.0, 1.0, 1.0),
                        timestamp=frame.timestamp,
                        inference_id=self.node_id,
                        class_id=best[0].class_id,
                    )
                )
            return
        boxes = [(box.l, box.t, box.w, box.h) for _, box in boxed]
        for (obj, _), classes in zip(
            boxed, model.classify_crops(frame.image, boxes, threshold, top_k=1), strict=True
        ):
            if classes:
                obj.attributes.append(
                    Attribute(
                        name=self.attribute_name,
                        label=classes[0].label,
                        confidence=classes[0].confidence,
                        timestamp=frame.timestamp,
                        inference_id=self.node_id,
                    )
                )

    def close(self) -> None:
        model, self.model = self.model, None  # frees the session now, not whenever the engine is collected
        if model is not None:
            model.close()  # a shared session goes back to its pool

    def update(self, params: ModelParams) -> bool:
        changed = {
            name for name in ModelParams.model_fields if getattr(params, name) != getattr(self.params, name)
        }
        self.params = params
        if changed <= LIVE_FIELDS and self.model is not None:
            self.model.iou_threshold = params.nms_iou
            self.model.max_detections = params.max_detections
        return changed <= LIVE_FIELDS
