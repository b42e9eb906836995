"""Per-node counters and latency percentiles over a sliding window."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from designer.core.engine.events import NodeStats

WINDOW = 120  # frames kept for latency percentiles and fps


class NodeMetrics:
    """Updated by one worker thread, read by the metrics reporter: guarded by a lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=WINDOW)
        self._done_at: deque[float] = deque(maxlen=WINDOW)
        self.frames_in = 0
        self.frames_out = 0
        self.dropped = 0
        self.errors = 0
        self.failed = False
        self.delivery: Callable[[], dict[str, Any]] | None = None  # an export's sent/queued/dropped

    def received(self) -> None:
        with self._lock:
            self.frames_in += 1

    def drop(self, count: int = 1) -> None:
        with self._lock:
            self.dropped += count

    def error(self) -> None:
        with self._lock:
            self.errors += 1

    def processed(self, seconds: float, passed_on: bool) -> None:
        with self._lock:
            self._latencies.append(seconds)
            self._done_at.append(time.monotonic())
            if passed_on:
                self.frames_out += 1

    def snapshot(self) -> NodeStats:
        with self._lock:
            latencies = np.fromiter(self._latencies, float) if self._latencies else None
            done = list(self._done_at)
            fps = 0.0
            if len(done) >= 2 and done[-1] > done[0]:
                fps = (len(done) - 1) / (done[-1] - done[0])
            return NodeStats(
                frames_in=self.frames_in,
                frames_out=self.frames_out,
                dropped=self.dropped,
                errors=self.errors,
                fps=fps,
                p50_ms=float(np.percentile(latencies, 50) * 1000) if latencies is not None else 0.0,
                p95_ms=float(np.percentile(latencies, 95) * 1000) if latencies is not None else 0.0,
                failed=self.failed,
                **(self.delivery() if self.delivery is not None else {}),
            )
