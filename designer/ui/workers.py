"""One way to run slow work off the GUI thread and come back with signals.

``submit(fn, ...)`` runs ``fn`` on Qt's global thread pool. The returned
``Task`` lives on the GUI thread; its signals are delivered there (queued),
so slots may touch widgets. ``fn`` may take ``progress`` (a callable
``(fraction, text)``) and ``cancelled`` (a callable returning True once
``Task.cancel()`` was called) as keyword arguments, when it asks for them.
"""

from __future__ import annotations

import inspect
import threading
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal


class Cancelled(Exception):
    """Raised by work that noticed ``cancelled()``; reported as ``Task.cancelled_``."""


class Task(QObject):
    done = Signal(object)
    failed = Signal(str)
    progress = Signal(float, str)
    cancelled_ = Signal()
    finished = Signal()  # after done, failed or cancelled_

    # Emitted on the worker thread; queued to this object's (GUI) thread, where
    # the public signals above are re-emitted, so even plain lambdas run there.
    _outcome = Signal(str, object)
    _progress = Signal(float, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._cancel = threading.Event()
        self.running = True
        self._outcome.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self._progress.connect(self.progress, Qt.ConnectionType.QueuedConnection)

    def _deliver(self, kind: str, value: object) -> None:
        self.running = False
        if kind == "done":
            self.done.emit(value)
        elif kind == "failed":
            self.failed.emit(str(value))
        else:
            self.cancelled_.emit()
        self.finished.emit()

    def cancel(self) -> None:
        self._cancel.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()


_live: set[Task] = set()  # keeps parentless tasks alive until they finish


class _Runnable(QRunnable):
    def __init__(self, task: Task, fn: Callable[..., Any], args: tuple, kwargs: dict) -> None:
        super().__init__()
        self.task, self.fn, self.args, self.kwargs = task, fn, args, kwargs

    def run(self) -> None:
        try:
            result = self.fn(*self.args, **self.kwargs)
        except Cancelled:
            self._report("cancelled", None)
        except Exception as exc:  # any failure of user-facing work becomes a message
            if self.task.is_cancelled():
                self._report("cancelled", None)
            else:
                traceback.print_exc()
                self._report("failed", str(exc) or type(exc).__name__)
        else:
            self._report("cancelled" if self.task.is_cancelled() else "done", result)

    def _report(self, kind: str, value: object) -> None:
        try:
            self.task._outcome.emit(kind, value)
        except RuntimeError:
            pass  # the task's owner (a closed dialog, say) is gone: nobody is waiting


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def submit(
    fn: Callable[..., Any],
    *args: Any,
    on_done: Callable[[Any], None] | None = None,
    on_error: Callable[[str], None] | None = None,
    on_progress: Callable[[float, str], None] | None = None,
    parent: QObject | None = None,
    **kwargs: Any,
) -> Task:
    """Run ``fn(*args, **kwargs)`` on a worker thread; callbacks run on the GUI thread."""
    task = Task(parent)
    if on_done:
        task.done.connect(on_done)
    if on_error:
        task.failed.connect(on_error)
    if on_progress:
        task.progress.connect(on_progress)
    if _accepts(fn, "progress"):
        kwargs["progress"] = lambda fraction, text="": task._progress.emit(float(fraction), str(text))
    if _accepts(fn, "cancelled"):
        kwargs["cancelled"] = task.is_cancelled
    if parent is None:
        _live.add(task)
        task.finished.connect(lambda: _live.discard(task))
    QThreadPool.globalInstance().start(_Runnable(task, fn, args, kwargs))
    return task
