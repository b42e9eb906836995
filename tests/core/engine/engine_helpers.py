"""Building and running small skills in engine tests."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from designer.core.engine.events import FrameEvent, NodeErrorEvent, RunState
from designer.core.engine.executor import Engine
from designer.core.engine.runtime import RunContext
from designer.core.engine.sources import SourceStatus
from designer.core.skill import Settings, Skill
from designer.core.skill.build import add_node, connect


def skill_of(*nodes: tuple[str, str, dict], links: list[tuple[str, str]], fps: int = 30) -> Skill:
    """A skill from (id, type, params) triples and (source, target) links."""
    skill = Skill(settings=Settings(name="test", fps=fps))
    for node_id, type_id, params in nodes:
        add_node(skill, type_id, node_id, **params)
    for source, target in links:
        connect(skill, source, target)
    return skill


def camera_to_log(camera: dict) -> Skill:
    """The smallest runnable skill: Camera Input ``cam`` -> Filter ``keep`` -> Insights Log ``log``
    writing ``log.jsonl``."""
    return skill_of(
        ("cam", "camera@1", camera),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "keep"), ("keep", "log")],
    )


class Recorder:
    """Collects engine events (they arrive on engine threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.frames: dict[str, list] = {}
        self.errors: list[NodeErrorEvent] = []
        self.events: list = []

    def __call__(self, event) -> None:
        with self.lock:
            self.events.append(event)
            if isinstance(event, FrameEvent):
                self.frames.setdefault(event.node_id, []).append(event.frame)
            elif isinstance(event, NodeErrorEvent):
                self.errors.append(event)

    def errors_of(self, node_id: str) -> list[str]:
        with self.lock:
            return [e.message for e in self.errors if e.node_id == node_id]


def run_skill(skill: Skill, tmp_path: Path, **engine_args) -> tuple[Engine, Recorder, RunState]:
    """Run to the end (files with realtime off by default) and return what happened."""
    engine_args.setdefault("realtime", False)
    engine = Engine(skill, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path), **engine_args)
    recorder = Recorder()
    engine.subscribe(recorder)
    state = engine.start().wait(60)
    assert state in (RunState.FINISHED, RunState.STOPPED, RunState.FAILED), "run did not end in 60 s"
    return engine, recorder, state


class StatusLog:
    """Status events of a live source, from its reader thread; a test can wait for a given state."""

    def __init__(self) -> None:
        self.events: list[SourceStatus] = []
        self._cond = threading.Condition()

    def __call__(self, status: SourceStatus) -> None:
        with self._cond:
            self.events.append(status)
            self._cond.notify_all()

    def wait_for(self, state: str, after: int = 0, timeout: float = 20.0) -> int:
        """Index of the first ``state`` event at or after position ``after``."""

        def found() -> int | None:
            return next((i for i, e in enumerate(self.events) if i >= after and e.state == state), None)

        with self._cond:
            if not self._cond.wait_for(lambda: found() is not None, timeout):
                pytest.fail(f"no {state!r} status within {timeout} s; got {self.events}")
            return found()

    @property
    def states(self) -> list[str]:
        return [e.state for e in self.events]
