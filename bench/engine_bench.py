"""Engine benchmarks on the bundled model and clip (run by hand; prints ratios, asserts nothing).

    .venv/bin/python bench/engine_bench.py [--frames 200] [--repeats 5] [--threads 0]
        [--live-fps 60] [--quick] [--only throughput,overhead,live,memory] [--memory-real-model]

About 2 minutes on 2 idle cores, up to 5 when others load them (--quick: under a minute).

1. throughput: the engine (realtime off, camera -> detector -> filter(person) -> insights log)
   against the plain loop an engineer would write with the same model, same frames, same
   onnxruntime intra-op threads. Runs alternate and medians are compared (the machine is noisy).
2. overhead: the engine's cost per frame apart from inference (goal < 2 ms).
3. live: the clip re-encoded at 60 fps and played in realtime into the detector graph: frames
   read, processed and dropped per node, and the lag of each logged frame behind the camera.
4. memory: resident size after 500 vs 5,000 frames of one looping run (goal: flat), and
   over short runs one after another (a finished run should give its model back).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import tempfile
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from designer.core.engine.events import (
    FrameEvent,
    NodeErrorEvent,
    NodeStats,
    RunState,
    StatusEvent,
)
from designer.core.engine.executor import Engine
from designer.core.engine.frame import Frame
from designer.core.engine.runtime import RunContext
from designer.core.skill import Settings, Skill
from designer.core.skill.build import add_node, chain

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "resources" / "models" / "yolov3-tiny-coco.onnx"
LABELS = ROOT / "resources" / "models" / "yolov3-tiny-coco.labels.txt"
CLIP = ROOT / "resources" / "video" / "vtest.avi"
INPUT_SIZE = 416
ROWS, COLUMNS = 2535, 85  # yolov3-tiny at 416: [1, 2535, 85], cx,cy,w,h normalised
CONF, IOU = 0.30, 0.45  # the sample skill's detector and filter settings
PERSON = 0
# Camera rate of the live section (--live-fps): the detector runs at ~30 fps on 2 idle cores,
# so a 60 fps camera is faster than the graph; a 30 fps one only when the machine is busy.
LIVE_FPS = 60
CODE_BITS, CODE_ROWS = 12, 16  # frame numbers drawn as binary cells across the top rows


# --- shared pieces ------------------------------------------------------------------------------


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def build_skill(source: Path, model: Path | None, *, threads: int, fps: int = 15, loop: bool = True) -> Skill:
    """camera -> [detector] -> filter(person) -> insights log, like the bundled sample."""
    skill = Skill(settings=Settings(name="bench", fps=fps))
    add_node(skill, "camera@1", "camera", source=str(source), loop=loop)
    ids = ["camera"]
    if model is not None:
        add_node(
            skill,
            "model@1",
            "detector",
            model_path=str(model),
            labels_path=str(LABELS),
            confidence_threshold=round(CONF * 100),
            nms_iou=IOU,
            max_detections=100,
            objectness_premultiplied=True,
            threads=threads,
        )
        ids.append("detector")
    add_node(skill, "filter@1", "people", labels=["person"], confidence_threshold=round(CONF * 100))
    add_node(skill, "insights-log@1", "log", path="insights.jsonl")
    chain(skill, *ids, "people", "log")
    return skill


@dataclass
class EngineRun:
    wall_s: float  # from RUNNING (source and nodes open) to the end of the run
    cpu_s: float  # process CPU time over the same span, every thread
    startup_s: float  # start() to RUNNING: opening the source and loading the model
    logged: int  # frames that reached the insights log
    objects: int  # objects logged
    frames_read: int
    stats: dict[str, NodeStats]
    running_at: float  # time.monotonic() at RUNNING
    engine: weakref.ref[Engine]  # to see whether a finished run is freed


def run_engine(
    skill: Skill,
    out_dir: Path,
    *,
    realtime: bool,
    max_frames: int | None,
    on_log: Callable[[Frame, int], None] | None = None,
) -> EngineRun:
    engine = Engine(
        skill,
        realtime=realtime,
        max_frames=max_frames,
        context=RunContext(skill_dir=ROOT, output_dir=out_dir),
    )
    marks: dict[str, tuple[float, float, float]] = {}
    counts = [0, 0]
    errors: list[str] = []

    def listen(event: object) -> None:
        if isinstance(event, StatusEvent) and event.state is RunState.RUNNING:
            marks["running"] = (time.perf_counter(), time.process_time(), time.monotonic())
        elif isinstance(event, FrameEvent) and event.node_id == "log":
            counts[0] += 1
            counts[1] += len(event.frame.objects)
            if on_log is not None:
                on_log(event.frame, counts[0])
        elif isinstance(event, NodeErrorEvent):
            errors.append(f"{event.node_id}: {event.message}")

    engine.subscribe(listen)
    started = time.perf_counter()
    state = engine.start().wait(1800)
    ended, cpu_end = time.perf_counter(), time.process_time()
    if state is not RunState.FINISHED or errors:
        engine.stop()
        raise SystemExit(f"engine run ended {state}: {'; '.join(errors) or 'no node error'}")
    wall0, cpu0, mono0 = marks["running"]
    return EngineRun(
        ended - wall0,
        cpu_end - cpu0,
        wall0 - started,
        counts[0],
        counts[1],
        engine.frames_read,
        engine.metrics().nodes,
        mono0,
        weakref.ref(engine),
    )


def read_looping(cap: cv2.VideoCapture) -> np.ndarray:
    ok, image = cap.read()
    if not ok:
        cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, image = cap.read()
    if not ok:
        raise SystemExit(f"cannot read {CLIP}")
    return image


def node_line(node_id: str, s: NodeStats) -> str:
    return (
        f"  {node_id:<9} in {s.frames_in:5d}  out {s.frames_out:5d}  dropped {s.dropped:5d}"
        f"  p50 {s.p50_ms:7.2f} ms  p95 {s.p95_ms:7.2f} ms"
    )


def med(values: list[float]) -> float:
    return statistics.median(values)


# --- 1. throughput against the plain loop -------------------------------------------------------


@dataclass
class PlainRun:
    wall_s: float
    cpu_s: float
    objects: int
    infer_p50_ms: float


def plain_loop(frames: int, threads: int, out_path: Path) -> PlainRun:
    """What an engineer writes by hand: read, pre-process, run, decode, NMS, one JSON line."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(MODEL), options, providers=["CPUExecutionProvider"])
    input_name = session.get_inputs()[0].name
    labels = LABELS.read_text().splitlines()
    cap = cv2.VideoCapture(str(CLIP))
    objects, infer = 0, []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with out_path.open("w", buffering=1) as out:
        for index in range(frames):
            image = read_looping(cap)
            height, width = image.shape[:2]
            resized = cv2.cvtColor(cv2.resize(image, (INPUT_SIZE, INPUT_SIZE)), cv2.COLOR_BGR2RGB)
            tensor = np.ascontiguousarray((resized.astype(np.float32) / 255.0).transpose(2, 0, 1))
            t0 = time.perf_counter()
            rows = session.run(None, {input_name: tensor[None]})[0][0]
            infer.append(time.perf_counter() - t0)
            class_ids = rows[:, 5:].argmax(axis=1)
            scores = rows[np.arange(len(rows)), 5 + class_ids]
            keep = scores >= CONF
            box, scores, class_ids = rows[keep, :4], scores[keep], class_ids[keep]
            left, top = (box[:, 0] - box[:, 2] / 2) * width, (box[:, 1] - box[:, 3] / 2) * height
            ltwh = np.stack([left, top, box[:, 2] * width, box[:, 3] * height], axis=1)
            kept = cv2.dnn.NMSBoxesBatched(ltwh, scores, class_ids.astype(np.int32), CONF, IOU)
            found = []
            for i in np.asarray(kept, dtype=np.int64).reshape(-1):
                if class_ids[i] != PERSON:
                    continue
                left, top, w, h = (float(v) for v in ltwh[i])
                found.append(
                    {
                        "label": labels[class_ids[i]],
                        "confidence": float(scores[i]),
                        "bbox": {"l": left / width, "t": top / height, "w": w / width, "h": h / height},
                    }
                )
            objects += len(found)
            out.write(json.dumps({"frame_id": str(index), "timestamp": time.time(), "objects": found}) + "\n")
    cap.release()
    return PlainRun(time.perf_counter() - wall0, time.process_time() - cpu0, objects, med(infer) * 1000)


