"""Optimize for device: INT8 against FP32 on the bundled model and clip (run by hand; prints the
measures of issue 21, asserts nothing).

    .venv/bin/python bench/optimize_bench.py [--calibration 20] [--frames 150] [--repeats 3]

1. detector (bundled yolov3-tiny, bundled clip): time to optimize (quantize + check), the check's
   detection agreement on held-out frames (F1 and precision / recall at IoU 0.5, mean IoU of
   matched boxes), per-frame cost of both as the check measured it, and INT8 fps / FP32 fps in
   the engine (camera -> detector -> filter -> insights log, realtime off, runs alternating,
   medians compared: the machine is shared and noisy).
2. classifiers on whole frames of the clip: yolov3-tiny's trained backbone and 13x13 head cut
   into an 80-class scene classifier (a real CNN), and the bundled colour classifier: time to
   optimize, top-1 agreement on held-out frames and per-frame cost of both.

Goals (issue 21): INT8/FP32 fps >= 1.4 on these cores, F1 >= 0.95, mean IoU >= 0.9, optimizing
under a minute, classifier top-1 agreement >= 0.98. Only the CPU is measured: GPU, NPU and
OpenVINO targets are not available on this machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from engine_bench import CLIP, LABELS, MODEL, build_skill, run_engine

from designer.core.models.library import ModelLibrary
from designer.core.models.optimize import optimize_model, summarise_ops

ROOT = Path(__file__).resolve().parents[1]
COLOR = ROOT / "resources" / "models" / "color-classifier.onnx"
COLOR_LABELS = ROOT / "resources" / "models" / "color-classifier.labels.txt"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def bench_detector(tmp: Path, calibration: int, frames: int, repeats: int) -> None:
    library = ModelLibrary(tmp / "data")
    library._add_bundled()
    start = time.perf_counter()
    result = optimize_model(library, "yolov3-tiny-coco", CLIP, frames=calibration, keep_failed=True)
    seconds = time.perf_counter() - start
    opt = result.optimization
    a = opt.agreement
    assert result.entry is not None
    print("detector  yolov3-tiny-coco, INT8 (QDQ, per-channel), calibrated on the bundled clip")
    print(f"  optimize      {seconds:.1f} s for {calibration} + {opt.held_out_frames} frames")
    print(f"  left float    {len(opt.float_ops)} ops ({summarise_ops(opt.float_ops)})")
    print(
        f"  agreement     F1 {_pct(a.f1)} (precision {_pct(a.precision)}, recall {_pct(a.recall)}) "
        f"at IoU 0.5, mean IoU {a.mean_iou:.3f}; {a.matched}/{a.boxes_source} boxes matched, "
        f"{a.boxes_optimized} found; check {'passed' if opt.passed else 'NOT passed'}"
    )
    print(
        f"  cost/frame    {opt.ms_source:.1f} ms FP32 -> {opt.ms_optimized:.1f} ms INT8 "
        f"({opt.speedup:.2f}x; pre-process + inference + decode, median over the held-out frames)"
    )
    print(f"  size          {opt.size_source / 1e6:.1f} MB -> {opt.size_optimized / 1e6:.1f} MB")
    fp32 = library.resolve("yolov3-tiny-coco")[0]
    int8 = library.resolve(result.entry.id)[0]
    fps: dict[str, list[float]] = {"fp32": [], "int8": []}
    for _ in range(repeats):
        for name, path in (("fp32", fp32), ("int8", int8)):
            skill = build_skill(CLIP, path, threads=0, loop=False)
            run = run_engine(skill, tmp / f"out-{name}", realtime=False, max_frames=frames)
            fps[name].append(run.logged / run.wall_s)
    ratios = [i / f for f, i in zip(fps["fp32"], fps["int8"], strict=True)]
    print(
        f"  engine fps    FP32 {statistics.median(fps['fp32']):.1f}, "
        f"INT8 {statistics.median(fps['int8']):.1f}"
        f" -> INT8/FP32 {statistics.median(ratios):.2f}x (median of {repeats} alternating runs of "
        f"{frames} frames; each: {', '.join(f'{r:.2f}' for r in ratios)})"
    )


def scene_classifier(path: Path) -> Path:
    """A real trained CNN as a classifier: the bundled yolov3-tiny's backbone and 13x13 head,
    its 80 class channels squashed to one score per COCO class over the whole frame (the most
    confident cell of any anchor): "which class is most present in this frame"."""
    import onnx
    from onnx import helper, numpy_helper, utils

    head = "/mods.15/mods.15.0/Conv_output_0"  # [1, 255, 13, 13] = 3 anchors x (5 + 80)
    with tempfile.TemporaryDirectory() as work:
        cut = Path(work) / "cut.onnx"
        utils.extract_model(str(MODEL), str(cut), ["images"], [head])
        model = onnx.load(str(cut))
    graph = model.graph
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array([1, 3, 85, 169], np.int64), "clf_shape"),
            numpy_helper.from_array(np.array([5], np.int64), "clf_start"),
            numpy_helper.from_array(np.array([85], np.int64), "clf_end"),
            numpy_helper.from_array(np.array([2], np.int64), "clf_axis"),
        ]
    )
    graph.node.extend(
        [
            helper.make_node("Reshape", [head, "clf_shape"], ["clf_cells"]),
            helper.make_node("Slice", ["clf_cells", "clf_start", "clf_end", "clf_axis"], ["clf_classes"]),
            helper.make_node("ReduceMax", ["clf_classes"], ["clf_max"], axes=[1, 3], keepdims=0),
            helper.make_node("Softmax", ["clf_max"], ["scores"], axis=1),
        ]
    )
    del graph.output[:]
    graph.output.append(helper.make_tensor_value_info("scores", onnx.TensorProto.FLOAT, [1, 80]))
    onnx.save(model, str(path))
    return path


def _top1_classes(library: ModelLibrary, model_id: str, count: int) -> str:
    """How varied the original's answers are on the clip: an agreement over frames that all get
    the same class says less than one over varied answers."""
    from collections import Counter

    from designer.core.models.optimize import read_frames
    from designer.core.models.session import OnnxModel

    model = OnnxModel(library.resolve(model_id)[2].info, "CPU", 0)
    counts = Counter(model.classify(frame, 0.0, 1)[0].label for frame in read_frames(CLIP, 2 * count))
    return ", ".join(f"{label} x{n}" for label, n in counts.most_common())


def bench_classifier(tmp: Path, calibration: int) -> None:
    for name, model, labels, what in (
        (
            "yolov3-tiny-scene",
            scene_classifier(tmp / "scene.onnx"),
            LABELS,
            "yolov3-tiny's backbone and 13x13 head as an 80-class whole-frame classifier",
        ),
        ("color-classifier", COLOR, COLOR_LABELS, "the bundled colour classifier (pool + Gemm)"),
    ):
        library = ModelLibrary(tmp / f"data-{name}")
        library.add(name, "classification", model, labels)
        start = time.perf_counter()
        result = optimize_model(library, name, CLIP, frames=calibration, keep_failed=True)
        seconds = time.perf_counter() - start
        opt = result.optimization
        print(f"classifier  {name}: {what}")
        print(f"  optimize      {seconds:.1f} s ({calibration} + {opt.held_out_frames} frames)")
        passed = "passed" if opt.passed else "NOT passed"
        answers = _top1_classes(library, name, calibration)
        print(
            f"  agreement     top-1 {_pct(opt.agreement.top1)}; check {passed} (the original's top-1 over "
            f"{2 * calibration} frames of the clip: {answers})"
        )
        print(
            f"  cost/frame    {opt.ms_source:.2f} ms FP32 -> {opt.ms_optimized:.2f} ms INT8 "
            f"({opt.speedup:.2f}x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--calibration", type=int, default=20, help="calibration frames (as many held out)")
    parser.add_argument("--frames", type=int, default=150, help="frames per engine run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}; onnxruntime CPU provider only (no GPU / NPU here)")
    with tempfile.TemporaryDirectory(prefix="optimize-bench-") as tmp:
        bench_detector(Path(tmp), args.calibration, args.frames, args.repeats)
        bench_classifier(Path(tmp), args.calibration)


if __name__ == "__main__":
    main()
