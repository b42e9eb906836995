"""Output layouts: which tensor holds what, detected from the output shapes, overridable."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from designer.core.models.errors import ModelError, UnknownLayoutError
from designer.core.models.tensors import TensorInfo, fixed

LayoutKind = Literal["yolov5", "yolov8", "ssd", "boxes_scores", "classification"]
BoxFormat = Literal["xyxy", "yxyx", "xywh", "cxcywh"]

# boxes_scores goes first: its per-class scores [1, N, C] would otherwise pass for YOLOv5 rows.
DETECTION_KINDS = ("boxes_scores", "yolov5", "yolov8", "ssd")
LAYOUT_SHAPES: dict[str, str] = {
    "yolov5": "[1, N, 5+C] (cx, cy, w, h, objectness, C class scores; also YOLOX)",
    "yolov8": "[1, 4+C, N] (cx, cy, w, h, C class scores; also YOLOv11)",
    "ssd": "[1, 1, N, 7] (image_id, class, score, x1, y1, x2, y2)",
    "boxes_scores": "boxes [N, 4] or [1, N, 4] + scores [N], [1, N] or [1, N, C] (+ classes [N])",
    "classification": "[1, C] logits or probabilities",
}


class LayoutSpec(BaseModel):
    """Where the decoder finds boxes, scores and classes in the outputs.

    ``output`` names the tensor of single-tensor layouts; ``*_output`` those of
    ``boxes_scores`` (``box_format`` applies there; YOLO boxes are always cx,cy,w,h).
    ``scores_include_objectness`` (YOLOv5 only): None until inspection measures it.
    ``apply_softmax=None`` softmaxes classification outputs unless they already sum to 1.

    ``normalized=None`` decides per frame: boxes whose coordinates all lie within
    [-0.5, 1.5] are normalised to the input, anything larger is in input pixels.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: LayoutKind
    output: str | None = None
    scores_include_objectness: bool | None = None
    boxes_output: str | None = None
    scores_output: str | None = None
    classes_output: str | None = None
    count_output: str | None = None
    box_format: BoxFormat = "xyxy"
    normalized: bool | None = None
    apply_softmax: bool | None = None

    @property
    def output_tensor(self) -> str:
        """``output``, which resolve_layout always names for a single-tensor layout."""
        return self._named(self.output, "output")

    @property
    def boxes_tensor(self) -> str:
        """``boxes_output``, which resolve_layout always names for ``boxes_scores``."""
        return self._named(self.boxes_output, "boxes_output")

    @property
    def scores_tensor(self) -> str:
        """``scores_output``, which resolve_layout always names for ``boxes_scores``."""
        return self._named(self.scores_output, "scores_output")

    def _named(self, name: str | None, field: str) -> str:
        if name is None:
            raise ModelError(f"the {self.kind} layout names no {field}; detect the layout again")
        return name


def task_of(kind: str) -> Literal["detection", "classification"]:
    return "classification" if kind == "classification" else "detection"


def resolve_layout(
    requested: str | LayoutSpec | dict[str, Any] | None,
    outputs: list[TensorInfo],
    num_classes_hint: int | None,
    task: str | None,
    where: str,
) -> LayoutSpec:
    """The layout asked for (filling in output names), or the one the output shapes match.

    With a class count (from the labels) a layout that fits it exactly wins; otherwise
    the orientation decides: YOLOv5 rows ``[1, N, 5+C]`` have N > 5+C (or N dynamic),
    YOLOv8 ``[1, 4+C, N]`` the other way round; failing both, any layout the shapes fit.
    """
    if requested is None:
        return _detect(outputs, num_classes_hint, task, where)
    fields = _requested_fields(requested, where)
    kind = fields["kind"]
    found = _MATCHERS[kind](outputs, num_classes_hint, False)
    if found is None and not _names_given(kind, fields):
        raise UnknownLayoutError(
            f"{where}: outputs {_describe(outputs)} do not fit the requested layout {kind} "
            f"{LAYOUT_SHAPES[kind]}; pick another layout or leave it to detection"
        )
    spec = _build(kind, {**(found or {}), **fields}, where)
    _check_names(spec, outputs, where)
    return spec


def layout_num_classes(spec: LayoutSpec, outputs: list[TensorInfo]) -> int | None:
    """How many classes the output shapes imply, when they say it."""
    by_name = {o.name: o for o in outputs}
    if spec.kind in ("yolov5", "yolov8"):
        shape = by_name[spec.output_tensor].shape
        size = fixed(shape[2]) if spec.kind == "yolov5" else fixed(shape[1])
        return None if size is None else size - (5 if spec.kind == "yolov5" else 4)
    if spec.kind == "classification":
        dims = [fixed(d) for d in by_name[spec.output_tensor].shape[1:]]
        return None if None in dims else int(_product(dims))
    if spec.kind == "boxes_scores":
        boxes, scores = by_name[spec.boxes_tensor], by_name[spec.scores_tensor]
        if len(scores.shape) == len(boxes.shape):
            return fixed(scores.shape[-1])
    return None


def _detect(outputs: list[TensorInfo], hint: int | None, task: str | None, where: str) -> LayoutSpec:
    kinds = {"classification": ("classification",), "detection": DETECTION_KINDS}.get(
        task or "", (*DETECTION_KINDS, "classification")
    )
    # Exact class count first, then the orientation rule, then any shape that fits at all.
    passes = [(hint, True)] if hint is not None else []
    for pass_hint, strict in [*passes, (None, True), (None, False)]:
        for kind in kinds:
            found = _MATCHERS[kind](outputs, pass_hint, strict)
            if found is not None:
                return _build(kind, found, where)
    tried = "; ".join(f"{k} {LAYOUT_SHAPES[k]}" for k in kinds)
    raise UnknownLayoutError(
        f"{where}: outputs {_describe(outputs)} match no known layout (tried: {tried}); "
        "if the model uses one of these with other shapes, choose it by hand: --layout KIND with "
        "`skill-designer models add`, or the Run ML Model node's 'layout' parameter"
    )