def bench_throughput(tmp: Path, frames: int, repeats: int, threads: int) -> None:
    print(
        f"\n== 1. throughput: {frames} frames of {CLIP.name}, realtime off, "
        f"intra-op threads {threads or 'default'}, {repeats} alternating runs each"
    )
    skill = build_skill(CLIP, MODEL, threads=threads)
    engine_fps, plain_fps, ratios = [], [], []
    engine_cpu, plain_cpu, det_p50, plain_p50 = [], [], [], []
    last: EngineRun | None = None
    for rep in range(repeats):
        run = run_engine(skill, tmp, realtime=False, max_frames=frames)
        plain = plain_loop(frames, threads, tmp / "plain.jsonl")
        e_fps, p_fps = run.logged / run.wall_s, frames / plain.wall_s
        engine_fps.append(e_fps)
        plain_fps.append(p_fps)
        ratios.append(e_fps / p_fps)
        engine_cpu.append(run.cpu_s / frames * 1000)
        plain_cpu.append(plain.cpu_s / frames * 1000)
        det_p50.append(run.stats["detector"].p50_ms)
        plain_p50.append(plain.infer_p50_ms)
        print(
            f"  run {rep + 1}: engine {e_fps:6.2f} fps ({run.logged} frames, "
            f"{run.objects} people, startup {run.startup_s:.2f} s)  "
            f"plain {p_fps:6.2f} fps ({plain.objects} people)"
            f"  ratio {e_fps / p_fps:.3f}"
        )
        last = run
    print(f"engine fps (median)      {med(engine_fps):8.2f}")
    print(f"plain loop fps (median)  {med(plain_fps):8.2f}")
    print(
        f"ratio engine/plain       {med(engine_fps) / med(plain_fps):8.3f}x  "
        f"(median of per-pair ratios {med(ratios):.3f}x; goal >= 1.0x)"
    )
    print(
        f"CPU ms/frame, all threads: engine {med(engine_cpu):.1f}, plain {med(plain_cpu):.1f} "
        f"(difference of medians {med(engine_cpu) - med(plain_cpu):+.1f} ms)"
    )
    print(
        f"p50 ms: engine detector node (pre-process + run + decode) {med(det_p50):.1f}, "
        f"plain loop session.run {med(plain_p50):.1f}"
    )
    if last is not None:
        print("engine per-node metrics (last run):")
        for node_id, stats in last.stats.items():
            print(node_line(node_id, stats))


