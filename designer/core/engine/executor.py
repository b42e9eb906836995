"""The engine: compiles a validated skill into a plan and runs it on live video.

Threads: one reads the source, one per node runs its runtime; bounded
queues link them (see queues.py), so decoding overlaps inference and a slow
export never stalls the model in a live run. The same engine runs in the
desktop preview and headless on devices.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from typing import Any

from designer.core.engine.events import (
    EngineEvent,
    FrameEvent,
    MetricsEvent,
    NodeErrorEvent,
    NodeWarningEvent,
    RunState,
    SourceFrameEvent,
    StatusEvent,
)
from designer.core.engine.frame import Frame
from designer.core.engine.metrics import NodeMetrics
from designer.core.engine.nodes import runtime_for
from designer.core.engine.queues import END, FrameQueue
from designer.core.engine.runtime import NodeError, NodeRuntime, RunContext
from designer.core.engine.sources import SourceError, SourceStatus, VideoSource, open_source
from designer.core.secrets import has_secrets, mask_secrets
from designer.core.skill import CompiledNode, Problem, Skill, compile_skill, find_placeholders, substitute
from designer.core.skill.catalog import Params, Role, get_spec
from designer.core.skill.catalog.sources import CameraParams
from designer.core.skill.validate import check_params

log = logging.getLogger(__name__)

ENGINE_THREAD_PREFIXES = ("engine-", "node-", "source ")  # threads that run callbacks
METRICS_PERIOD_S = 0.5
ERROR_REPEAT_S = 5.0  # the same node error is re-reported at most this often
QUEUE_SIZE = 2


class SkillNotRunnable(Exception):
    """The skill has errors; ``problems`` lists them, each located."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [f"{p.located()}: {p.code}: {p.message}" for p in problems]
        super().__init__("the skill cannot run:\n  " + "\n  ".join(lines))


@dataclass
class Plan:
    """The skill as the engine runs it: the camera, then the nodes it feeds in the order frames
    reach them."""

    camera: CompiledNode
    nodes: dict[str, CompiledNode]  # process and export nodes
    fps: int


def compile_plan(skill: Skill, models: Any = None) -> Plan:
    """Compile the (substituted) skill into a Plan; SkillNotRunnable on errors."""
    compiled = compile_skill(skill, models)
    if not compiled.ok or compiled.camera is None:
        raise SkillNotRunnable(compiled.errors)
    camera = compiled.camera
    nodes = {node_id: compiled.nodes[node_id] for node_id in compiled.downstream(camera.id)}
    return Plan(camera=camera, nodes=nodes, fps=skill.settings.fps)


def _valid_params(node: CompiledNode) -> Params:
    """A node's parsed parameters: the engine runs only skills without errors, so they parsed."""
    if node.params is None:
        raise NodeError(node.id, "its parameters are invalid: run skill-designer validate")
    return node.params


def _resolution(text: str) -> tuple[int, int] | None:
    """``"640x480"`` (the catalog checks the shape) -> (640, 480); empty -> the camera's own."""
    if not text:
        return None
    width, height = text.split("x")
    return int(width), int(height)


