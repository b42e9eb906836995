"""Insights Log: every frame's insight message as one JSON line in a local file.

A relative path is under the run's output folder (``RunContext.resolve_output``).

Each line is written whole or not at all (``LineFile``): a write that fails part way
(a full disk) is cut back off, so every line in the file is a whole JSON object and a
``tail -f`` shows frames as they happen.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from designer.core.engine.frame import Frame, insight_message
from designer.core.engine.runtime import NodeRuntime, RunContext
from designer.core.skill.catalog.exports import InsightsLogParams


class LineFile:
    """A file of whole lines, started afresh: each line is written straight to the file (no
    buffer to lose) and a write that fails part way is cut back off before the error goes on."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file = path.open("wb", buffering=0)
        self.size = 0  # bytes of whole lines
        self.lines = 0

    def write_line(self, line: str) -> None:
        data = (line + "\n").encode("utf-8")
        view = memoryview(data)
        try:
            while view:
                written = self._file.write(view)
                view = view[written or 0 :]
        except OSError:
            try:  # cut off the torn line: what is in the file stays whole lines only
                os.ftruncate(self._file.fileno(), self.size)
                self._file.seek(self.size)
            except OSError:
                pass
            raise
        self.size += len(data)
        self.lines += 1

    def close(self) -> None:
        self._file.close()


class InsightsLogRuntime(NodeRuntime[InsightsLogParams]):
    """Each open starts the file afresh: a run's log holds that run's frames only."""

    def __init__(self, node_id: str, params: InsightsLogParams, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self._file: LineFile | None = None
        self.path: Path | None = None

    def open(self) -> None:
        if self._dry():
            return  # a dry run (the designer's preview) writes nothing: the preview shows the messages
        path = self.context.resolve_output(self.params.path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = LineFile(path)
        except OSError as exc:
            raise self.fail(
                f"cannot open the insights log '{path}' (parameter 'path'): {exc.strerror or exc}; "
                "choose a file in a folder you can write to"
            ) from exc
        self.path = path

    def _dry(self) -> bool:
        """Dry, unless the run has this log write its local file anyway (``writes_when_dry``)."""
        context = self.context
        return bool(getattr(context, "dry_run", False)) and self.node_id not in getattr(
            context, "writes_when_dry", frozenset()
        )

    def update(self, params: InsightsLogParams) -> bool:
        """A new path is a new file: False has the engine close this log and open the new one,
        and a path that cannot be opened is then reported like any failed open."""
        if params.path != self.params.path:
            return False
        self.params = params
        return True

    def process(self, frame: Frame) -> None:
        if self._file is None:
            if self._dry():
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
            self._file.write_line(line)
        except OSError as exc:
            reason = exc.strerror or exc
            raise self.fail(
                f"frame {frame.frame_id} not logged: cannot write to the insights log '{self.path}' "
                f"(parameter 'path'): {reason}; the {self._file.lines} whole lines before are kept"
            ) from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
