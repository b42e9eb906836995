"""Deployments: N cameras in one process vs N processes (run by hand; prints figures and ratios).

    .venv/bin/python bench/deploy_bench.py [--frames 24] [--cameras 1,2,4,8]

The bundled clip N times as N cameras (realtime off), each running the bundled default skill
(camera -> yolov3-tiny -> filter(person) -> insights log). For each N:

- aggregate fps of the deployment vs one camera's compute bound (inference-only fps of the
  model on these cores, one frame per run, timed over 3 s before and after each N: the
  bundled detector's batch is fixed at 1);
- fairness: slowest camera's fps / fastest camera's fps (goal >= 0.9);
- resident memory (peak RSS of the process) and what each added camera costs, against one
  model session's size (goal: well under it, since the session is shared);
- N separate `skill-designer run` processes on the same cameras: aggregate fps, total memory.

Each configuration runs in a fresh process so memory figures do not mix.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "resources/samples/default.skill.json"
CLIP = ROOT / "resources/video/vtest.avi"
MODEL = ROOT / "resources/models/yolov3-tiny-coco.onnx"
CLI = [sys.executable, "-m", "designer.cli"]
WARMUP_S = 3.0
BOUND_WINDOW_S = 3.0  # inference-only fps is timed over this long, before and after each N


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _current_rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def child_compute() -> dict:
    """Inference-only fps of the bundled model on these cores, and one session's resident size."""
    import cv2
    import numpy as np

    from designer.core.models.inspect import inspect_model
    from designer.core.models.session import OnnxModel

    before = _current_rss_kb()
    info = inspect_model(MODEL, None)
    model = OnnxModel(info)
    loaded = _current_rss_kb()
    capture = cv2.VideoCapture(str(CLIP))
    ok, image = capture.read()
    capture.release()
    tensor, _ = model.preprocess(image if ok else np.zeros((576, 768, 3), np.uint8))
    model.infer(tensor)
    after_first = _current_rss_kb()
    runs, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < BOUND_WINDOW_S:  # a window, not a few runs
        model.infer(tensor)
        runs += 1
    return {
        "infer_fps": runs / elapsed,
        "session_kb": after_first - before,
        "load_kb": loaded - before,
        "dynamic_batch": info.dynamic_batch,
    }


def _skill(folder: Path) -> Path:
    """The default skill, or (BENCH_MODEL set) the same skill on another model file."""
    model = os.environ.get("BENCH_MODEL")
    if not model:
        return SKILL
    data = json.loads(SKILL.read_text())
    for node in data["nodes"]:
        if "model_path" in node["params"]:
            node["params"]["model_path"] = model
            node["params"]["labels_path"] = str(MODEL.with_name("yolov3-tiny-coco.labels.txt"))
    path = folder / "batched.skill.json"
    path.write_text(json.dumps(data))
    return path


def _deployment_file(folder: Path, cameras: int) -> Path:
    from designer.core.deployment import Camera, Deployment, SkillRef, save_deployment

    skill = _skill(folder)

    deployment = Deployment(
        name="bench",
        cameras=[
            Camera(name=f"cam{i}", source=str(CLIP), loop=True, skills=[SkillRef(skill=str(skill))])
            for i in range(cameras)
        ],
    )
    path = folder / "bench.deploy.json"
    save_deployment(deployment, path)
    return path


def child_deploy(cameras: int, frames: int, seconds: float) -> dict:
    """frames > 0: run every camera to ``frames`` frames, timed end to end (start-up included, as
    for the separate processes); else run ``seconds`` after a warm-up and count each camera's
    frames in that window (fairness, steady-state fps)."""
    from designer.commands.common import model_library
    from designer.core.deployment import load_deployment
    from designer.core.deployment.runner import DeploymentRun

    def done(run: DeploymentRun) -> dict[str, int]:
        return {p.camera.name: p.engine.metrics().nodes["log"].frames_in for p in run.pairs}

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        path = _deployment_file(folder, cameras)
        run = DeploymentRun(
            load_deployment(path),
            folder,
            realtime=False,
            max_frames=frames or None,
            output_dir=folder / "out",
            models=model_library(),
        )
        started = time.perf_counter()
        run.start()
        if frames:
            run.wait()
            elapsed, counts = time.perf_counter() - started, done(run)
        else:
            time.sleep(WARMUP_S)
            first = done(run)
            time.sleep(seconds)
            last = done(run)
            elapsed, counts = seconds, {k: last[k] - first[k] for k in last}
        stats = run.pool.history[0].stats() if run.pool.history else None
        run.close()
    return {
        "elapsed": elapsed,
        "frames": sum(counts.values()),
        "per_camera_frames": counts,
        "sessions": run.pool.opened,
        "runs": stats.runs if stats else 0,
        "requests": stats.requests if stats else 0,
        "largest_batch": stats.largest_batch if stats else 0,
        "rss_kb": _rss_kb(),
    }