# --- 2. overhead per frame apart from inference -------------------------------------------------


def bare_decode(frames: int) -> tuple[float, float]:
    """(wall, cpu) seconds to decode ``frames`` frames: the floor any video pipeline pays."""
    cap = cv2.VideoCapture(str(CLIP))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(frames):
        read_looping(cap)
    cap.release()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def plain_no_model(frames: int, out_path: Path) -> tuple[float, float]:
    """The plain loop without the model: decode and one JSON line a frame (no objects)."""
    cap = cv2.VideoCapture(str(CLIP))
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with out_path.open("w", buffering=1) as out:
        for index in range(frames):
            image = read_looping(cap)
            out.write(
                json.dumps(
                    {
                        "frame_id": str(index),
                        "timestamp": time.time(),
                        "height": image.shape[0],
                        "objects": [],
                    }
                )
                + "\n"
            )
    cap.release()
    return time.perf_counter() - wall0, time.process_time() - cpu0


def bench_overhead(tmp: Path, frames: int, repeats: int) -> None:
    """What is counted: the graph camera -> filter(person) -> insights log with no model runs
    in the engine (source read + Frame, 2 queue hops, 3 worker threads, metrics, filter, the
    POSS insight message as JSON, frame events) and is compared with a plain loop doing the
    same decode, filter and JSON line. Decoding is paid by both and cancels out; so does
    inference in the detector graph, whose CPU difference section 1 prints. Wall time shows
    the cost on the critical path (threads overlap), CPU time the cost taken from inference."""
    print(
        f"\n== 2. overhead apart from inference: camera -> filter -> log, {frames} frames, "
        f"realtime off, {repeats} alternating runs"
    )
    skill = build_skill(CLIP, None, threads=0)
    eng_wall, eng_cpu, plain_wall, plain_cpu, dec_wall, dec_cpu = [], [], [], [], [], []
    last: EngineRun | None = None
    for _ in range(repeats):
        run = run_engine(skill, tmp, realtime=False, max_frames=frames)
        eng_wall.append(run.wall_s / frames * 1000)
        eng_cpu.append(run.cpu_s / frames * 1000)
        wall, cpu = plain_no_model(frames, tmp / "plain.jsonl")
        plain_wall.append(wall / frames * 1000)
        plain_cpu.append(cpu / frames * 1000)
        wall, cpu = bare_decode(frames)
        dec_wall.append(wall / frames * 1000)
        dec_cpu.append(cpu / frames * 1000)
        last = run
    print("                        wall ms/frame   CPU ms/frame")
    print(f"bare cv2 decode         {med(dec_wall):13.3f}   {med(dec_cpu):12.3f}")
    print(f"plain loop, no model    {med(plain_wall):13.3f}   {med(plain_cpu):12.3f}")
    print(f"engine, no model        {med(eng_wall):13.3f}   {med(eng_cpu):12.3f}")
    print(
        f"engine overhead (engine - plain): wall {med(eng_wall) - med(plain_wall):+.3f} ms, "
        f"CPU {med(eng_cpu) - med(plain_cpu):+.3f} ms per frame (goal < 2 ms)"
    )
    print(
        f"engine beyond decoding (engine - bare decode): wall "
        f"{med(eng_wall) - med(dec_wall):+.3f} ms, CPU {med(eng_cpu) - med(dec_cpu):+.3f} ms"
    )
    if last is not None:
        print("engine per-node metrics (last run; camera p50 = read + decode):")
        for node_id, stats in last.stats.items():
            print(node_line(node_id, stats))


