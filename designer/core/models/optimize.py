"""Optimize a library model for a device, and check the result against the original.

``optimize_model`` makes a new library entry from an existing one (the original is kept and
named as its source): a static INT8 quantization calibrated on frames of the skill's own video
(``cpu-int8``), an offline graph optimisation (``cpu-fp32-opt``) or a float16 conversion
(``gpu-fp16``), all with onnxruntime's own tools. Calibration frames are pre-processed by the
engine's own code (``OnnxModel.preprocess``), so the ranges measured are the ones the model
sees when the skill runs.

The result is then run next to the original on held-out frames (never the calibration ones)
the way the engine runs it (pre-process, infer, decode, NMS): for detectors, the optimized
boxes are matched to the original's (same class, IoU >= 0.5) for precision, recall and the mean
IoU of matched pairs; for classifiers, top-1 agreement. Both models' cost per frame is timed
on this machine. A result below the goals is refused (not added) unless the caller keeps it,
and then it is stored marked as not passed.
"""

from __future__ import annotations

import contextlib
import logging
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import onnx

from designer.core.models.errors import ModelError
from designer.core.models.info import ModelInfo
from designer.core.models.inspect import inspect_model
from designer.core.models.optimize_targets import FORMS, TARGETS
from designer.core.models.providers import CPU
from designer.core.models.registry import Agreement, ModelEntry, Optimization
from designer.core.models.results import Detection
from designer.core.models.session import OnnxModel

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary

Progress = Callable[[float, str], None]
Cancelled = Callable[[], bool]
#: Turns a BGR frame into the model's input tensor; the engine's own is ``OnnxModel.preprocess``.
TensorMaker = Callable[[np.ndarray], np.ndarray]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
WEIGHTED_OPS = {"Conv", "ConvTranspose", "MatMul", "Gemm"}
MATCH_IOU = 0.5
DEFAULT_FRAMES = 20


@dataclass(frozen=True)
class Goals:
    """The agreement an optimized model needs to be marked good."""

    f1: float = 0.95
    mean_iou: float = 0.9
    top1: float = 0.98


class OptimizeError(ModelError):
    """The model cannot be optimized as asked (bad frames source, unknown target...)."""


class OptimizeCancelled(ModelError):
    """The caller cancelled; nothing was added."""


@dataclass(frozen=True)
class OptimizeResult:
    """The check's figures, and the new entry when it was added (None when refused)."""

    optimization: Optimization
    entry: ModelEntry | None


# -- frames ----------------------------------------------------------------------------------


def read_frames(source: str | Path, count: int, cancelled: Cancelled | None = None) -> list[np.ndarray]:
    """``count`` BGR frames spread evenly over a video file, or over the pictures of a folder
    (sorted by name); fewer when the source has fewer."""
    path = Path(source).expanduser()
    if count < 2:
        raise OptimizeError(f"frames: {count} is too few; ask for at least 2 (some are held out)")
    if path.is_dir():
        return _read_pictures(path, count, cancelled)
    if not path.is_file():
        raise OptimizeError(f"calibration source {path}: no such file or folder")
    return _read_video(path, count, cancelled)


def _read_pictures(folder: Path, count: int, cancelled: Cancelled | None) -> list[np.ndarray]:
    """A folder of frames stands in for a clip: its pictures, by name, spread like video frames."""
    pictures = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not pictures:
        raise OptimizeError(
            f"calibration folder {folder}: no pictures in it ({', '.join(IMAGE_SUFFIXES)}); "
            "give a video file or a folder of frames"
        )
    frames = []
    for picture in _spread(pictures, count):
        _check(cancelled)
        image = cv2.imread(str(picture), cv2.IMREAD_COLOR)
        if image is None:
            raise OptimizeError(f"calibration picture {picture}: OpenCV cannot read it")
        frames.append(image)
    return frames