def _child(*args: str, env: dict[str, str] | None = None) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def separate_processes(cameras: int, frames: int) -> dict:
    """N `skill-designer run` processes at once, each on its own copy of the camera."""
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        procs = []
        for i in range(cameras):
            folder = Path(tmp) / f"p{i}"
            folder.mkdir()
            procs.append(
                subprocess.Popen(
                    [*CLI, "run", str(SKILL), "--source", str(CLIP), "--realtime", "off", "--quiet",
                     "--max-frames", str(frames)],
                    cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env={**os.environ, "PYTHONPATH": str(ROOT)},
                )
            )  # fmt: skip
        rss = 0
        for proc in procs:
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            rss += usage.ru_maxrss
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "frames": cameras * frames, "rss_kb": rss}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=24, help="frames per camera")
    parser.add_argument("--cameras", default="1,2,4,8")
    parser.add_argument("--seconds", type=float, default=8.0, help="steady-state window per N")
    parser.add_argument("--child", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        kind, *rest = args.child
        result = (
            child_compute() if kind == "compute" else child_deploy(int(rest[0]), int(rest[1]), float(rest[2]))
        )
        print(json.dumps(result))
        return
    counts = [int(n) for n in args.cameras.split(",")]
    compute = _child("compute")
    bound = compute["infer_fps"]
    print(
        f"cores {os.cpu_count()}; inference only: {bound:.1f} fps (compute bound; batch "
        f"{'dynamic' if compute['dynamic_batch'] else 'fixed at 1: no batching'}, measured again before "
        f"and after each N); one session "
        f"{compute['session_kb'] / 1024:.0f} MiB resident"
    )
    print(
        f"{'N':>2} {'agg fps':>8} {'x bound':>8} {'fairness':>9} {'RSS MiB':>8} {'sessions':>8} "
        f"{'| N procs fps':>14} {'procs MiB':>10} {'one/procs fps':>14} {'mem ratio':>10}"
    )
    rows = []
    for n in counts:
        before = _child("compute")["infer_fps"]  # around each N: a shared machine's load changes
        steady = _child("deploy", str(n), "0", str(args.seconds))
        bound = (before + _child("compute")["infer_fps"]) / 2
        fps = steady["frames"] / steady["elapsed"]
        frames = list(steady["per_camera_frames"].values())
        fairness = min(frames) / max(frames) if max(frames) else 0.0
        whole = _child("deploy", str(n), str(args.frames), "0")
        whole_fps = whole["frames"] / whole["elapsed"]
        procs = separate_processes(n, args.frames)
        procs_fps = procs["frames"] / procs["elapsed"]
        rss = steady["rss_kb"] / 1024
        rows.append((n, rss))
        print(
            f"{n:>2} {fps:>8.1f} {fps / bound:>8.2f} {fairness:>9.2f} {rss:>8.0f} {steady['sessions']:>8} "
            f"{procs_fps:>14.1f} {procs['rss_kb'] / 1024:>10.0f} {whole_fps / procs_fps:>14.2f} "
            f"{steady['rss_kb'] / max(procs['rss_kb'], 1):>10.2f}"
        )
    if len(rows) > 1:
        (n0, r0), (n1, r1) = rows[0], rows[-1]
        per_camera = (r1 - r0) / (n1 - n0)
        print(
            f"resident memory per added camera: {per_camera:.0f} MiB "
            f"({per_camera / max(compute['session_kb'] / 1024, 1e-6):.2f}x one session)"
        )
    batching(counts, args.seconds)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"agg fps and fairness: frames per camera in a {args.seconds:.0f} s window after a "
        f"{WARMUP_S:.0f} s warm-up (lossless cameras); one/procs fps: {args.frames} frames per camera "
        "end to end, start-up included, one process vs N `skill-designer run` processes"
    )


def batching(counts: list[int], seconds: float) -> None:
    """The same deployment on the bundled detector re-exported with a dynamic batch: what
    batching frames of several cameras into one run buys (fixed and dynamic alternated)."""
    from designer.core.models.batching import make_batch_dynamic

    with tempfile.TemporaryDirectory() as tmp:
        dynamic = Path(tmp) / "yolov3-tiny-coco-batch.onnx"
        make_batch_dynamic(MODEL, dynamic)
        print("batching (bundled detector re-exported with a dynamic batch, same weights):")
        print(
            f"{'N':>2} {'fixed fps':>10} {'batched fps':>12} {'ratio':>6} {'mean batch':>11} {'largest':>8}"
        )
        for n in [c for c in counts if c > 1]:
            fixed = _child("deploy", str(n), "0", str(seconds))
            batched = _child("deploy", str(n), "0", str(seconds), env={"BENCH_MODEL": str(dynamic)})
            f_fps, b_fps = fixed["frames"] / fixed["elapsed"], batched["frames"] / batched["elapsed"]
            mean = batched["requests"] / max(batched["runs"], 1)
            largest = batched["largest_batch"]
            print(f"{n:>2} {f_fps:>10.1f} {b_fps:>12.1f} {b_fps / f_fps:>6.2f} {mean:>11.2f} {largest:>8}")


if __name__ == "__main__":
    main()
