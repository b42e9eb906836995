"""Sessions shared by every model node of a deployment, with fair queuing and batching.

A device running four cameras with the same detector needs one onnxruntime session, not four:
``SessionPool.acquire`` hands out one ``SharedSession`` per distinct model (the file's SHA-256,
the execution providers and the thread setting) and counts its users; the last ``release``
drops it.

Inference requests queue per *lane* (a camera): dispatcher threads serve the lanes round-robin,
one request per lane in turn, so a camera that sends frames fast cannot starve the others. When
the model's batch dimension is dynamic, a dispatcher takes the head request of every waiting
lane (same input shape) and runs them as one batch, then splits the outputs.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import onnxruntime as ort

MAX_BATCH = 8
T = TypeVar("T")
_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}
_DIGEST_LOCK = threading.Lock()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a model file, cached by (path, size, mtime): two nodes naming one file agree."""
    path = Path(path).resolve()
    info = path.stat()
    key = (str(path), info.st_size, info.st_mtime_ns)
    with _DIGEST_LOCK:
        if key in _DIGEST_CACHE:
            return _DIGEST_CACHE[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    with _DIGEST_LOCK:
        _DIGEST_CACHE[key] = digest.hexdigest()
    return _DIGEST_CACHE[key]


SessionKey = tuple[str, tuple[str, ...], int]  # (file digest, providers, intra-op threads)


@dataclass
class _Request:
    feeds: dict[str, np.ndarray]
    output_names: tuple[str, ...]
    future: Future


@dataclass(frozen=True)
class SessionStats:
    path: str
    users: int
    most_users: int  # nodes that used it at once, at most
    runs: int  # onnxruntime calls
    requests: int  # inferences asked for (a batch serves several in one run)
    largest_batch: int


class SharedSession:
    """One onnxruntime session, used by several model nodes through fair per-lane queues."""

    def __init__(
        self,
        key: SessionKey,
        path: str,
        session: ort.InferenceSession,
        *,
        dynamic_batch: bool,
        workers: int = 1,
    ) -> None:
        self.key = key
        self.path = path
        self.session = session
        self.dynamic_batch = dynamic_batch
        self.users = 0
        self.most_users = 0
        self.runs = 0
        self.requests = 0
        self.largest_batch = 0
        self._lanes: OrderedDict[str, deque[_Request]] = OrderedDict()
        self._cond = threading.Condition()
        self._closed = False
        self._threads = [
            threading.Thread(target=self._serve, name=f"engine-infer-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def run(self, output_names: list[str], feeds: dict[str, np.ndarray], lane: str = "") -> list[np.ndarray]:
        """What ``InferenceSession.run`` returns, after this lane's turn comes."""
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the shared model session is closed")
            self._lanes.setdefault(lane, deque()).append(_Request(feeds, tuple(output_names), future))
            self._cond.notify()
        return future.result()

    def stats(self) -> SessionStats:
        with self._cond:
            return SessionStats(
                self.path, self.users, self.most_users, self.runs, self.requests, self.largest_batch
            )

    def close(self) -> None:
        with self._cond:
            self._closed = True
            pending = [r for lane in self._lanes.values() for r in lane]
            self._lanes.clear()
            self._cond.notify_all()
        for request in pending:
            request.future.set_exception(RuntimeError("the shared model session was closed"))

    # --- dispatching ---------------------------------------------------------------------

    def _next(self) -> list[_Request] | None:
        """The next requests to run: one lane's head, or (dynamic batch) the head of each lane
        whose input matches, lanes taken round-robin; None once closed."""
        with self._cond:
            while not self._closed and not any(self._lanes.values()):
                self._cond.wait()
            if self._closed:
                return None
            taken: list[_Request] = []
            for lane in list(self._lanes):
                queue = self._lanes[lane]
                if not queue:
                    continue
                head = queue[0]
                if taken and not self._batchable(taken[0], head):
                    continue
                taken.append(queue.popleft())
                self._lanes.move_to_end(lane)  # served: it goes to the back of the round
                if not self.dynamic_batch or len(taken) >= MAX_BATCH:
                    break
            return taken

    @staticmethod
    def _batchable(first: _Request, other: _Request) -> bool:
        return (
            first.output_names == other.output_names
            and first.feeds.keys() == other.feeds.keys()
            and all(
                first.feeds[k].shape == other.feeds[k].shape and first.feeds[k].dtype == other.feeds[k].dtype
                for k in first.feeds
            )
        )

    def _serve(self) -> None:
        while (batch := self._next()) is not None:
            try:
                outputs = self._infer(batch)
            except Exception as exc:  # the callers' threads report it as their node's error
                for request in batch:
                    request.future.set_exception(exc)
                continue
            for request, result in zip(batch, outputs, strict=True):
                request.future.set_result(result)

    def _infer(self, batch: list[_Request]) -> list[list[np.ndarray]]:
        names = list(batch[0].output_names)
        if len(batch) == 1:
            results = [self.session.run(names, batch[0].feeds)]
        else:
            feeds = {k: np.concatenate([r.feeds[k] for r in batch]) for k in batch[0].feeds}
            joined = self.session.run(names, feeds)
            sizes = [len(next(iter(r.feeds.values()))) for r in batch]
            offsets = np.cumsum([0, *sizes])
            results = [[out[offsets[i] : offsets[i + 1]] for out in joined] for i in range(len(batch))]
        with self._cond:
            self.runs += 1
            self.requests += len(batch)
            self.largest_batch = max(self.largest_batch, len(batch))
        return results


class SessionPool:
    """The shared sessions of one process (a deployment run): one per distinct model."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[SessionKey, SharedSession] = {}
        self._inspect_lock = threading.Lock()
        self._inspected: dict[tuple[str, ...], object] = {}
        self.history: list[SharedSession] = []  # every session opened (its counters stay readable)

    def inspected(self, path: str | Path, key: tuple[str, ...], inspect: Callable[[], T]) -> T:
        """``inspect()`` once per model file (by content) and ``key`` (its settings): inspecting
        opens a session of its own for a probe run, which N skills must not do N times at once."""
        full = (file_digest(path), *key)
        with self._inspect_lock:
            if full not in self._inspected:
                self._inspected[full] = inspect()
            return self._inspected[full]  # type: ignore[return-value]

    def acquire(
        self,
        path: str | Path,
        providers: list[str],
        threads: int,
        open_session: Callable[[], ort.InferenceSession],
        *,
        dynamic_batch: bool,
    ) -> SharedSession:
        key: SessionKey = (file_digest(path), tuple(providers), threads)
        with self._lock:  # held while opening: two nodes asking at once must not load twice
            shared = self._sessions.get(key)
            if shared is None:
                workers = max(1, (os.cpu_count() or 1) // threads) if threads else 1
                shared = SharedSession(
                    key, str(path), open_session(), dynamic_batch=dynamic_batch, workers=min(workers, 4)
                )
                self._sessions[key] = shared
                self.history.append(shared)
            shared.users += 1
            shared.most_users = max(shared.most_users, shared.users)
            return shared

    def release(self, shared: SharedSession) -> None:
        with self._lock:
            shared.users -= 1
            if shared.users > 0 or self._sessions.get(shared.key) is not shared:
                return
            del self._sessions[shared.key]
        shared.close()

    @property
    def opened(self) -> int:
        """Sessions created over the pool's life (a test checks loads, not log lines)."""
        return len(self.history)

    def sessions(self) -> list[SharedSession]:
        with self._lock:
            return list(self._sessions.values())

    def close(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for shared in sessions:
            shared.close()
