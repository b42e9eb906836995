"""`skill-designer run SKILL`: run a skill headless, with a progress line and a summary."""

from __future__ import annotations

import argparse
import io
import json
import logging
import logging.handlers
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from designer.commands.common import model_library
from designer.core.engine.events import FrameEvent, MetricsEvent, NodeErrorEvent, NodeWarningEvent, RunState
from designer.core.engine.executor import Engine, SkillNotRunnable
from designer.core.engine.frame import insight_message
from designer.core.engine.nodes.insights_log import LineFile
from designer.core.engine.runtime import RunContext
from designer.core.package import PackageError, is_package, open_package
from designer.core.secrets import mask_secrets, safe_message
from designer.core.skill import ParamError, Role, SkillFileError, load_skill
from designer.core.skill.catalog.sources import CameraParams
from designer.core.skill.fields import Mark
from designer.core.skill.params import parse_assignments

PROGRESS_PERIOD_S = 1.0
HEALTH_FILE_ENV = "SKILL_HEALTH_FILE"  # a file touched about once a second while frames are processed
RUN_LOG_MAX_BYTES = 4 * 1024 * 1024  # run.log rotates at this size...
RUN_LOG_BACKUPS = 2  # ...keeping this many earlier files: 12 MiB at most
# What signal.signal takes and returns (None: a handler not set from Python, or none set here).
_SignalHandler = Callable[[int, FrameType | None], Any] | int | signal.Handlers | None


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a skill headless",
        description="Run a skill on its camera (or --source) without the GUI, the way devices do. "
        "Exit status: 0 finished, 1 the run failed, 2 bad input, 3 finished but a node reported errors "
        "(see the summary), 130 stopped with Ctrl-C, 143 stopped with SIGTERM.",
    )
    parser.add_argument(
        "skill",
        metavar="SKILL_FILE",
        help="a *.skill.json file, a package (.zip, checked before it runs) or a *.deploy.json deployment",
    )
    parser.add_argument(
        "--source",
        default=os.environ.get("SKILL_SOURCE") or None,
        help="camera source instead of the skill's: file (relative to here), URL or webcam index "
        "(default: $SKILL_SOURCE, which the deploy files set where the skill reads a packaged file)",
    )
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="fill a $param(NAME) placeholder"
    )
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--insights", metavar="OUT.jsonl", help="also write every frame's insights here")
    parser.add_argument(
        "--realtime",
        choices=("on", "off"),
        default="on",
        help="off: read video files as fast as possible, processing every frame (default on)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument(
        "--start-containers",
        action="store_true",
        help="start each gRPC container node's image with Docker, wait for its handshake, stop it at the end",
    )
    parser.set_defaults(func=run)


def _fail(message: str, code: int = 2) -> int:
    print(f"error: {safe_message(message)}", file=sys.stderr)
    return code


def _quiet_opencv() -> None:
    """OpenCV's own warnings (a webcam it cannot open, per backend) would bury our one message."""
    try:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    except (ImportError, AttributeError):
        pass


def run(args: argparse.Namespace) -> int:
    _quiet_opencv()
    if args.skill.endswith((".deploy.json", ".deploy.zip")):  # several cameras and skills: run_deployment.py
        from designer.commands.run_deployment import run_deployment

        return run_deployment(args)
    if args.max_frames is not None and args.max_frames < 1:
        return _fail("--max-frames must be at least 1")
    try:  # a deployment that names a published package (SKILL_PACKAGE_URL): fetched, verified, cached
        from designer.core.package.blobstore import package_to_run

        args.skill = package_to_run(args.skill)
    except PackageError as exc:
        return _fail(str(exc))
    try:
        values = parse_assignments(args.param)
        if is_package(args.skill):  # verified, unpacked to a temporary folder, secrets from the environment
            opened = open_package(args.skill, values)
            skill, skill_dir, values = opened.skill, opened.folder, opened.values
        else:
            skill, skill_dir = load_skill(args.skill), Path(args.skill).resolve().parent
    except SkillFileError as exc:
        return _fail(exc.located())
    except (ParamError, PackageError) as exc:
        return _fail(str(exc))
    # A package names its model files: the library (and its bundled sample) is not needed there.
    context = RunContext.local(skill, skill_dir, None if is_package(args.skill) else model_library())
    source = args.source
    if source and not source.isdigit() and "://" not in source:
        source = str(Path(source).expanduser().resolve())  # the user typed it here, not in the skill
    try:
        engine = Engine(
            skill,
            params=values,
            source=source,
            realtime=args.realtime == "on",
            max_frames=args.max_frames,
            context=context,
        )
    except ParamError as exc:
        return _fail(f"{args.skill}: {exc}")
    except SkillNotRunnable as exc:
        return _fail(f"{args.skill}: {exc}", 1)
    return _run_with_containers(engine, args)


