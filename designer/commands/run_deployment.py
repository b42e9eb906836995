"""`skill-designer run SITE.deploy.json`: every camera x skill of a deployment in this process."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

from designer.commands.common import model_library
from designer.commands.run import (
    Console,
    _check_insights_path,
    _close_run_log,
    _fail,
    _on_sigterm,
    _open_run_log,
    _restore_sigterm,
    _Terminated,
)
from designer.core.deployment import DeploymentFileError, load_deployment
from designer.core.deployment.package import (
    DeploymentPackageError,
    is_deployment_package,
    open_deployment_package,
    package_skills,
)
from designer.core.deployment.runner import (
    DeploymentError,
    DeploymentRun,
    Pair,
    load_skills,
    needed_params,
    param_env,
)
from designer.core.engine.events import (
    EngineEvent,
    FrameEvent,
    MetricsEvent,
    RunState,
)
from designer.core.engine.frame import insight_message
from designer.core.engine.nodes.insights_log import LineFile
from designer.core.skill import ParamError, Role
from designer.core.skill.params import parse_assignments


class _Console(Console):
    """A deployment's console: errors named by camera / skill, each camera's fps."""

    def __init__(self, run: DeploymentRun, quiet: bool) -> None:
        super().__init__(quiet)
        self.run = run

    def __call__(self, pair: Pair, event: EngineEvent) -> None:
        self.report(event, f"{pair.key}: ")

    def progress(self, metrics: MetricsEvent) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        parts = []
        for camera in self.run.deployment.cameras:
            frames = max(
                (p.engine.frames_read for p in self.run.pairs if p.camera.name == camera.name), default=0
            )
            parts.append(f"{camera.name} {frames / elapsed:.1f} fps")
        return " | ".join(parts)


class _Insights:
    """``--insights``: every pair's first export's frames, one JSON line each, tagged."""

    def __init__(self, path: str, run: DeploymentRun) -> None:
        self.file = LineFile(Path(path))
        self.lock = threading.Lock()
        self.failure = ""
        self.exports = {
            p.key: next((i for i, n in p.engine.plan.nodes.items() if n.spec.role is Role.EXPORT), None)
            for p in run.pairs
        }

    def __call__(self, pair: Pair, event: EngineEvent) -> None:
        if not isinstance(event, FrameEvent) or event.node_id != self.exports.get(pair.key):
            return
        context = pair.engine.context
        message = insight_message(
            event.frame,
            instance_id=context.instance_id,
            skill_id=context.skill_id,
            device_id=context.device_id,
        )
        try:
            line = json.dumps(message, allow_nan=False)
        except ValueError:
            return
        with self.lock:
            if self.failure:
                return
            try:
                self.file.write_line(line)
            except OSError as exc:
                self.failure = f"--insights: cannot write: {exc.strerror or exc}"
                print(f"error: {self.failure}", file=sys.stderr)

    def close(self) -> None:
        with self.lock:
            try:
                self.file.close()
            except OSError as exc:
                self.failure = self.failure or f"--insights: cannot write: {exc.strerror or exc}"


def run_deployment(args: argparse.Namespace) -> int:
    if args.source:
        return _fail("--source does not apply to a deployment: its cameras are in the file")
    if args.start_containers:
        return _fail("--start-containers is not supported for deployments yet: start the containers first")
    if args.max_frames is not None and args.max_frames < 1:
        return _fail("--max-frames must be at least 1")
    try:
        values = parse_assignments(args.param)
        base, skills = Path(args.skill).resolve().parent, None
        if is_deployment_package(args.skill):  # checked entry by entry, unpacked to a temporary folder
            deployment, base = open_deployment_package(args.skill)
            skills = package_skills(deployment, base, values, args.skill)
        else:
            deployment = load_deployment(args.skill)
        if skills is None:
            skills = load_skills(deployment, base, values, args.skill)
        for name in needed_params(deployment, skills):  # a device gives them in its environment
            if name not in values and param_env(name) in os.environ:
                values[name] = os.environ[param_env(name)]
        run = DeploymentRun(
            deployment,
            base,
            skills=skills,
            params=values,
            realtime=args.realtime == "on",
            max_frames=args.max_frames,
            models=model_library(),
            where=args.skill,
        )
    except (DeploymentFileError, DeploymentPackageError, ParamError) as exc:
        return _fail(str(exc))
    except DeploymentError as exc:
        return _fail(str(exc), 1 if "cannot run" in str(exc) else 2)
    if not run.pairs:
        return _fail(f"{args.skill}: no camera has a skill: nothing to run")
    _, handler = _open_run_log()
    try:
        return _run(run, args)
    finally:
        _close_run_log(handler)
        run.close()


def _insights_clash(run: DeploymentRun, path: str) -> str | None:
    """Checked before the file is opened (which empties it): no pair's node may write it too."""
    for pair in run.pairs:
        owner = f" of camera {pair.camera.name!r}, skill {pair.skill_name!r}"
        clash = _check_insights_path(pair.engine, path, owner)
        if clash:
            return clash
    return None