# --- 3. a live source faster than the graph -----------------------------------------------------


def write_numbered_clip(path: Path, frames: int, fps: int) -> None:
    """The clip re-encoded at ``fps`` with each frame's number drawn in the top rows."""
    cap = cv2.VideoCapture(str(CLIP))
    writer: cv2.VideoWriter | None = None
    for index in range(frames):
        image = read_looping(cap).copy()
        if writer is None:
            size = (image.shape[1], image.shape[0])
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        cell = image.shape[1] // CODE_BITS
        image[:CODE_ROWS] = 0
        for bit in range(CODE_BITS):
            if index >> bit & 1:
                image[:CODE_ROWS, bit * cell : (bit + 1) * cell] = 255
        writer.write(image)
    cap.release()
    if writer is not None:
        writer.release()


def frame_number(image: np.ndarray) -> int:
    cell = image.shape[1] // CODE_BITS
    strip = image[CODE_ROWS // 4 : CODE_ROWS * 3 // 4]
    return sum(
        1 << bit
        for bit in range(CODE_BITS)
        if strip[:, bit * cell + cell // 4 : (bit + 1) * cell - cell // 4].mean() > 127
    )


def bench_live(tmp: Path, seconds: float, fps: int, threads: int) -> None:
    frames = int(seconds * fps)
    clip = tmp / "live.avi"
    write_numbered_clip(clip, frames, fps)
    print(
        f"\n== 3. live: {frames} frames at {fps} fps ({seconds:g} s) played in realtime "
        "into camera -> detector -> filter -> log"
    )
    skill = build_skill(clip, MODEL, threads=threads, fps=fps, loop=False)
    seen: list[tuple[float, int, float]] = []  # (monotonic when logged, file frame, read->logged)

    def on_log(frame: Frame, _count: int) -> None:  # called on the log node's thread only
        seen.append((time.monotonic(), frame_number(frame.image), time.time() - frame.timestamp))

    run = run_engine(skill, tmp, realtime=True, max_frames=None, on_log=on_log)
    behind_camera = [done - (run.running_at + pos / fps) for done, pos, _ in seen]
    behind_read = [lag for _, _, lag in seen]
    print(f"run took {run.wall_s:.2f} s for a {frames / fps:.2f} s clip")
    if run.stats["detector"].p50_ms < 1000 / fps:
        print(
            f"NOTE: the detector (p50 {run.stats['detector'].p50_ms:.0f} ms) kept up with "
            f"{fps} fps here; raise --live-fps to see a graph slower than its camera"
        )
    print(
        f"frames in the file {frames}, read by the engine {run.frames_read}, "
        f"logged {run.logged} ({run.logged / run.wall_s:.2f} fps)"
    )
    for node_id, stats in run.stats.items():
        print(node_line(node_id, stats))
    print(
        "  (camera 'dropped' = frames the source left out to keep up with the clock; a node's "
        "'dropped' = frames its queue discarded, oldest first)"
    )
    accounted = sum(s.dropped for s in run.stats.values()) + run.logged
    print(
        f"file frames not logged: {frames - run.logged} "
        f"(accounted for by drops: {accounted - run.logged}; {frames - accounted} unaccounted)"
    )
    if seen:
        print(
            f"lag behind the camera clock (file frame time -> logged): "
            f"p50 {med(behind_camera) * 1000:.0f} ms, max {max(behind_camera) * 1000:.0f} ms"
        )
        print(
            f"lag from source read to logged (frame timestamp -> logged): "
            f"p50 {med(behind_read) * 1000:.0f} ms, max {max(behind_read) * 1000:.0f} ms"
        )


# --- 4. memory over a long run ------------------------------------------------------------------


def standin_model(path: Path) -> None:
    """An ONNX file with yolov3-tiny's input and output that costs almost nothing to run.

    Its output is a fixed set of boxes (people and cars, some overlapping) plus 0 x the
    input's mean, so the engine's real pre-processing, decoding, NMS, filter and log run
    on every frame; 5,000 frames of the real model take ~3 minutes on 2 idle cores.
    """
    rows = np.zeros((1, ROWS, COLUMNS), dtype=np.float32)
    rng = np.random.default_rng(7)
    for i in range(12):
        cx, cy = rng.uniform(0.1, 0.9, size=2)
        rows[0, i, :4] = (cx, cy, 0.08, 0.2)
        rows[0, i + 12, :4] = (cx + 0.005, cy, 0.08, 0.2)  # overlaps i: NMS has work
        for row in (i, i + 12):
            rows[0, row, 4] = 0.9
            rows[0, row, 5 + (PERSON if i % 3 else 2)] = 0.8 - 0.01 * (row // 12)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["mean"], axes=[1, 2, 3], keepdims=0),
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["boxes", "nothing"], ["detections"]),
        ],
        "standin",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, INPUT_SIZE, INPUT_SIZE])],
        [helper.make_tensor_value_info("detections", TensorProto.FLOAT, [1, ROWS, COLUMNS])],
        initializer=[
            helper.make_tensor("zero", TensorProto.FLOAT, [1], [0.0]),
            numpy_helper.from_array(rows, "boxes"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))