def _run_with_containers(engine: Engine, args: argparse.Namespace) -> int:
    """Container nodes are only connected to, unless --start-containers starts them."""
    from designer.commands.containers import ContainerError, notices, start_containers, stop_containers

    if not args.start_containers:
        for line in notices(engine):
            print(line, file=sys.stderr)
        return _run_engine(engine, args)
    try:
        started = start_containers(engine)
    except ContainerError as exc:
        return _fail(str(exc))
    try:
        return _run_engine(engine, args)
    finally:
        stop_containers(started)


class HealthFile:
    """The file ``SKILL_HEALTH_FILE`` names, touched about once a second while frames flow: the
    container's probes and HEALTHCHECK read its age."""

    def __init__(self) -> None:
        self.path = os.environ.get(HEALTH_FILE_ENV) or None
        self.next_touch = 0.0

    def beat(self) -> None:
        if self.path is None or time.monotonic() < self.next_touch:
            return
        self.next_touch = time.monotonic() + PROGRESS_PERIOD_S
        try:
            Path(self.path).touch()
        except OSError:
            pass  # the probe then reports the container unhealthy, which is the truth


class Console:
    """Prints engine events to stderr as they come: errors and warnings at once, a progress line
    at most once a second (``progress``, the subclass's), and beats the health file on metrics.
    ``errors`` keeps the last error of each node (``where`` names it in a deployment)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.started = time.monotonic()
        self.next_progress = self.started + PROGRESS_PERIOD_S
        self.errors: dict[str, str] = {}
        self.lock = threading.Lock()
        self.health = HealthFile()

    def report(self, event: object, where: str = "") -> None:
        if isinstance(event, MetricsEvent):
            self.health.beat()
            if not self.quiet and self._due():
                self._print(self.progress(event))
        elif isinstance(event, NodeErrorEvent):
            self.errors[f"{where}{event.node_id}"] = event.message
            self._print(f"{where}node {event.node_id}: error: {event.message}")
        elif isinstance(event, NodeWarningEvent):
            self._print(f"{where}node {event.node_id}: warning: {event.message}")

    def progress(self, metrics: MetricsEvent) -> str:
        raise NotImplementedError

    def _due(self) -> bool:
        with self.lock:
            if time.monotonic() < self.next_progress:
                return False
            self.next_progress = time.monotonic() + PROGRESS_PERIOD_S
            return True

    def _print(self, line: str) -> None:
        with self.lock:
            print(mask_secrets(line), file=sys.stderr, flush=True)


class _Console(Console):
    """One skill's console: the frames read, the fps and each node's median time."""

    def __init__(self, engine: Engine, quiet: bool) -> None:
        super().__init__(quiet)
        self.engine = engine

    def __call__(self, event: object) -> None:
        self.report(event)

    def fatal(self, message: str) -> None:
        self._print(f"error: {message}")

    def warning(self, node_id: str, message: str) -> None:
        self._print(f"node {node_id}: warning: {message}")

    def progress(self, metrics: MetricsEvent) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        frames = self.engine.frames_read
        parts = [f"{frames} frames", f"{frames / elapsed:.1f} fps"]
        for node_id, stats in metrics.nodes.items():
            if node_id != self.engine.plan.camera.id and stats.frames_in:
                parts.append(f"{node_id} {stats.p50_ms:.1f} ms")
        return " | ".join(parts)


class _Terminated(Exception):
    """SIGTERM arrived (how Docker, systemd and Kubernetes stop a runtime): stop like Ctrl-C."""


class _InsightsSink:
    """``--insights``: the first export's frames as JSON lines, each written whole or not at all.

    A write that fails (a full disk) is reported once, naming the file; what was written stays,
    and the run is stopped since its output can no longer be kept.
    """

    def __init__(self, path: str, engine: Engine, console: _Console) -> None:
        self.path = path
        self.engine = engine
        self.console = console
        self.lock = threading.Lock()
        self.lines = 0
        self.failure = ""
        self.file: LineFile | None = LineFile(Path(path))  # closed in close()
        self.export = next((i for i, n in engine.plan.nodes.items() if n.spec.role is Role.EXPORT), None)

    def __call__(self, event: object) -> None:
        if not isinstance(event, FrameEvent) or event.node_id != self.export:
            return
        context = self.engine.context
        message = insight_message(
            event.frame,
            instance_id=context.instance_id,
            skill_id=context.skill_id,
            device_id=context.device_id,
        )
        try:
            line = json.dumps(message, allow_nan=False)
        except ValueError as exc:  # a non-finite number: invalid JSON for every reader
            self.console.warning(
                self.export or "", f"frame {event.frame.frame_id} not written to --insights: {exc}"
            )
            return
        with self.lock:
            if self.file is None or self.failure:
                return
            try:
                self.file.write_line(line)  # whole or not at all: a torn line is cut back off
            except OSError as exc:
                self._failed(exc)
                return
            self.lines += 1

    def _failed(self, exc: OSError) -> None:
        self.failure = (
            f"--insights {self.path}: cannot write: {exc.strerror or exc}; "
            f"the {self.lines} lines written before are kept"
        )
        self.console.fatal(self.failure)
        self.engine.stop()

    def close(self) -> None:
        with self.lock:
            file, self.file = self.file, None
            if file is None:
                return
            try:
                file.close()
            except OSError as exc:
                if not self.failure:
                    self._failed(exc)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and b.exists() and a.samefile(b))
    except OSError:
        return False


def _check_insights_path(engine: Engine, path: str, owner: str = "") -> str | None:
    """Two writers on one file interleave their lines: refuse --insights on a node's own output file.

    ``owner`` follows the node's name where several engines run (a deployment's camera and skill)."""
    for node in engine.plan.nodes.values():
        for param, written in node.marked(Mark.WRITES):
            if _same_file(Path(path), engine.context.resolve_output(str(written))):
                return (
                    f"--insights {path} is the file the {node.spec.title} node '{node.id}'{owner} writes "
                    f"(parameter '{param}'); two writers on one file corrupt it: choose another file "
                    "or leave out --insights"
                )
    return None


class _MaskingFilter(logging.Filter):
    """Log lines may quote URLs a user typed: mask their credentials before they are written."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = mask_secrets(record.getMessage()), None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class _RunLogHandler(logging.handlers.RotatingFileHandler):
    """run.log, bounded: at ``RUN_LOG_MAX_BYTES`` it rotates to run.log.1 (then .2); every file
    is created 0600 like the first (a traceback may quote a setting)."""

    def __init__(self, path: Path) -> None:
        super().__init__(
            path,
            mode="a",
            maxBytes=RUN_LOG_MAX_BYTES,
            backupCount=RUN_LOG_BACKUPS,
            encoding="utf-8",
            delay=True,
        )

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        return open(fd, "a", encoding="utf-8")