def _requested_fields(requested: str | LayoutSpec | dict[str, Any], where: str) -> dict:
    if isinstance(requested, LayoutSpec):
        return requested.model_dump(exclude_defaults=True) | {"kind": requested.kind}
    fields = {"kind": requested} if isinstance(requested, str) else dict(requested)
    if fields.get("kind") not in LAYOUT_SHAPES:
        raise ModelError(
            f"{where}: unknown layout {fields.get('kind')!r}; choose one of {', '.join(LAYOUT_SHAPES)}"
        )
    return fields


def _build(kind: str, fields: dict, where: str) -> LayoutSpec:
    try:
        return LayoutSpec(**{**fields, "kind": kind})
    except ValidationError as exc:
        raise ModelError(f"{where}: invalid layout settings: {exc}") from exc


def _names_given(kind: str, fields: dict) -> bool:
    if kind == "boxes_scores":
        return bool(fields.get("boxes_output") and fields.get("scores_output"))
    return bool(fields.get("output"))


def _check_names(spec: LayoutSpec, outputs: list[TensorInfo], where: str) -> None:
    names = {o.name for o in outputs}
    used = (spec.output, spec.boxes_output, spec.scores_output, spec.classes_output, spec.count_output)
    missing = [n for n in used if n is not None and n not in names]
    if missing:
        raise ModelError(
            f"{where}: layout names output(s) {', '.join(missing)} that the model does not "
            f"have; its outputs are {_describe(outputs)}"
        )


def _describe(outputs: list[TensorInfo]) -> str:
    return ", ".join(o.describe() for o in outputs) or "(none)"


def _product(dims: list) -> int:
    result = 1
    for d in dims:
        result *= d
    return result


def _match_yolov5(outputs: list[TensorInfo], hint: int | None, strict: bool) -> dict | None:
    for o in outputs:
        if len(o.shape) != 3:
            continue
        rows, width = fixed(o.shape[1]), fixed(o.shape[2])
        if width is None or width < 6:
            continue
        if hint is not None:
            if width == 5 + hint:
                return {"output": o.name}
        elif not strict or rows is None or rows > width:
            return {"output": o.name}
    return None


def _match_yolov8(outputs: list[TensorInfo], hint: int | None, strict: bool) -> dict | None:
    for o in outputs:
        if len(o.shape) != 3:
            continue
        chans, anchors = fixed(o.shape[1]), fixed(o.shape[2])
        if chans is None or chans < 5:
            continue
        if hint is not None:
            if chans == 4 + hint:
                return {"output": o.name}
        elif not strict or anchors is None or anchors > chans:
            return {"output": o.name}
    return None


def _match_ssd(outputs: list[TensorInfo], hint: int | None, strict: bool) -> dict | None:
    for o in outputs:
        if len(o.shape) == 4 and fixed(o.shape[3]) == 7 and fixed(o.shape[1]) in (1, None):
            return {"output": o.name}
    return None


def _is_float(o: TensorInfo) -> bool:
    return "float" in o.dtype or "double" in o.dtype


def _named(o: TensorInfo, *words: str) -> bool:
    return any(word in o.name.lower() for word in words)


def _is_box_tensor(o: TensorInfo) -> bool:
    return len(o.shape) in (2, 3) and fixed(o.shape[-1]) == 4 and _is_float(o)


def _is_count_tensor(o: TensorInfo) -> bool:
    return _named(o, "num") and all(fixed(d) == 1 for d in o.shape)


def _is_class_tensor(o: TensorInfo) -> bool:
    return len(o.shape) <= 2 and (_named(o, "label", "class") or not _is_float(o))


def _is_score_tensor(o: TensorInfo) -> bool:
    return _is_float(o) and 1 <= len(o.shape) <= 3


def _match_boxes_scores(outputs: list[TensorInfo], hint: int | None, strict: bool) -> dict | None:
    """Separate boxes, scores (and classes, count) tensors, told apart by shape, type and name."""
    boxes = sorted((o for o in outputs if _is_box_tensor(o)), key=lambda o: not _named(o, "box"))
    if not boxes or len(outputs) < 2:
        return None
    box = boxes[0]
    rest = [o for o in outputs if o is not box]
    count = next((o for o in rest if _is_count_tensor(o)), None)
    rest = [o for o in rest if o is not count]
    classes = next((o for o in rest if _is_class_tensor(o)), None)
    scores = [o for o in rest if o is not classes and _is_score_tensor(o)]
    scores.sort(key=lambda o: not _named(o, "score", "conf", "prob"))
    if not scores:
        return None
    return {
        "boxes_output": box.name,
        "scores_output": scores[0].name,
        "classes_output": classes.name if classes is not None else None,
        "count_output": count.name if count is not None else None,
        "box_format": "yxyx" if "detection_boxes" in box.name else "xyxy",
    }


def _match_classification(outputs: list[TensorInfo], hint: int | None, strict: bool) -> dict | None:
    for o in outputs:
        dims = [fixed(d) for d in o.shape[1:]]
        if len(o.shape) == 2 and dims[0] is not None and dims[0] >= 2:
            return {"output": o.name}
        if len(o.shape) == 4 and dims[1:] == [1, 1] and dims[0] is not None and dims[0] >= 2:
            return {"output": o.name}
    return None


_MATCHERS = {
    "yolov5": _match_yolov5,
    "yolov8": _match_yolov8,
    "ssd": _match_ssd,
    "boxes_scores": _match_boxes_scores,
    "classification": _match_classification,
}
