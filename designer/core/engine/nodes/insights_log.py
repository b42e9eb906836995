"""Insights Log: every frame's insight message as one JSON line in a local file.

A relative path is under the run's output folder (``RunContext.resolve_output``).

Each line is flushed as it is written, so a crash loses at most the line being
written and a ``tail -f`` shows frames as they happen.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from designer.core.engine.frame import Frame, insight_message
from designer.core.engine.runtime import NodeRuntime, RunContext
from designer.core.skill.catalog.exports import InsightsLogParams


class InsightsLogRuntime(NodeRuntime[InsightsLogParams]):
    """Each open starts the file afresh: a run's log holds that run's frames only."""

    def __init__(self, node_id: str, params: InsightsLogParams, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self._file: TextIO | None = None
        self.path: Path | None = None

    def open(self) -> None:
        if getattr(self.context, "dry_run", False):
            return  # a dry run (the designer's preview) writes nothing: the preview shows the messages
        path = self.context.resolve_output(self.params.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("w", encoding="utf-8", buffering=1)
        except OSError as exc:
            raise self.fail(
                f"cannot open the insights log '{path}' (parameter 'path'): {exc.strerror or exc}; "
                "choose a file in a folder you can write to"
            ) from exc
        self.path = path

    def update(self, params: InsightsLogParams) -> bool:
        """A new path is a new file: False has the engine close this log and open the new one,
        and a path that cannot be opened is then reported like any failed open."""
        if params.path != self.params.path:
            return False
        self.params = params
        return True

    def process(self, frame: Frame) -> None:
        if self._file is None:
            if getattr(self.context, "dry_run", False):
                return None
            raise self.fail("the insights log is not open: open() must run before frames flow")
        message = insight_message(
            frame,
            instance_id=self.context.instance_id,
            skill_id=self.context.skill_id,
            device_id=self.context.device_id,
        )
        try:
            line = json.dumps(message, separators=(",", ":"), allow_nan=False)
        except ValueError as exc:  # NaN / Infinity: not JSON, every reader of the log would fail
            raise self.fail(
                f"frame {frame.frame_id} not logged: its insights hold a non-finite number ({exc})"
            ) from None
        try:
            self._file.write(line + "\n")
        except OSError as exc:
            reason = exc.strerror or exc
            raise self.fail(f"cannot write to the insights log '{self.path}': {reason}") from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