def _open_run_log() -> tuple[Path | None, logging.Handler | None]:
    """The details of a run (tracebacks of internal errors) go to ``<data folder>/logs/run.log``,
    not to the console, where each error is shown once as a message; None when it cannot open."""
    from designer.core.paths import data_dir, private_dir, private_file

    try:
        path = private_file(private_dir(data_dir() / "logs") / "run.log")  # may hold secrets: 0600
        with path.open("r+b") as previous:  # each run starts the log afresh
            previous.truncate()
        handler = _RunLogHandler(path)
    except OSError:
        return None, None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(_MaskingFilter())
    handler.setLevel(logging.INFO)
    root = logging.getLogger()
    root.addHandler(handler)
    # httpx logs every request with its URL at INFO (an Azure Function's ?code=, a SAS): warnings only.
    for name in ("httpx", "httpcore"):
        if logging.getLogger(name).level in (logging.NOTSET, logging.DEBUG, logging.INFO):
            logging.getLogger(name).setLevel(logging.WARNING)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    return path, handler


def _close_run_log(handler: logging.Handler | None) -> None:
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()


def _run_engine(engine: Engine, args: argparse.Namespace) -> int:
    log_path, handler = _open_run_log()
    try:
        return _run_logged(engine, args, log_path)
    finally:
        _close_run_log(handler)