class _Worker:
    """One node's thread: takes frames from its queue, runs the runtime, feeds its children."""

    def __init__(self, engine: Engine, node: CompiledNode) -> None:
        self.engine = engine
        self.node = node
        self.runtime: NodeRuntime[Any] | None = None  # its params: this node's spec.params
        self.metrics = NodeMetrics()
        self.queue = FrameQueue(QUEUE_SIZE, lossless=engine.lossless)
        self.children: list[_Worker] = []
        self.pending: Params | None = None  # new parameters, taken before the next frame
        self.lock = threading.Lock()  # guards pending against update_params
        self._last_error: tuple[str, float] | None = None  # (message without numbers, when)
        self._repeats = 0  # errors like the last one, not emitted since
        self._executor: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self.thread = threading.Thread(target=self._run, name=f"node-{node.id}", daemon=True)

    @property
    def node_id(self) -> str:
        return self.node.id

    def open(self) -> None:
        try:
            runtime_cls = runtime_for(self.node.spec)
            if runtime_cls is None:
                raise NodeError(self.node_id, f"{self.node.spec.title} cannot run in this version yet.")
            self.runtime = runtime_cls(self.node_id, _valid_params(self.node), self.engine.context)
            self.runtime.open()
            self.metrics.delivery = getattr(self.runtime, "delivery_stats", None)
        except Exception as exc:
            self.metrics.failed = True
            self.engine.emit(NodeErrorEvent(self.node_id, _message(self.node_id, exc), fatal=True))
            if self.runtime is not None:
                self._close_runtime()
            self.runtime = None

    def offer(self, frame: Frame) -> None:
        dropped = self.queue.put(frame)
        if dropped:
            self.metrics.drop(dropped)

    def _run(self) -> None:
        """Frames in order; a runtime with ``concurrency`` > 1 has that many in flight at once."""
        in_flight: deque[tuple[Frame, float, Future | None]] = deque()
        try:
            self._loop(in_flight)
        except Exception as exc:  # a bug here must not hang the run: report, then pass END on
            log.exception("node %s stopped", self.node_id)
            self.metrics.failed = True
            self.engine.emit(
                NodeErrorEvent(self.node_id, f"stopped on an internal error: {exc!r}", fatal=True)
            )
        finally:
            self.queue.close()
            for _, _, future in in_flight:
                if future is not None:
                    future.cancel()
            if self._executor is not None:
                self._executor.shutdown()
            for child in self.children:
                child.queue.put(END)

    def _loop(self, in_flight: deque) -> None:
        while True:
            limit = getattr(self.runtime, "concurrency", 1)
            if in_flight and (len(in_flight) >= limit or self.queue.empty()):
                self._deliver(*in_flight.popleft())
                continue
            item = self.queue.get()
            if item is END:
                break
            if self.has_pending():
                while in_flight:  # parameters change between frames, never during one
                    self._deliver(*in_flight.popleft())
                self._apply_pending()
            if self.runtime is None:
                self.metrics.drop()
                continue
            self.metrics.received()
            started = time.perf_counter()
            if limit > 1:
                in_flight.append((item, started, self._pool(limit).submit(self.runtime.process, item)))
            else:
                self._deliver(item, started, None)
        while in_flight:
            self._deliver(*in_flight.popleft())

    def _pool(self, size: int) -> ThreadPoolExecutor:
        if self._executor is None or self._pool_size != size:
            if self._executor is not None:
                self._executor.shutdown()
            self._executor = ThreadPoolExecutor(size, thread_name_prefix=f"node-{self.node_id}")
            self._pool_size = size
        return self._executor

    def _deliver(self, frame: Frame, started: float, future: Future | None) -> None:
        try:
            out = future.result() if future is not None else self._process(frame)
        except Exception as exc:
            self.metrics.error()
            message = self._report(exc)
            if self.node.spec.role is not Role.EXPORT:
                # The frame goes on as it came, so exports keep what upstream nodes found in it.
                frame.other_meta[f"{self.node_id}.error"] = message
                self.engine.fan_out(self.children, frame)
            return
        self.metrics.processed(time.perf_counter() - started, out is not None)
        if self.node.spec.role is Role.EXPORT:
            self.engine.emit(FrameEvent(self.node_id, frame))
        if out is not None:
            self.engine.fan_out(self.children, out)

    def _process(self, frame: Frame) -> Frame | None:
        if self.runtime is None:  # _loop drops frames while the runtime is closed
            raise NodeError(self.node_id, "the node is not open")
        return self.runtime.process(frame)

    def _report(self, exc: Exception) -> str:
        """Emit the error unless the same one (numbers aside: frame ids, seqs) was emitted in the
        last ERROR_REPEAT_S; repeats are counted and the count goes with the next report."""
        message = _message(self.node_id, exc)
        if not isinstance(exc, NodeError) and self._last_error is None:
            log.error("node %s failed on a frame", self.node_id, exc_info=exc)
        now = time.monotonic()
        key = _DIGITS.sub("#", message)
        if self._last_error and self._last_error[0] == key and now - self._last_error[1] < ERROR_REPEAT_S:
            self._repeats += 1
            return message
        shown = message
        if self._repeats:
            shown += f" (and {self._repeats} more like it before)"
        self._last_error, self._repeats = (key, now), 0
        self.engine.emit(NodeErrorEvent(self.node_id, shown))
        return message

    def has_pending(self) -> bool:
        with self.lock:
            return self.pending is not None

    def _apply_pending(self) -> None:
        with self.lock:
            params, self.pending = self.pending, None
        if params is None:
            return
        self.node.params = params
        try:
            if self.runtime is not None and self.runtime.update(params):
                return
        except Exception as exc:
            self.engine.emit(NodeWarningEvent(self.node_id, f"reopening after a parameter change: {exc}"))
        if self.runtime is not None:
            self._close_runtime()
        self.metrics.failed = False
        self.open()

    def _close_runtime(self) -> None:
        if self.runtime is None:
            return
        try:
            self.runtime.close()
        except Exception as exc:
            log.warning("closing node %s: %s", self.node_id, exc)

    def close(self) -> None:
        """Release the runtime now (a model's session is large), not when the engine is collected."""
        if self.runtime is not None:
            self._close_runtime()
            self.runtime = None


