"""Live preview benchmarks in the real main window (run by hand; prints ratios, asserts nothing).

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/preview_bench.py
        [--stall-s 60] [--frames 200] [--repeats 2] [--memory-min 10] [--only stall,throughput,memory]
        [--quick]

1. stall: the GUI event loop while previewing the default skill on the bundled clip (realtime,
   looping): a 1 ms precise timer records every gap between its ticks; the longest gap and the
   median one (goals: < 50 ms and < 5 ms) say how long the user would wait for any click. The
   same window idle, measured first, shows what the machine itself adds. Also: seconds from Run
   to the first boxed person on screen (goal < 2 s).
2. throughput: the default skill on the first --frames frames of the bundled clip, played once
   with realtime off: the preview (frames / second from Run to the end, the video and insights
   docks painting all along) vs `skill-designer run --realtime off` on the same skill and clip,
   alternating, medians compared (goal: preview >= 0.95x).
3. memory: resident size of the designer after 1 minute of preview vs after --memory-min
   minutes (goal: flat, under 1.05x).

Everything runs in one process per section start, on the same machine, in the same run.
--quick: 15 s stall, 100 frames, memory 1 vs 2 minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2
from PySide6.QtCore import QElapsedTimer, QEventLoop, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from designer.core.engine.events import RunState
from designer.core.skill import load_skill, save_skill

ROOT = Path(__file__).resolve().parents[1]
SKILL = ROOT / "resources" / "samples" / "default.skill.json"
CLIP = ROOT / "resources" / "video" / "vtest.avi"


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def pump(app: QApplication, seconds: float, until=None) -> None:
    """Run the event loop for ``seconds`` (or until ``until()`` holds)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not (until and until()):
        app.processEvents()
        time.sleep(0.001)


def new_window(app: QApplication):
    from designer.ui.window import MainWindow

    QMessageBox.warning = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
    window = MainWindow(restore_state=False)
    window.set_skill(load_skill(SKILL), SKILL)
    window.resize(1440, 900)
    window.show()
    pump(app, 0.5)
    return window


def close(app: QApplication, window) -> None:
    window.close()
    pump(app, 0.2)


def run_preview(app: QApplication, window, timeout: float = 30.0):
    """Press Run; return the started engine."""
    preview = window.preview
    started = []
    preview.engine_started.connect(started.append)
    preview.run_action.trigger()
    pump(app, timeout, until=lambda: bool(started))
    if not started:
        raise SystemExit(f"the preview did not start: {window.statusBar().currentMessage()}")
    return started[0]


# --- 1. GUI stalls --------------------------------------------------------------------------


def event_loop_gaps(seconds: float) -> list[float]:
    """Run the event loop for ``seconds``; the gaps (ms) between ticks of a 1 ms precise timer."""
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    timer = QTimer(interval=1, timerType=Qt.TimerType.PreciseTimer)
    timer.timeout.connect(tick)
    timer.start()
    loop = QEventLoop()  # the loop a user's click waits on
    QTimer.singleShot(int(seconds * 1000), loop.quit)
    loop.exec()
    timer.stop()
    return sorted(gaps)


def describe(gaps: list[float]) -> str:
    return (
        f"longest gap {gaps[-1]:.1f} ms, median {statistics.median(gaps):.2f} ms, "
        f"p99 {gaps[int(len(gaps) * 0.99)]:.1f} ms"
    )


def bench_stall(app: QApplication, seconds: float) -> None:
    window = new_window(app)
    idle = event_loop_gaps(min(seconds, 10.0))  # the same window, not previewing: the machine's share
    pressed = time.monotonic()
    engine = run_preview(app, window)
    dock = window.preview.dock

    def boxed() -> bool:
        frame = dock._last
        result = frame.results.get(dock.current_branch()) if frame is not None else None
        return result is not None and any(o.label == "person" for o in result.objects)

    pump(app, 30.0, until=boxed)
    print(f"first boxed people on screen {time.monotonic() - pressed:.2f} s after Run (goal < 2 s)")
    pump(app, 1.0)
    frames_before = engine.frames_read
    gaps = event_loop_gaps(seconds)
    frames = engine.frames_read - frames_before
    rate = frames / seconds
    print(f"stall: {seconds:.0f} s of preview, {frames} frames ({rate:.1f} fps), {len(gaps)} ticks")
    print(f"  previewing: {describe(gaps)} (goals: longest < 50, median < 5)")
    print(f"  idle window, same machine: {describe(idle)}")
    from designer.ui.preview.controller import engine_threads

    pressed = time.monotonic()
    window.preview.stop_action.trigger()
    pump(app, 10.0, until=lambda: not engine_threads())
    left = len(engine_threads())
    print(
        f"stop: engine threads gone {time.monotonic() - pressed:.2f} s after Stop (goal < 1 s), {left} left"
    )
    close(app, window)