def _run_logged(engine: Engine, args: argparse.Namespace, log_path: Path | None) -> int:
    """Run the engine to its end with the console (and any insights file) attached; the exit code."""
    console = _Console(engine, args.quiet)
    engine.subscribe(console)
    sink = None
    if args.insights:
        sink, error = _open_insights(engine, args.insights, console)
        if error is not None:
            return _fail(error)
    interrupted = _wait_for_engine(engine, sink)
    _summary(engine, console)
    _print_hints(engine, console, log_path)
    return _exit_code(engine, console, sink, interrupted)


def _open_insights(engine: Engine, path: str, console: _Console) -> tuple[_InsightsSink | None, str | None]:
    """The ``--insights`` file, subscribed; or why not, checked before the run so nothing is lost."""
    clash = _check_insights_path(engine, path)
    if clash:
        return None, clash
    try:
        sink = _InsightsSink(path, engine, console)
    except OSError as exc:
        return None, f"--insights {path}: cannot write: {exc.strerror}"
    engine.subscribe(sink)
    return sink, None


def _wait_for_engine(engine: Engine, sink: _InsightsSink | None) -> int:
    """Run until the engine stops: Ctrl-C (130) or SIGTERM (143) stops it cleanly; 0 otherwise.

    The insights file is closed however the wait ends, so it is never left half-written."""
    interrupted = 0
    previous = _on_sigterm()
    engine.start()
    try:
        try:
            while engine.wait(0.2) in (RunState.STARTING, RunState.RUNNING):
                pass
        except KeyboardInterrupt:
            interrupted = 130
            engine.stop()
        except _Terminated:
            interrupted = 143
            engine.stop()
    finally:
        _restore_sigterm(previous)
        if sink is not None:
            sink.close()
    return interrupted


def _print_hints(engine: Engine, console: _Console, log_path: Path | None) -> None:
    """Point at the run log after an internal error, and at other sources when a webcam failed."""
    internal = any("internal error" in message for message in console.errors.values())
    if internal and log_path is not None and log_path.exists() and log_path.stat().st_size:
        print(f"details of the errors above (for a bug report): {log_path}", file=sys.stderr)
    camera = engine.plan.camera
    source = camera.params.source if isinstance(camera.params, CameraParams) else ""
    if camera.id in console.errors and source.strip().isdigit():
        print(
            f"hint: no webcam {source} here? Try the skill on a video file or a "
            "camera URL: skill-designer run SKILL --source clip.mp4",
            file=sys.stderr,
        )


def _exit_code(engine: Engine, console: _Console, sink: _InsightsSink | None, interrupted: int) -> int:
    """1 for a failed run (or insights file), then the interrupt's code, 3 for node errors, else 0."""
    if engine.state is RunState.FAILED or (sink is not None and sink.failure):
        return 1
    if interrupted:
        return interrupted
    return 3 if console.errors else 0


def _on_sigterm() -> _SignalHandler:
    """Turn SIGTERM into an exception in the main thread; None where signals cannot be set."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def terminate(signum: int, frame: FrameType | None) -> None:
        raise _Terminated

    return signal.signal(signal.SIGTERM, terminate)


def _restore_sigterm(previous: _SignalHandler) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def _summary(engine: Engine, console: _Console) -> None:
    elapsed = time.monotonic() - console.started
    frames = engine.frames_read
    lines = [
        f"{engine.state.value}: {frames} frames in {elapsed:.1f} s ({frames / max(elapsed, 1e-6):.1f} fps)"
    ]
    metrics = engine.metrics()
    lines.append(
        f"  {'node':<20} {'in':>7} {'out':>7} {'dropped':>8} {'errors':>7} {'p50 ms':>8} {'p95 ms':>8}"
    )
    for node_id, s in metrics.nodes.items():
        state = "  FAILED" if s.failed else ""
        lines.append(
            f"  {node_id:<20} {s.frames_in:>7} {s.frames_out:>7} {s.dropped:>8} {s.errors:>7} "
            f"{s.p50_ms:>8.1f} {s.p95_ms:>8.1f}{state}"
        )
    for node_id, s in metrics.nodes.items():
        if s.errors:
            lines.append(f"  {node_id}: failed on {s.errors} of {s.frames_in} frames (passed on unchanged)")
    for node_id, s in metrics.nodes.items():
        if s.messages or s.queued or s.messages_dropped:  # exports: where the messages went
            lines.append(
                f"  {node_id}: {s.messages} messages, {s.sent} sent, {s.queued} queued (kept for the "
                f"next run), {s.messages_dropped} dropped"
            )
    print("\n".join(lines), file=sys.stderr)