def _read_video(path: Path, count: int, cancelled: Cancelled | None) -> list[np.ndarray]:
    """Frames spread over a video; the capture is always released, even when cancelled."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise OptimizeError(f"calibration video {path}: OpenCV cannot open it")
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        wanted = set(_spread(list(range(total)), count)) if total > 0 else None
        frames = _decode_frames(capture, wanted, cancelled)
    finally:
        capture.release()
    if wanted is None:  # no frame count in the header: every frame was read
        frames = _spread(frames, count)
    if len(frames) < 2:
        raise OptimizeError(f"calibration video {path}: {len(frames)} frame(s) could be read; it needs 2")
    return frames


def _decode_frames(
    capture: cv2.VideoCapture, wanted: set[int] | None, cancelled: Cancelled | None
) -> list[np.ndarray]:
    """The frames at the ``wanted`` indexes (every frame when None), up to the last wanted one.

    Skipped frames are only grabbed, not decoded into pictures, which keeps long clips cheap.
    """
    frames, index = [], 0
    while True:
        _check(cancelled)
        if wanted is not None and index > max(wanted):
            break
        if wanted is not None and index not in wanted:
            ok = capture.grab()
        else:
            ok, image = capture.read()
            if ok:
                frames.append(image)
        if not ok:
            break
        index += 1
    return frames


def _spread(items: Sequence[Any], count: int) -> list[Any]:
    if len(items) <= count:
        return list(items)
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def split_frames(frames: Sequence[np.ndarray], calibration: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Interleave: calibration frames and held-out frames alternate over the clip (never shared)."""
    calib, held = list(frames[0::2]), list(frames[1::2])
    return calib[:calibration], held


def _check(cancelled: Cancelled | None) -> None:
    if cancelled is not None and cancelled():
        raise OptimizeCancelled("cancelled; nothing was added")


# -- making the optimized file ---------------------------------------------------------------