_DIGITS = re.compile(r"\d+")


def _message(node_id: str, exc: BaseException) -> str:
    """A NodeError's message as written; anything else is a bug, named as one."""
    if isinstance(exc, NodeError):
        return exc.message
    return f"internal error ({type(exc).__name__}: {exc}); please report it with the run's log"


class Engine:
    """Runs one skill. ``start()`` returns at once; events go to ``subscribe``d callbacks.

    Callbacks run on engine threads and must be quick (the UI posts them to
    its own thread). ``lossless`` (a file with realtime off) processes every
    frame; otherwise queues drop the oldest frame when a node falls behind.
    """

    def __init__(
        self,
        skill: Skill,
        *,
        params: Mapping[str, str] | None = None,
        source: str | None = None,
        realtime: bool = True,
        max_frames: int | None = None,
        context: RunContext | None = None,
        open_video: Callable[..., VideoSource] | None = None,
    ) -> None:
        self.context = context or RunContext()
        self._open_video = open_video or open_source  # a deployment shares one camera among skills
        self.context.warn = lambda node_id, message: self.emit(NodeWarningEvent(node_id, message))
        self.context.error = lambda node_id, message: self.emit(NodeErrorEvent(node_id, message))
        values = dict(params or {})
        if source is not None:  # before substitution: --source replaces a $param(rtsp) camera
            declared = find_placeholders(skill)
            skill = _with_source(skill, source)
            still_used = find_placeholders(skill)
            values = {k: v for k, v in values.items() if k not in declared or k in still_used}
        skill = substitute(skill, values)
        self.plan = compile_plan(skill, self.context.models)
        self.realtime = realtime
        self.max_frames = max_frames
        self.lossless = False  # decided once the source is open
        self.state = RunState.STARTING
        self.frames_read = 0
        self._subscribers: list[Callable[[EngineEvent], None]] = []
        self._workers: dict[str, _Worker] = {}
        self._source: VideoSource | None = None
        self._stop = threading.Event()
        self._done = threading.Event()
        self._paused = threading.Event()  # set: the source is not read (pause / step)
        self._wake = threading.Event()  # resume, step or stop
        self._steps = 0  # frames to read while paused
        self._steps_lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="engine-source", daemon=True)
        self.camera_metrics = NodeMetrics()

    # --- public API ---------------------------------------------------------------------

    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]:
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback)

    def start(self) -> Engine:
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly: close the source and queues, and wait for the threads to end.

        Safe from an event callback (it then returns without waiting for itself)
        and before ``start``.
        """
        self._stop.set()
        self._wake.set()  # a paused source loop ends at once
        self.context.stopping.set()  # a node waiting to retry gives up at once
        if self._source is not None:
            self._source.close()
        for worker in self._workers.values():
            worker.metrics.drop(worker.queue.close())
        if not self._thread.is_alive() and not self._done.is_set():
            if self._thread.ident is None:  # never started
                self.state = RunState.STOPPED
                self._done.set()
            return
        if threading.current_thread().name.startswith(ENGINE_THREAD_PREFIXES):
            return
        if self._source is None and self.wait(min(timeout, 0.5)) is RunState.STARTING:
            # Still opening the camera: a stalled stream holds OpenCV until its open timeout and
            # cannot be interrupted. The run is over for the caller now; the opening thread (a
            # daemon) sees the stop when the open returns and ends without a frame.
            self._set_state(RunState.STOPPED, "stopped while opening the camera")
            self._done.set()
            return
        self.wait(timeout)

    def pause(self) -> None:
        """Stop reading the source (a paused preview); the graph finishes what it holds."""
        self._paused.set()

    def resume(self) -> None:
        """Read the source again; a file goes on from where it paused."""
        self._paused.clear()
        self._wake.set()

    def step(self) -> None:
        """While paused: read one more frame."""
        with self._steps_lock:
            self._steps += 1
        self._wake.set()

    @property
    def paused(self) -> bool:
        return self._paused.is_set()

    def _hold(self) -> bool:
        """True while paused with no step asked for; takes one step when there is one."""
        if not self._paused.is_set():
            return False
        with self._steps_lock:
            if self._steps:
                self._steps -= 1
                return False
        return True

    def wait(self, timeout: float | None = None) -> RunState:
        self._done.wait(timeout)
        return self.state

    def run(self) -> RunState:
        """Start and block until the run ends (headless runner)."""
        return self.start().wait()

    def update_params(self, node_id: str, values: dict) -> None:
        """Change some of a node's parameters while running; takes effect before its next frame."""
        node = self.plan.nodes.get(node_id)
        if node is None:
            raise KeyError(f"node {node_id!r} is not a process or export node of this run")
        worker = self._workers.get(node_id)
        with worker.lock if worker is not None else nullcontext():
            current = worker.pending if worker is not None and worker.pending is not None else node.params
            written = current.model_dump(mode="json") if current is not None else dict(node.raw.params)
            problems, params = check_params(node.spec, node_id, {**written, **values})
            errors = [p for p in problems if p.is_error]
            if errors or params is None:
                raise ValueError(
                    f"node {node_id}: " + "; ".join(f"{p.param or ''}: {p.message}" for p in errors)
                )
            if worker is None:
                node.params = params
            else:
                worker.pending = params

    def metrics(self) -> MetricsEvent:
        camera = self.camera_metrics.snapshot()
        if self._source is not None:
            camera = replace(camera, dropped=self._source.dropped)
        stats = {self.plan.camera.id: camera}
        stats.update({node_id: w.metrics.snapshot() for node_id, w in self._workers.items()})
        return MetricsEvent(stats)

    # --- internals ----------------------------------------------------------------------

    def emit(self, event: EngineEvent) -> None:
        if isinstance(event, (NodeErrorEvent, NodeWarningEvent, StatusEvent)) and has_secrets(event.message):
            event = replace(event, message=mask_secrets(event.message))  # a URL a user typed
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("engine subscriber failed on %s", type(event).__name__)

    def fan_out(self, workers: list[_Worker], frame: Frame) -> None:
        """Every branch gets its own insights; the image is shared read-only."""
        for index, worker in enumerate(workers):
            worker.offer(frame if index == len(workers) - 1 else frame.branch())

    def _set_state(self, state: RunState, message: str = "") -> None:
        if self._done.is_set():  # the run already ended for the caller (stopped while opening)
            return
        self.state = state
        self.emit(StatusEvent(state, message))

    def _run(self) -> None:
        try:
            self._set_state(RunState.STARTING, f"starting {len(self.plan.nodes)} nodes")
            self._open_source()
            if self._stop.is_set():  # stopped while the camera was opening: release it, no more
                raise _RunFailed("stopped while opening the camera")
            self._open_workers()
            if not self._stop.is_set() and self._source is not None:
                self._set_state(RunState.RUNNING, self._source.name)
                self._pump(self._source)
            self._finish()
        except _RunFailed as exc:
            self._shutdown()
            self._set_state(RunState.FAILED, str(exc))
        except Exception as exc:  # never let a bug kill the app silently
            log.exception("engine failed")
            for worker in self._workers.values():
                worker.queue.close()
                if worker.thread.is_alive():
                    worker.thread.join(5.0)
            self._shutdown()
            self._set_state(RunState.FAILED, f"internal error: {exc}")
        finally:
            self._done.set()

    def _open_source(self) -> None:
        camera = self.plan.camera
        params = camera.params
        if not isinstance(params, CameraParams):  # compile_plan refuses a skill with errors
            raise _RunFailed(f"node {camera.id}: the camera's parameters are invalid")
        spec = params.source
        if not spec.isdigit() and "://" not in spec:
            spec = str(self.context.resolve_path(spec))
        try:
            self._source = self._open_video(
                spec,
                loop=params.loop,
                fps_limit=self.plan.fps,
                realtime=self.realtime,
                username=params.username,
                password=params.password,
                on_status=self._on_source_status,
                resolution=_resolution(params.resolution),
            )
        except SourceError as exc:
            self.camera_metrics.failed = True
            self.emit(NodeErrorEvent(camera.id, str(exc), fatal=True))
            raise _RunFailed(f"node {camera.id}: {exc}") from None
        self.lossless = self.context.lossless = not self._source.is_live and not self.realtime

    def _on_source_status(self, status: SourceStatus) -> None:
        if status.state == "failed" and self._source is None:
            return  # failing to open: the SourceError says it, once, as the camera's error
        if status.state in ("reconnecting", "failed"):
            self.emit(NodeWarningEvent(self.plan.camera.id, status.message))

    def _open_workers(self) -> None:
        workers = {node_id: _Worker(self, node) for node_id, node in self.plan.nodes.items()}
        for worker in workers.values():
            worker.children = [workers[c] for c in worker.node.children]
        self._workers = workers
        for worker in workers.values():
            if self._stop.is_set():
                return
            worker.open()
        if not self._reachable_exports():
            raise _RunFailed("no export node can run: see the node errors")
        for worker in workers.values():
            worker.thread.start()

    def _reachable_exports(self) -> list[str]:
        live = []
        frontier = [self._workers[c] for c in self.plan.camera.children]
        while frontier:
            worker = frontier.pop()
            if worker.runtime is None:
                continue
            if worker.node.spec.role is Role.EXPORT:
                live.append(worker.node_id)
            frontier.extend(worker.children)
        return live

    def _pump(self, source: VideoSource) -> None:
        roots = [self._workers[c] for c in self.plan.camera.children]
        next_metrics = time.monotonic() + METRICS_PERIOD_S
        held = False
        while not self._stop.is_set():
            if self.max_frames is not None and self.frames_read >= self.max_frames:
                break
            self._wake.clear()
            if self._hold():
                held = True
                self._wake.wait(METRICS_PERIOD_S)
                if time.monotonic() >= next_metrics:
                    next_metrics = time.monotonic() + METRICS_PERIOD_S
                    self.emit(self.metrics())
                continue
            if held:
                held = False
                source.rebase()
            try:
                item = source.read(timeout=METRICS_PERIOD_S)
                timed_out = False
            except TimeoutError:
                item, timed_out = None, True
            if item is None and not timed_out:
                break
            if item is not None:
                image = item.image
                image.flags.writeable = False
                frame = Frame(image=image, frame_id=str(item.index), timestamp=item.timestamp)
                if self.context.frame_tags:  # a deployment: which camera, which skill
                    frame.other_meta.update(self.context.frame_tags)
                self.frames_read += 1
                self.camera_metrics.received()
                # The camera's latency is the frame's age as it enters the graph (capture to now).
                self.camera_metrics.processed(max(time.time() - item.timestamp, 0.0), True)
                self.fan_out(roots, frame)
                self.emit(SourceFrameEvent(frame.frame_id, frame.timestamp, image))
            if time.monotonic() >= next_metrics:
                next_metrics = time.monotonic() + METRICS_PERIOD_S
                self.emit(self.metrics())

    def _finish(self) -> None:
        for worker in self._workers.values():
            if worker.node_id in self.plan.camera.children:
                worker.queue.put(END)
        for worker in self._workers.values():
            if worker.thread.is_alive():
                worker.thread.join()
        self._shutdown()
        self.emit(self.metrics())
        failure = self._source.failure if self._source is not None else None
        if failure and not self._stop.is_set():
            self._set_state(RunState.FAILED, f"node {self.plan.camera.id}: {failure}")
        elif self._stop.is_set():
            self._set_state(RunState.STOPPED, f"stopped after {self.frames_read} frames")
        else:
            self._set_state(RunState.FINISHED, f"finished after {self.frames_read} frames")

    def _shutdown(self) -> None:
        if self._source is not None:
            self._source.close()
        for worker in self._workers.values():
            worker.close()


class _RunFailed(Exception):
    pass


def _with_source(skill: Skill, source: str) -> Skill:
    """The skill with its Camera Input reading ``source`` instead (``--source``)."""
    nodes = [
        node.model_copy(update={"params": {**node.params, "source": source}})
        if (spec := get_spec(node.type)) is not None and spec.role is Role.SOURCE
        else node
        for node in skill.nodes
    ]
    return skill.model_copy(update={"nodes": nodes})
