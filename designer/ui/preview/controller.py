"""Run / Stop, and everything a running preview does: through the session and the shell.

The controller owns at most one running Engine. Building one (validation, model library look
ups) and stopping one (waiting for inference in flight) happen on worker threads; the GUI only
starts threads and reads what the relay hands it at display rate. Edits while running become
``Engine.update_params`` calls, or a restart when the graph itself changed.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import fields
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_core import PydanticUndefined
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QLabel

from designer.core.engine.events import MetricsEvent, NodeStats, RunState, StatusEvent
from designer.core.engine.executor import ENGINE_THREAD_PREFIXES, Engine, SkillNotRunnable
from designer.core.engine.runtime import RunContext
from designer.core.skill import NodeSpec, ParamError, Problem, Role, Severity, Skill, validate_skill
from designer.core.skill.catalog import get_spec
from designer.core.skill.catalog.sources import CameraParams
from designer.core.skill.fields import Mark, has_mark
from designer.ui.document import Document
from designer.ui.preview.changes import classify
from designer.ui.preview.insights import InsightsDock
from designer.ui.preview.panel import PreviewDock, zone_makers
from designer.ui.preview.relay import EngineRelay
from designer.ui.session import LibraryGetter, Session
from designer.ui.shell import Shell
from designer.ui.workers import Task, submit

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary

SHUTDOWN_S = 1.0  # closing the window waits this long at most for the engine
WARNING_SHOWN_S = 4.0  # a node warning stays on the node this long
DRY_RUN_SUPPORTED = "dry_run" in {f.name for f in fields(RunContext)}


def message_summary(text: str) -> str:
    """``3 person, 1 car`` for an insight message (JSON text)."""
    try:
        objects = json.loads(text).get("insights_meta", {}).get("objects_meta", [])
    except (ValueError, AttributeError):
        return "?"
    counts = Counter(str(o.get("label", "")) for o in objects if isinstance(o, dict))
    return ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "no objects"


def _plays_a_file(engine: Engine) -> bool:
    """The run reads a video file (not a webcam index or a stream URL): it can pause and step."""
    params = engine.plan.camera.params
    source = str(params.source if isinstance(params, CameraParams) else "").strip()
    return not source.isdigit() and "://" not in source


def counts_own_messages(spec: NodeSpec) -> bool:
    """Whether an export's runtime counts the messages its gating lets through (it delivers
    through an outbox and reports ``delivery_stats``); one that writes every frame does not."""
    module, _, name = spec.runtime.partition(":")
    try:
        runtime = getattr(import_module(module), name)
    except (ImportError, AttributeError):
        return False
    return hasattr(runtime, "delivery_stats")


def engine_threads() -> list[threading.Thread]:
    """Threads of any engine in this process (the source, node and node-pool threads)."""
    return [t for t in threading.enumerate() if t.is_alive() and t.name.startswith(ENGINE_THREAD_PREFIXES)]


class NotRunnable(Exception):
    """The canvas skill has errors; ``problems`` lists them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = problems[0]
        super().__init__(f"{first.located()}: {first.message}")


def writes_only_locally(spec: NodeSpec | None, params: dict) -> bool:
    """An export whose output is a local file and nothing else: a parameter marked WRITES names
    the file, and no other device setting (an address, a container, a key) has a value. Such a
    node sends nothing anywhere, so the preview lets it write even while exports run dry."""
    if spec is None or spec.role is not Role.EXPORT:
        return False
    writes = False
    for name, info in spec.params.model_fields.items():
        value = params.get(name, info.default if info.default is not PydanticUndefined else None)
        if has_mark(info, Mark.WRITES):
            writes = writes or bool(value)
        elif has_mark(info, Mark.DEPLOY) and value not in (None, "", [], {}):
            return False  # somewhere else to send to
    return writes


