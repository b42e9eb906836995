"""The bounded queue between two nodes.

Live runs drop the oldest frame when a node falls behind (latest frame
wins, never growing lag); lossless runs (a file at full speed) block the
producer instead, so every frame is processed.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

END = object()  # end of stream: passed down the graph after the last frame


class FrameQueue:
    def __init__(self, maxsize: int, *, lossless: bool) -> None:
        self._items: deque[Any] = deque()
        self._maxsize = maxsize
        self._lossless = lossless
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: Any) -> int:
        """Enqueue; returns how many frames were dropped to make room."""
        with self._cond:
            dropped = 0
            if item is not END:
                if self._lossless:
                    self._cond.wait_for(lambda: len(self._items) < self._maxsize or self._closed)
                else:
                    while len(self._items) >= self._maxsize and self._items[0] is not END:
                        self._items.popleft()
                        dropped += 1
            if not self._closed:
                self._items.append(item)
                self._cond.notify_all()
            elif item is not END:
                dropped += 1  # offered after the stop (a frame its parent had processed): counted
            return dropped

    def get(self) -> Any:
        with self._cond:
            self._cond.wait_for(lambda: self._items or self._closed)
            if self._closed and not self._items:
                return END
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def empty(self) -> bool:
        with self._cond:
            return not self._items

    def close(self) -> int:
        """Stop now: waiting producers and consumers wake up; returns frames discarded."""
        with self._cond:
            discarded = sum(1 for item in self._items if item is not END)
            self._items.clear()
            self._closed = True
            self._cond.notify_all()
            return discarded