@dataclass
class Samples:
    at: list[int]
    rss: dict[int, float] = field(default_factory=dict)

    def __call__(self, _frame: Frame, count: int) -> None:
        if count in self.at:
            self.rss[count] = rss_mib()


def bench_memory(tmp: Path, small: int, big: int, threads: int, real_model: bool) -> None:
    model = MODEL
    if not real_model:
        model = tmp / "standin.onnx"
        standin_model(model)
    what = "the bundled detector" if real_model else "a stand-in detector (same I/O, ~free)"
    print(f"\n== 4. memory: one looping run of {big} frames, realtime off, camera -> {what} -> filter -> log")
    checkpoints = sorted({small, *(big * k // 5 for k in range(1, 6))})
    samples = Samples(checkpoints)
    gc.collect()  # finished runs of earlier sections may still hold their models (see 4b)
    rss_before = rss_mib()
    run = run_engine(
        build_skill(CLIP, model, threads=threads), tmp, realtime=False, max_frames=big, on_log=samples
    )
    rss_after = rss_mib()
    print(f"RSS before the run {rss_before:8.1f} MiB")
    for count in checkpoints:
        print(f"RSS after {count:5d} frames {samples.rss[count]:8.1f} MiB")
    print(
        f"RSS after the run ended {rss_after:8.1f} MiB ({run.logged} frames logged, "
        f"{run.objects} people, {run.logged / run.wall_s:.0f} fps)"
    )
    print(
        f"ratio RSS {big} / {small} frames: {samples.rss[big] / samples.rss[small]:.3f}x "
        f"(growth {samples.rss[big] - samples.rss[small]:+.1f} MiB; goal: flat, ~1.0x)"
    )


def bench_repeated_runs(tmp: Path, runs: int, threads: int) -> None:
    """Short runs one after another, as the desktop preview starts and stops: a finished run
    should give its model's memory back without waiting for Python's cycle collector."""
    print(
        f"\n== 4b. memory over {runs} short runs (3 frames each) of the detector graph, "
        "no explicit gc between runs"
    )
    skill = build_skill(CLIP, MODEL, threads=threads)
    gc.collect()
    rss = [rss_mib()]
    engines = []
    for _ in range(runs):
        engines.append(run_engine(skill, tmp, realtime=False, max_frames=3).engine)
        rss.append(rss_mib())
    alive = sum(ref() is not None for ref in engines)
    sessions = sum(isinstance(o, ort.InferenceSession) for o in gc.get_objects())
    gc.collect()
    print("RSS MiB before, then after each run: " + " ".join(f"{v:.0f}" for v in rss))
    print(
        f"finished engines still in memory: {alive} of {runs}; onnxruntime sessions alive: "
        f"{sessions}; RSS after gc.collect() {rss_mib():.0f} MiB "
        f"(engines left after it: {sum(ref() is not None for ref in engines)})"
    )


# --- main ---------------------------------------------------------------------------------------

SECTIONS = ("throughput", "overhead", "live", "memory")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, help="frames per throughput run (default 200, --quick 60)")
    parser.add_argument("--repeats", type=int, help="alternating runs per side (default 5, --quick 2)")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="onnxruntime intra-op threads for engine and plain loop (0 = default)",
    )
    parser.add_argument(
        "--live-fps",
        type=int,
        default=LIVE_FPS,
        help="camera rate of the live section (the clip is re-encoded at it)",
    )
    parser.add_argument("--quick", action="store_true", help="fewer frames everywhere (under a minute)")
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run, of {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--memory-real-model",
        action="store_true",
        help="the bundled detector in the memory run (~30 ms a frame on 2 cores)",
    )
    args = parser.parse_args()
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {', '.join(sorted(unknown))}; choose from {', '.join(SECTIONS)}")
    frames = args.frames or (60 if args.quick else 200)
    repeats = args.repeats or (2 if args.quick else 5)
    print(f"onnxruntime {ort.__version__}, OpenCV {cv2.__version__}, cores {len(os.sched_getaffinity(0))}")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="engine-bench-") as name:
        tmp = Path(name)
        if "throughput" in sections:
            bench_throughput(tmp, frames, repeats, args.threads)
        if "overhead" in sections:
            bench_overhead(tmp, 300 if args.quick else 1000, repeats)
        if "live" in sections:
            bench_live(tmp, 5.0 if args.quick else 10.0, args.live_fps, args.threads)
        if "memory" in sections:
            small, big = (200, 2000) if args.quick else (500, 5000)
            bench_memory(tmp, small, big, args.threads, args.memory_real_model)
            bench_repeated_runs(tmp, 4 if args.quick else 8, args.threads)
    print(f"\ntotal {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