def _build_engine(
    skill: Skill,
    skill_dir: Path,
    library_getter: LibraryGetter,
    source: str | None,
    send_for_real: bool,
    realtime: bool,
    retiring: list[Engine],
) -> Engine | NotRunnable:
    """On a worker thread: wait for the previous run to let go of the camera, then build (the
    engine validates the skill as it will run it, with the preview's source in the camera)."""
    for old in retiring:
        old.wait(5.0)
    try:
        library = library_getter()  # the first call opens it (imports, disk): not on the GUI thread
    except Exception:  # a broken library must not stop skills that name their model files
        library = None
    options: dict[str, object] = {}
    if DRY_RUN_SUPPORTED:
        options["dry_run"] = not send_for_real
        options["writes_when_dry"] = frozenset(
            node.id for node in skill.nodes if writes_only_locally(get_spec(node.type), node.params)
        )
    context = RunContext.local(skill, skill_dir, library, **options)
    try:
        return Engine(skill, source=source, realtime=realtime, context=context)
    except SkillNotRunnable as exc:
        return NotRunnable(exc.problems)
    except ParamError as exc:
        return NotRunnable([Problem(Severity.ERROR, "param", str(exc))])


class PreviewController(QObject):
    running_changed = Signal(bool)
    engine_started = Signal(object)  # the Engine, once started (tests and benchmarks)

    def __init__(self, session: Session, shell: Shell, *, probe_webcams: bool = True) -> None:
        super().__init__(shell.widget())
        self.session, self.shell = session, shell
        self.realtime = True  # False: files as fast as possible, every frame (benchmarks)
        self.engine: Engine | None = None
        self.skill: Skill | None = None  # what the running engine was built from
        self._document: Document | None = None  # the session's document when the run started
        self._generation = 0
        self._build: Task | None = None
        self._retiring: list[Engine] = []
        self._stoppers: list[threading.Thread] = []
        self._errors: dict[str, tuple[str, int]] = {}  # node id -> (message, error count then)
        self._warnings: dict[str, tuple[str, float]] = {}
        self._dry_counts: dict[str, int] = {}
        self._last_messages: dict[str, str] = {}  # export node id -> its last message (JSON)
        self._cpu = (time.monotonic(), time.process_time())
        self._shut = False

        self.relay = EngineRelay(self)
        self.dock = PreviewDock(shell.widget(), probe_webcams=probe_webcams)
        self.insights = InsightsDock(shell.widget())
        self.summary = QLabel("")
        self.summary.setObjectName("preview-summary")
        self.summary.setToolTip("Preview: source fps, end-to-end latency, dropped frames, process CPU")
        typical = "source 30.0 fps | latency 999 ms | 9999 dropped | CPU 100%"
        self.summary.setMinimumWidth(self.summary.fontMetrics().horizontalAdvance(typical))

        self.run_action = shell.add_action(
            "&Run preview",
            self.run,
            "F5",
            "run",
            "Run the skill on the preview source (F5)",
            menu="&Run",
            toolbar=True,
        )
        self.stop_action = shell.add_action(
            "&Stop preview",
            self.stop,
            "Shift+F5",
            "stop",
            "Stop the preview (Shift+F5)",
            menu="&Run",
            toolbar=True,
        )
        self.run_action.setToolTip(self.run_action.statusTip())
        self.stop_action.setToolTip(self.stop_action.statusTip())
        self.stop_action.setEnabled(False)
        self.running_changed.connect(session.set_running)

        shell.add_dock(self.dock, Qt.DockWidgetArea.RightDockWidgetArea)
        shell.add_dock(self.insights, Qt.DockWidgetArea.BottomDockWidgetArea)
        shell.add_status_widget(self.summary)
        session.skill_changed.connect(self._on_skill_changed)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object

        self.relay.frame_ready.connect(self.dock.show_frame)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        self.relay.messages_ready.connect(self._on_messages)
        self.relay.metrics_ready.connect(self._on_metrics)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        self.relay.node_error.connect(self._on_node_error)
        self.relay.node_warning.connect(self._on_node_warning)
        self.relay.state_changed.connect(self._on_state)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        self.dock.message.connect(self._status)
        self.dock.picker.source_changed.connect(
            lambda: self._restart_if_running("the preview source changed")
        )
        self.dock.send_for_real_changed.connect(self._on_send_changed)
        self.dock.pause_action.toggled.connect(self._on_pause)
        self.dock.step_action.triggered.connect(self._on_step)

    # --- Run / Stop ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.engine is not None or (self._build is not None and self._build.running)

    def run(self) -> None:
        """Validate the canvas skill and start it (on a worker thread); errors block the run."""
        if self._shut:
            return
        self._launch(self.session.skill(), restart_reason="")

    def stop(self) -> None:
        """Stop at once: the engine stops on a thread of its own; the GUI does not wait."""
        self._generation += 1
        self.relay.detach()
        if self._build is not None:
            self._build.cancel()
            self._build = None
        if self.engine is not None:
            self._retire(self.engine)
            self.engine = None
            self._status("Preview stopped")
        self.skill = None
        self._idle()

    def shutdown(self) -> None:
        """The window closes: stop everything within SHUTDOWN_S and leave no engine threads."""
        self._shut = True
        self.stop()
        self.dock.picker.cancel_probe()
        deadline = time.monotonic() + SHUTDOWN_S
        for engine in list(self._retiring):
            engine.stop(timeout=max(deadline - time.monotonic(), 0.05))
        for thread in list(self._stoppers):
            thread.join(max(deadline - time.monotonic(), 0.05))

    # --- internals ----------------------------------------------------------------------------

    def _launch(self, skill: Skill, restart_reason: str) -> None:
        self._generation += 1
        generation = self._generation
        self.relay.detach()
        if self._build is not None:
            self._build.cancel()
        if self.engine is not None:
            self._retire(self.engine)
            self.engine = None
        self.skill = skill
        self._document = self.session.document
        self._errors.clear()
        self._warnings.clear()
        self._dry_counts.clear()
        self._last_messages.clear()
        self.run_action.setEnabled(False)
        self.stop_action.setEnabled(True)
        self.running_changed.emit(True)
        self._status(f"Preview restarting: {restart_reason}" if restart_reason else "Preview starting...")
        self._build = submit(
            _build_engine,
            skill,
            self.session.skill_dir(),
            self.session.library,
            self.dock.picker.source(),
            self.dock.send_box.isChecked(),
            self.realtime,
            list(self._retiring),
            on_done=lambda result: self._on_built(generation, result, restart_reason),
            on_error=lambda message: self._on_build_failed(generation, message, None),
            parent=self,
        )

    def _library(self) -> ModelLibrary | None:
        try:
            return self.session.library()
        except Exception as exc:  # a broken library must not stop skills that name their files
            self._status(f"Model library not available: {exc}")
            return None

    def _on_built(self, generation: int, engine: Engine | NotRunnable, restart_reason: str) -> None:
        if isinstance(engine, NotRunnable):
            self._on_build_failed(generation, str(engine), engine.problems[0].node_id)
            return
        if generation != self._generation or self._shut:
            engine.stop()  # never started: returns at once
            return
        self._build = None
        self.engine = engine
        plan = engine.plan
        self.relay.attach(engine)
        self.session.clear_node_statuses()
        for node_id in [plan.camera.id, *plan.nodes]:
            dry = self._is_dry(node_id)
            text, state = ("dry run", "dry") if dry else ("starting...", "running")
            self.session.set_node_status(node_id, text, state)
        exports = [i for i, n in plan.nodes.items() if n.spec.role is Role.EXPORT]
        self.dock.set_branches(exports, zone_makers(engine.plan.nodes, exports))
        self.dock.video.set_placeholder("Starting...")
        self.dock.freeze_on_pause = not _plays_a_file(engine)
        if self.dock.pause_action.isChecked() and _plays_a_file(engine):
            engine.pause()
        self._cpu = (time.monotonic(), time.process_time())
        engine.start()
        self.engine_started.emit(engine)
        if restart_reason:
            self._status(f"Preview restarted: {restart_reason}")

    def _on_build_failed(self, generation: int, message: str, node_id: str | None) -> None:
        """The skill has errors (or the engine could not be built): say so, point at the node."""
        if generation != self._generation:
            return
        self._build = None
        self.skill = None
        self._idle()
        self._status(f"Cannot preview: {message}", 10000)
        self.dock.stopped(f"Cannot preview:\n{message}")
        if node_id:
            self.session.focus(node_id)
        self.shell.reveal_problems()

    def _retire(self, engine: Engine) -> None:
        """Stop ``engine`` on a thread of its own (inference in flight may take a moment)."""
        self._retiring.append(engine)

        def stop() -> None:
            try:
                engine.stop(timeout=10.0)
            finally:
                if engine in self._retiring:
                    self._retiring.remove(engine)

        thread = threading.Thread(target=stop, name="preview-stop", daemon=True)
        self._stoppers = [t for t in self._stoppers if t.is_alive()]
        self._stoppers.append(thread)
        thread.start()

    def _idle(self) -> None:
        self.run_action.setEnabled(not self._shut)
        self.stop_action.setEnabled(False)
        self.session.clear_node_statuses()
        self.summary.setText("")
        self.dock.stopped()
        self.running_changed.emit(False)

    def _restart_if_running(self, reason: str) -> None:
        if self.running and self.skill is not None:
            self._launch(self.session.skill(), restart_reason=reason)

    def _on_pause(self, paused: bool) -> None:
        """A file pauses in the engine (nothing read, nothing sent); live video only holds the
        picture, since a camera goes on regardless."""
        engine = self.engine
        if engine is not None and _plays_a_file(engine):
            if paused:
                engine.pause()
            else:
                engine.resume()

    def _on_step(self) -> None:
        engine = self.engine
        if engine is not None and _plays_a_file(engine) and engine.paused:
            engine.step()

    def _on_send_changed(self, on: bool) -> None:
        self._restart_if_running("exports now send for real" if on else "exports now run dry")

    def _is_dry(self, node_id: str) -> bool:
        engine = self.engine
        if engine is None or self.dock.send_box.isChecked():
            return False
        node = engine.plan.nodes.get(node_id)
        wet = node_id in getattr(engine.context, "writes_when_dry", frozenset())
        return node is not None and node.spec.role is Role.EXPORT and not wet

    # --- edits while running ------------------------------------------------------------------

    def _on_skill_changed(self, skill: Skill) -> None:
        if self.skill is None or self._shut:
            return
        if self.session.document is not self._document:  # another skill was opened: not an edit
            self.stop()
            self._status("Preview stopped: another skill was opened")
            return
        change = classify(self.skill, skill)
        if change.empty:
            self.skill = skill
            return
        if change.restart:
            if any(p.is_error for p in validate_skill(skill, self._library())):
                self._status(f"Preview not restarted ({change.restart}): the skill has errors")
                return
            self._launch(skill, restart_reason=change.restart)
            return
        engine = self.engine
        if engine is None:  # still building: the new run picks the change up
            self._launch(skill, restart_reason="the skill changed while starting")
            return
        applied = []
        for node_id, values in change.params.items():
            try:
                engine.update_params(node_id, values)
            except (KeyError, ValueError) as exc:
                self._status(f"Not applied to the preview: {exc}", 8000)
                continue
            applied.append(node_id)
        self.skill = skill
        if applied:
            self._status(f"Preview updated: {', '.join(applied)}", 3000)

    # --- what the relay hands over --------------------------------------------------------------

    def _on_messages(self, records: list) -> None:
        for record in records:
            self._dry_counts[record.node_id] = self._dry_counts.get(record.node_id, 0) + 1
            self._last_messages[record.node_id] = record.text
        self.insights.add(records)

    def _on_node_error(self, node_id: str, message: str, fatal: bool) -> None:
        stats = self.engine.metrics().nodes.get(node_id) if self.engine is not None else None
        self._errors[node_id] = (message, stats.errors if stats else 0)
        self.session.set_node_status(node_id, message, "error")
        self._log(f"preview: node {node_id}: error: {message}")
        if fatal:
            self._status(f"node {node_id}: {message}", 10000)

    def _on_node_warning(self, node_id: str, message: str) -> None:
        self._warnings[node_id] = (message, time.monotonic())
        self._log(f"preview: node {node_id}: warning: {message}")
        if node_id not in self._errors:
            self.session.set_node_status(node_id, message, "warning")

    def _on_state(self, event: StatusEvent) -> None:
        if event.state is RunState.RUNNING:
            self._status(f"Previewing {event.message}", 4000)
        elif event.state in (RunState.FINISHED, RunState.FAILED):
            ended = self.engine
            self.engine = None
            self.relay.detach()
            self.skill = None
            if ended is not None:
                self._retire(ended)  # joins its threads
            self.run_action.setEnabled(True)
            self.stop_action.setEnabled(False)
            self.running_changed.emit(False)
            text = "Preview finished" if event.state is RunState.FINISHED else "Preview failed"
            self._status(f"{text}: {event.message}", 10000)
            self.dock.video.set_placeholder(f"{text}: {event.message}")

    def _on_metrics(self, metrics: MetricsEvent) -> None:
        engine = self.engine
        if engine is None:
            return
        now = time.monotonic()
        for node_id, stats in metrics.nodes.items():
            state, text = self._node_line(node_id, stats, now)
            self.session.set_node_status(node_id, text, state)
        self.summary.setText(self._summary_line(metrics, engine))

    def _node_line(self, node_id: str, stats: NodeStats, now: float) -> tuple[str, str]:
        error = self._errors.get(node_id)
        if error is not None:
            message, errors_then = error
            recovered = not stats.failed and stats.errors <= errors_then and stats.frames_in > 0
            if not recovered:
                self._errors[node_id] = (message, stats.errors)  # new errors keep it red
                return "error", message
            del self._errors[node_id]
        warning = self._warnings.get(node_id)
        if warning is not None and now - warning[1] < WARNING_SHOWN_S:
            return "warning", warning[0]
        if self._is_dry(node_id):
            return "dry", self._dry_line(node_id, stats)
        line = f"{stats.fps:.1f} fps | p50 {stats.p50_ms:.0f} ms"
        if stats.dropped:
            line += f" | {stats.dropped} dropped"
        return "running", line

    def _dry_line(self, node_id: str, stats: NodeStats) -> str:
        """What a dry export would have sent: how many messages, and what the last one held.

        Sending exports count the messages their gating lets through (``NodeStats.messages``);
        the Insights Log writes every frame, so every result the relay saw counts.
        """
        node = self.engine.plan.nodes[node_id] if self.engine is not None else None
        if node is not None and counts_own_messages(node.spec):
            count, last = getattr(stats, "messages", 0), getattr(stats, "last_message", None)
        else:
            count, last = self._dry_counts.get(node_id, 0), self._last_messages.get(node_id)
        line = f"dry: {count} message{'' if count == 1 else 's'} not sent"
        return f"{line}, last {message_summary(last)}" if last else line

    def _summary_line(self, metrics: MetricsEvent, engine: Engine) -> str:
        camera = metrics.nodes.get(engine.plan.camera.id, NodeStats())
        dropped = sum(s.dropped for s in metrics.nodes.values())
        latency = self.relay.latency_s()
        wall, cpu = time.monotonic(), time.process_time()
        then_wall, then_cpu = self._cpu
        self._cpu = (wall, cpu)
        load = (cpu - then_cpu) / max(wall - then_wall, 1e-6) * 100
        parts = [f"source {camera.fps:.1f} fps"]
        parts.append(f"latency {latency * 1000:.0f} ms" if latency is not None else "latency -")
        parts.append(f"{dropped} dropped")
        parts.append(f"CPU {load:.0f}%")
        return " | ".join(parts)

    def _status(self, text: str, timeout_ms: int = 5000) -> None:
        self.shell.show_status(text, timeout_ms)

    def _log(self, text: str) -> None:
        """Node errors and warnings also go to the output dock."""
        self.shell.log(text)