def _run(run: DeploymentRun, args: argparse.Namespace) -> int:
    console = _Console(run, args.quiet)
    run.subscribe(console)
    sink = None
    if args.insights:
        clash = _insights_clash(run, args.insights)
        if clash:
            return _fail(clash)
        try:
            sink = _Insights(args.insights, run)
        except OSError as exc:
            return _fail(f"--insights {args.insights}: cannot write: {exc.strerror}")
        run.subscribe(sink)
    interrupted = 0
    previous = _on_sigterm()
    run.start()
    try:
        try:
            while not run.wait(0.2):
                pass
        except KeyboardInterrupt:
            interrupted = 130
            run.stop()
        except _Terminated:
            interrupted = 143
            run.stop()
    finally:
        _restore_sigterm(previous)
        if sink is not None:
            sink.close()
    print("\n".join(summary(run, time.monotonic() - console.started)), file=sys.stderr)
    failed = [p for p in run.pairs if p.engine.state is RunState.FAILED]
    if len(failed) == len(run.pairs) or (sink is not None and sink.failure):
        return 1
    if interrupted:
        return interrupted
    return 3 if console.errors or failed else 0


def _camera_lines(run: DeploymentRun, elapsed: float) -> list[str]:
    """Per camera: frames read, fps, frames dropped (summed over its skills), reconnects; shows
    whether a slow run is the camera's fault or the skills'."""
    lines = [f"  {'camera':<20} {'frames':>7} {'fps':>7} {'dropped':>8} {'reconnects':>10}"]
    for name, hub in run.hubs.items():
        pairs = [p for p in run.pairs if p.camera.name == name]
        dropped = sum(p.engine.metrics().nodes[p.engine.plan.camera.id].dropped for p in pairs)
        lines.append(
            f"  {name:<20} {hub.frames:>7} {hub.frames / elapsed:>7.1f} {dropped:>8} {hub.reconnects:>10}"
        )
    return lines


def _pair_line(pair: Pair, elapsed: float) -> str:
    """One camera x skill: state, frames, fps, insights (frames into its exports), errors and the
    p50 of its slowest node, the one to look at first when it falls behind."""
    nodes = pair.engine.metrics().nodes
    exports = [
        s
        for i, s in nodes.items()
        if i in pair.engine.plan.nodes and pair.engine.plan.nodes[i].spec.role is Role.EXPORT
    ]
    work = [s for i, s in nodes.items() if i != pair.engine.plan.camera.id]
    errors = sum(s.errors for s in work)
    slowest = max((s.p50_ms for s in work), default=0.0)
    frames = pair.engine.frames_read
    return (
        f"  {pair.key:<32} {pair.engine.state.value:<9} {frames:>7} {frames / elapsed:>6.1f} "
        f"{sum(s.frames_in for s in exports):>8} {errors:>7} {slowest:>15.1f}"
        + (f"  restarted {pair.restarts}x" if pair.restarts else "")
    )


def _session_lines(run: DeploymentRun) -> list[str]:
    """The shared model sessions: proof that a model used by several skills was loaded once."""
    lines = []
    for shared in run.pool.history:
        stats = shared.stats()
        lines.append(
            f"  model {Path(stats.path).name}: one session for {stats.most_users} nodes, "
            f"{stats.requests} inferences in {stats.runs} runs (largest batch {stats.largest_batch})"
        )
    lines.append(f"  sessions loaded: {run.pool.opened}")
    return lines


def _node_lines(pair: Pair) -> list[str]:
    """The nodes of a pair that failed on frames or passed messages; quiet nodes are left out."""
    lines = []
    for node_id, s in pair.engine.metrics().nodes.items():
        if s.errors:
            lines.append(f"  {pair.key}: node {node_id}: failed on {s.errors} of {s.frames_in} frames")
        if s.messages or s.queued or s.messages_dropped:
            lines.append(
                f"  {pair.key}: node {node_id}: {s.messages} messages, {s.sent} sent, {s.queued} queued, "
                f"{s.messages_dropped} dropped"
            )
    return lines


def summary(run: DeploymentRun, elapsed: float) -> list[str]:
    """Per camera (frames read, fps, dropped, reconnects), per camera x skill (state, frames,
    insights, errors, p50 of its slowest node), the shared model sessions, then each node."""
    elapsed = max(elapsed, 1e-6)
    lines = [f"deployment {run.deployment.name}: {len(run.pairs)} skill runs on {len(run.hubs)} cameras"]
    lines += _camera_lines(run, elapsed)
    lines.append(
        f"  {'camera / skill':<32} {'state':<9} {'frames':>7} {'fps':>6} {'insights':>8} {'errors':>7} "
        f"{'slowest p50 ms':>15}"
    )
    lines += [_pair_line(pair, elapsed) for pair in run.pairs]
    lines += _session_lines(run)
    for pair in run.pairs:
        lines += _node_lines(pair)
    return lines
