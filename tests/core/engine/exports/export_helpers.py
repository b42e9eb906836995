"""Frames, contexts and waits shared by the export tests."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from designer.core.engine.frame import BBox, Frame, ObjectMeta
from designer.core.engine.runtime import RunContext

T0 = 1_764_000_000.0


class Events:
    """What a runtime reported through its RunContext (warnings and errors, by node)."""

    def __init__(self) -> None:
        self.warnings: list[tuple[str, str]] = []
        self.errors: list[tuple[str, str]] = []

    def text(self) -> str:
        return "\n".join(f"{n}: {m}" for n, m in self.warnings + self.errors)


def context(tmp_path: Path, *, dry_run: bool = False, events: Events | None = None) -> RunContext:
    events = events if events is not None else Events()
    ctx = RunContext(
        skill_dir=tmp_path,
        output_dir=tmp_path / "out",
        skill_id="people counter",
        instance_id="instance-1",
        device_id="edge-7",
        dry_run=dry_run,
    )
    ctx.warn = lambda node_id, message: events.warnings.append((node_id, message))
    ctx.error = lambda node_id, message: events.errors.append((node_id, message))
    return ctx


def frame(index: int, *, objects: int = 1, step: float = 1.0, size: tuple[int, int] = (64, 48)) -> Frame:
    """Frame ``index`` at T0 + index * step, with ``objects`` people in it."""
    width, height = size
    return Frame(
        image=np.full((height, width, 3), index % 256, np.uint8),
        frame_id=str(index),
        timestamp=T0 + index * step,
        objects=[
            ObjectMeta("person", 0.9, bbox=BBox(0.1, 0.2, 0.3, 0.4), timestamp=T0 + index * step)
            for _ in range(objects)
        ],
    )


def wait_until(condition: Callable[[], bool], timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def frame_ids(payloads) -> list[str]:
    """Frame ids of MQTT payloads in arrival order, each kept once (at-least-once may repeat)."""
    seen, order = set(), []
    for payload in payloads:
        frame_id = json.loads(payload)["frame_id"]
        if frame_id not in seen:
            seen.add(frame_id)
            order.append(frame_id)
    return order