def float_head(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """The nodes between the last weighted layers (Conv, MatMul, Gemm) and the outputs: box
    decoding, sigmoids, exponentials and the concatenation of pixel coordinates with scores.
    Quantized, one 8-bit scale would cover both 0..416 pixels and 0..1 scores; they stay float."""
    producer = {out: node for node in model.graph.node for out in node.output}
    head: dict[int, onnx.NodeProto] = {}
    stack = [o.name for o in model.graph.output]
    seen: set[str] = set()
    while stack:
        tensor = stack.pop()
        if tensor in seen:
            continue
        seen.add(tensor)
        node = producer.get(tensor)
        if node is None or node.op_type in WEIGHTED_OPS:
            continue
        head[id(node)] = node
        stack.extend(node.input)
    order = {id(n): i for i, n in enumerate(model.graph.node)}
    return sorted(head.values(), key=lambda n: order[id(n)])


def describe_ops(nodes: Sequence[onnx.NodeProto]) -> list[str]:
    """``Type name`` of each node that computes (Constant nodes left out)."""
    return [f"{n.op_type} {n.name or n.output[0]}" for n in nodes if n.op_type != "Constant"]


def summarise_ops(float_ops: Sequence[str]) -> str:
    """``Sigmoid x8, Exp x4`` for a list of ``Type name``."""
    counts = Counter(op.split(" ", 1)[0] for op in float_ops)
    return ", ".join(f"{op} x{n}" for op, n in counts.most_common())


class _FrameReader:
    """onnxruntime's calibration reader over pre-made tensors; reports progress and cancels."""

    def __init__(
        self,
        input_name: str,
        tensors: list[np.ndarray],
        progress: Progress | None,
        cancelled: Cancelled | None,
    ) -> None:
        self.input_name = input_name
        self.tensors = tensors
        self.progress = progress
        self.cancelled = cancelled
        self.index = 0

    def get_next(self) -> dict[str, np.ndarray] | None:
        _check(self.cancelled)
        if self.index >= len(self.tensors):
            return None
        if self.progress is not None:
            self.progress(self.index / len(self.tensors), f"calibrating on frame {self.index + 1}")
        tensor = self.tensors[self.index]
        self.index += 1
        return {self.input_name: tensor}

    def rewind(self) -> None:
        self.index = 0


def quantize_int8(
    source: Path,
    out: Path,
    input_name: str,
    tensors: list[np.ndarray],
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> list[str]:
    """Static INT8 quantization (QDQ, per-channel weights) calibrated on ``tensors``; returns the
    operators left in float."""
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    model = onnx.load(str(source))
    for i, node in enumerate(model.graph.node):  # the quantizer names the nodes to leave by name
        node.name = node.name or f"{node.op_type}_{i}"
    head = float_head(model)

    class Reader(_FrameReader, CalibrationDataReader):
        pass

    reader = Reader(input_name, tensors, progress, cancelled)
    with _quiet_root_log():  # (quantize_static keeps its working files in a temporary folder)
        quantize_static(
            model,
            str(out),
            reader,
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=[n.name for n in head],
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
        )
    # the head's shape arithmetic (Shape, Gather, Unsqueeze...) is never quantized: name only what
    # the quantizer would have made INT8 there
    quantizable = set(QLinearOpsRegistry) | set(QDQRegistry)
    return describe_ops([n for n in head if n.op_type in quantizable])


@contextlib.contextmanager
def _quiet_root_log() -> Iterator[None]:
    """The quantizer advises pre-processing through the root logger on every run; the graphs it
    is given here load and run as they are (inspection ran them), so the advice is noise."""

    def advice(record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(advice)
    try:
        yield
    finally:
        root.removeFilter(advice)


def optimize_graph(source: Path, out: Path) -> list[str]:
    """onnxruntime's extended graph optimisations for its CPU provider, saved to ``out``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(out)
    ort.InferenceSession(str(source), options, providers=["CPUExecutionProvider"])
    return []


def convert_fp16(source: Path, out: Path) -> list[str]:
    """Float16 weights and activations; the input and outputs stay float32 (same pre-processing
    and decoding). Returns the operators onnxruntime's converter keeps in float32."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST, convert_float_to_float16

    model = onnx.load(str(source))
    blocked = [n for n in model.graph.node if n.op_type in DEFAULT_OP_BLOCK_LIST]
    converted = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=False)
    onnx.save(converted, str(out))
    return describe_ops(blocked)


# -- the check -------------------------------------------------------------------------------


def iou(a: Detection, b: Detection) -> float:
    x1, y1 = max(a.left, b.left), max(a.top, b.top)
    x2 = min(a.left + a.width, b.left + b.width)
    y2 = min(a.top + a.height, b.top + b.height)
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = a.width * a.height + b.width * b.height - inter
    return inter / union if union > 0 else 0.0


def match_boxes(reference: Sequence[Detection], candidate: Sequence[Detection]) -> list[float]:
    """Greedy one-to-one matching, best-scored candidates first: the IoU of each matched pair
    (same class, IoU >= 0.5)."""
    free = list(reference)
    ious = []
    for box in sorted(candidate, key=lambda d: -d.confidence):
        best, best_iou = None, MATCH_IOU
        for ref in free:
            if ref.class_id == box.class_id:
                value = iou(ref, box)
                if value >= best_iou:
                    best, best_iou = ref, value
        if best is not None:
            free.remove(best)
            ious.append(best_iou)
    return ious


def detection_agreement(
    reference: Sequence[Sequence[Detection]], candidate: Sequence[Sequence[Detection]]
) -> Agreement:
    ious: list[float] = []
    for ref, cand in zip(reference, candidate, strict=True):
        ious += match_boxes(ref, cand)
    n_ref, n_cand, matched = sum(map(len, reference)), sum(map(len, candidate)), len(ious)
    precision = matched / n_cand if n_cand else (1.0 if not n_ref else 0.0)
    recall = matched / n_ref if n_ref else (1.0 if not n_cand else 0.0)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Agreement(
        frames=len(reference),
        boxes_source=n_ref,
        boxes_optimized=n_cand,
        matched=matched,
        precision=round(precision, 4),
        recall=round(recall, 4),
        f1=round(f1, 4),
        mean_iou=round(statistics.fmean(ious), 4) if ious else None,
    )


def check_against(
    source: ModelInfo,
    optimized: ModelInfo,
    frames: Sequence[np.ndarray],
    *,
    confidence: float = 0.3,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> tuple[Agreement, float, float]:
    """Run both models as the engine does on ``frames``: their agreement, and the median cost
    of one frame (pre-process, inference, decode) of the source and of the optimized model."""
    models = OnnxModel(source, CPU, 0), OnnxModel(optimized, CPU, 0)
    detector = source.task == "detection"

    def run(model: OnnxModel, frame: np.ndarray) -> list[Any]:
        if detector:
            return model.detect(frame, confidence)
        return model.classify(frame, 0.0, top_k=1)

    for model in models:  # the first run pays for allocation, not for the model
        run(model, frames[0])
    answers: tuple[list[list[Any]], list[list[Any]]] = ([], [])
    costs: tuple[list[float], list[float]] = ([], [])
    for i, frame in enumerate(frames):
        _check(cancelled)
        if progress is not None:
            progress(i / len(frames), f"checking on held-out frame {i + 1} of {len(frames)}")
        for k, model in enumerate(models):
            start = time.perf_counter()
            answers[k].append(run(model, frame))
            costs[k].append(time.perf_counter() - start)
    ms = tuple(round(statistics.median(c) * 1000.0, 2) for c in costs)
    if detector:
        agreement = detection_agreement(answers[0], answers[1])
    else:
        same = sum(
            bool(a) and bool(b) and a[0].class_id == b[0].class_id
            for a, b in zip(answers[0], answers[1], strict=True)
        )
        agreement = Agreement(frames=len(frames), top1=round(same / len(frames), 4))
    return agreement, ms[0], ms[1]


def judge(task: str, agreement: Agreement, goals: Goals) -> list[str]:
    """Why the agreement does not meet the goals (empty: it does)."""
    problems = []
    if task == "detection":
        if agreement.boxes_source == 0:
            problems.append(
                "the original found no objects on the held-out frames, so the check says nothing; "
                "calibrate on a clip where the model finds what the skill looks for"
            )
        if agreement.f1 is None or agreement.f1 < goals.f1:
            problems.append(
                f"detection agreement F1 {_pct(agreement.f1)} is below {goals.f1:.0%} (precision "
                f"{_pct(agreement.precision)}, recall {_pct(agreement.recall)} at IoU {MATCH_IOU})"
            )
        if agreement.mean_iou is not None and agreement.mean_iou < goals.mean_iou:
            problems.append(f"mean IoU of matched boxes {agreement.mean_iou:.3f} is below {goals.mean_iou}")
    elif agreement.top1 is None or agreement.top1 < goals.top1:
        problems.append(f"top-1 agreement {_pct(agreement.top1)} is below {goals.top1:.0%}")
    return problems


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


# -- the whole job ---------------------------------------------------------------------------


def optimized_name(entry: ModelEntry, target: str) -> str:
    return f"{entry.name} {target}"


def optimize_model(
    library: ModelLibrary,
    model_id: str,
    calibrate: str | Path,
    *,
    target: str = "cpu-int8",
    frames: int = DEFAULT_FRAMES,
    name: str | None = None,
    keep_failed: bool = False,
    goals: Goals | None = None,
    confidence: float = 0.3,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    calibration_tensor: TensorMaker | None = None,
) -> OptimizeResult:
    """Optimize library model ``model_id`` for ``target`` with frames of ``calibrate`` (a video
    or a folder of pictures): ``frames`` calibration frames and as many held-out ones.

    ``calibration_tensor`` replaces the engine's pre-processing for calibration only: a way to
    see the check refuse a model calibrated on frames the engine would never feed it.
    """
    from designer.core.models.registry import slugify

    started = time.perf_counter()
    goals = goals or Goals()
    if target not in TARGETS:
        raise OptimizeError(f"target {target!r}: choose one of {', '.join(TARGETS)}")
    step = _steps(progress)
    onnx_path, labels_path, entry = library.resolve(model_id)
    if entry.optimization is not None:
        raise OptimizeError(
            f"model {model_id} is already an optimized form of {entry.optimization.source_id}; "
            f"optimize the original ({entry.optimization.source_id}) instead"
        )
    name = name or optimized_name(entry, target)
    if library.find(slugify(name)) is not None:
        raise OptimizeError(
            f"the library already has a model with id {slugify(name)!r}; remove it first "
            f"(skill-designer models remove {slugify(name)}) or give another --name"
        )
    step(0.0, f"reading frames of {calibrate}")
    picked = read_frames(calibrate, 2 * max(1, frames), cancelled)
    calib, held = split_frames(picked, frames)
    if not held:
        raise OptimizeError(f"calibration source {calibrate}: too few frames to hold any out")
    source_model = OnnxModel(entry.info, CPU, 0)
    make_tensor = calibration_tensor or (lambda frame: source_model.preprocess(frame)[0])
    form = FORMS[target]
    with tempfile.TemporaryDirectory(prefix="skill-designer-optimize-") as work:
        out = Path(work) / f"{entry.id}.{target}.onnx"
        if target == "cpu-int8":
            tensors = [make_tensor(frame) for frame in calib]
            float_ops = quantize_int8(
                onnx_path,
                out,
                entry.info.inputs[0].name,
                tensors,
                progress=lambda f, text: step(0.05 + 0.55 * f, text),
                cancelled=cancelled,
            )
        elif target == "cpu-fp32-opt":
            step(0.1, "optimising the graph")
            float_ops = optimize_graph(onnx_path, out)
        else:
            step(0.1, "converting to float16")
            float_ops = convert_fp16(onnx_path, out)
        _check(cancelled)
        step(0.6, "loading the optimized model")
        optimized_info = inspect_model(
            out,
            labels_path,
            task=entry.type,
            layout=entry.info.layout,
            **entry.info.preprocess.model_dump(),
        )
        agreement, ms_source, ms_optimized = check_against(
            entry.info,
            optimized_info,
            held,
            confidence=confidence,
            progress=lambda f, text: step(0.62 + 0.33 * f, text),
            cancelled=cancelled,
        )
        problems = judge(entry.type, agreement, goals)
        optimization = Optimization(
            source_id=entry.id,
            target=target,
            method=form.method,
            calibration=str(Path(calibrate).expanduser().resolve()) if target == "cpu-int8" else "",
            calibration_frames=len(calib) if target == "cpu-int8" else 0,
            held_out_frames=len(held),
            float_ops=float_ops,
            agreement=agreement,
            ms_source=ms_source,
            ms_optimized=ms_optimized,
            size_source=entry.model_file.size,
            size_optimized=out.stat().st_size,
            passed=not problems,
            problems=problems,
            seconds=round(time.perf_counter() - started, 2),
        )
        if problems and not keep_failed:
            step(1.0, "refused: " + "; ".join(problems))
            return OptimizeResult(optimization, None)
        _check(cancelled)
        step(0.96, "adding it to the library")
        added = library.add_optimized(entry, out, name, optimization)
    step(1.0, f"added {added.id}")
    return OptimizeResult(optimization, added)


def _steps(progress: Progress | None) -> Progress:
    def step(fraction: float, text: str) -> None:
        if progress is not None:
            progress(min(1.0, max(0.0, fraction)), text)

    return step