# --- 2. throughput ----------------------------------------------------------------------------


def short_skill(folder: Path, frames: int) -> Path:
    """The default skill on the first ``frames`` frames of the clip, played once."""
    capture = cv2.VideoCapture(str(CLIP))
    fps = capture.get(cv2.CAP_PROP_FPS) or 10.0
    clip = folder / "clip.avi"
    writer = None
    for _ in range(frames):
        ok, image = capture.read()
        if not ok:
            break
        if writer is None:
            size = (image.shape[1], image.shape[0])
            writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
        writer.write(image)
    writer.release()
    capture.release()
    skill = load_skill(SKILL)
    for node in skill.nodes:
        for key in ("model_path", "labels_path"):
            if node.params.get(key):
                node.params[key] = str((SKILL.parent / node.params[key]).resolve())
    skill.node("camera").params.update(source=str(clip), loop=False)
    path = folder / "short.skill.json"
    save_skill(skill, path)
    return path


def headless_fps(skill: Path, folder: Path) -> float:
    result = subprocess.run(
        [sys.executable, "-m", "designer.cli", "run", str(skill), "--realtime", "off", "--quiet"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    match = re.search(r"finished: (\d+) frames in ([\d.]+) s \(([\d.]+) fps\)", result.stderr)
    if not match:
        raise SystemExit(f"skill-designer run failed:\n{result.stderr}")
    return float(match.group(3))


def preview_fps(app: QApplication, skill_path: Path) -> float:
    window = new_window(app)
    window.set_skill(load_skill(skill_path), skill_path)
    window.preview.realtime = False
    started = time.monotonic()
    engine = run_preview(app, window)
    pump(app, 600, until=lambda: engine.state in (RunState.FINISHED, RunState.FAILED))
    elapsed = time.monotonic() - started
    frames = engine.frames_read
    close(app, window)
    return frames / elapsed


def bench_throughput(app: QApplication, frames: int, repeats: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        folder = Path(temp)
        skill = short_skill(folder, frames)
        preview, headless = [], []
        for _ in range(repeats):
            headless.append(headless_fps(skill, folder))
            preview.append(preview_fps(app, skill))
    p, h = statistics.median(preview), statistics.median(headless)
    print(f"throughput: {frames} frames, realtime off, {repeats} runs each, alternating")
    print(f"  preview {p:.1f} fps, skill-designer run {h:.1f} fps: {p / h:.2f}x (goal >= 0.95x)")
    print(f"  runs: preview {[round(x, 1) for x in preview]}, headless {[round(x, 1) for x in headless]}")


# --- 3. memory ----------------------------------------------------------------------------------


def bench_memory(app: QApplication, minutes: float) -> None:
    window = new_window(app)
    engine = run_preview(app, window)
    pump(app, 60)
    at_one = rss_mb()
    frames_one = engine.frames_read
    pump(app, (minutes - 1) * 60)
    at_end = rss_mb()
    print(f"memory: resident after 1 min {at_one:.0f} MB ({frames_one} frames)")
    ratio = at_end / at_one
    print(
        f"  after {minutes:g} min {at_end:.0f} MB ({engine.frames_read} frames): {ratio:.3f}x (goal < 1.05x)"
    )
    close(app, window)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stall-s", type=float, default=60.0)
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--memory-min", type=float, default=10.0)
    parser.add_argument("--only", default="stall,throughput,memory")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.stall_s, args.frames, args.memory_min = 15.0, 100, 2.0
    home = Path(tempfile.mkdtemp(prefix="preview-bench-"))
    os.chdir(home)  # the preview sends nothing, but the bench stays out of the tree anyway
    os.environ.setdefault("SKILL_DESIGNER_DATA", str(home / "data"))  # not the user's library
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)  # nor the user's settings
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "settings"))
    app = QApplication.instance() or QApplication(sys.argv[:1])
    sections = set(args.only.split(","))
    print(f"preview bench: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    if "stall" in sections:
        bench_stall(app, args.stall_s)
    if "throughput" in sections:
        bench_throughput(app, args.frames, args.repeats)
    if "memory" in sections:
        bench_memory(app, args.memory_min)


if __name__ == "__main__":
    main()
