"""One camera read once, its frames handed to every skill that runs on it.

Each skill's engine opens a *tap* instead of the camera: the hub opens the real source with the
first tap, reads it on its own thread and gives every frame to each tap. Live cameras and
realtime files keep the newest frame per tap (a slow skill drops frames, counted on its tap,
and never slows another skill); a file read lossless (realtime off) gives every frame to every
tap, so the fastest skill waits for the slowest. A lost live camera reconnects on its own (the
source's own backoff); the taps just see no frames meanwhile, and each engine hears the status.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from designer.core.engine.sources import SourceFrame, SourceStatus, StatusCallback, VideoSource, open_source

log = logging.getLogger(__name__)

ATTACH_WAIT_S = 30.0  # a lossless file waits this long at most for all its skills to open it
LOSSLESS_DEPTH = 2  # frames a tap holds when every frame must reach it
_END = object()


class CameraHub:
    """A camera shared by the skills of a deployment; ``tap`` is what each engine opens."""

    def __init__(
        self,
        name: str,
        opener: Callable[..., VideoSource] = open_source,
        *,
        expected_taps: int = 1,
        **open_args: Any,
    ) -> None:
        self.name = name
        self.expected_taps = expected_taps  # a file waits for every skill before its first frame
        self._attached = threading.Event()
        self._attach_count = 0
        self._opener = opener
        self._open_args = open_args  # open_source's keywords, as the deployment's camera sets them
        self._lock = threading.Lock()
        self._open_lock = threading.Lock()
        self._source: VideoSource | None = None
        self._taps: list[Tap] = []
        self.lossless = False
        self.frames = 0  # frames read from the camera
        self.reconnects = 0

    def tap(self, spec: str, *, on_status: StatusCallback | None = None, **ignored: Any) -> Tap:
        """A source for one engine (``Engine(open_video=hub.tap)``); opens the camera with the first.

        The engine's own arguments (its skill's source and fps) are replaced by the camera's:
        the deployment already wrote them into every skill on this camera.
        """
        with self._open_lock:  # one opener at a time; the taps' lock stays free for status calls
            with self._lock:
                source = self._source
            if source is None:
                source = self._opener(spec, on_status=self._status, **self._open_args)
                self.lossless = not source.is_live and not self._open_args.get("realtime", True)
                thread = threading.Thread(target=self._pump, args=(source,), daemon=True)
                thread.name = f"source {self.name}"
                with self._lock:
                    self._source = source
                    tap = self._attach(source, on_status)
                thread.start()
                return tap
            with self._lock:
                return self._attach(source, on_status)

    def _attach(self, source: VideoSource, on_status: StatusCallback | None) -> Tap:
        tap = Tap(self, source, on_status)
        self._taps.append(tap)
        self._attach_count += 1
        if self._attach_count >= self.expected_taps:
            self._attached.set()
        return tap

    def _status(self, status: SourceStatus) -> None:
        if status.state == "reconnecting" and status.attempt == 1:
            self.reconnects += 1
        with self._lock:
            taps = list(self._taps)
        for tap in taps:
            if tap.on_status is not None:
                tap.on_status(status)

    def _pump(self, source: VideoSource) -> None:
        if self.lossless:  # every skill gets every frame: wait until they all took their tap
            self._attached.wait(ATTACH_WAIT_S)
        try:
            while True:
                with self._lock:
                    if source is not self._source:
                        return
                try:
                    item = source.read(timeout=0.5)
                except TimeoutError:
                    continue
                with self._lock:
                    taps = list(self._taps)
                if item is None:
                    for tap in taps:
                        tap.end()
                    return
                self.frames += 1
                for tap in taps:
                    tap.put(item, lossless=self.lossless)
        except Exception:  # a bug here must end the taps, not hang their engines
            log.exception("camera %s: reading failed", self.name)
            with self._lock:
                taps = list(self._taps)
            for tap in taps:
                tap.end()

    def _detach(self, tap: Tap) -> None:
        """A tap closed; the last one closes the camera (a later tap opens it again)."""
        with self._lock:
            if tap in self._taps:
                self._taps.remove(tap)
            if self._taps or self._source is None:
                return
            source, self._source = self._source, None
        source.close()

    def close(self) -> None:
        with self._lock:
            taps = list(self._taps)
        for tap in taps:
            tap.close()


class Tap(VideoSource):
    """One engine's view of a shared camera."""

    def __init__(self, hub: CameraHub, source: VideoSource, on_status: StatusCallback | None) -> None:
        self.hub = hub
        self.source = source
        self.on_status = on_status
        self.dropped = 0
        self.skipped = 0
        self._frames: deque[Any] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, item: SourceFrame, *, lossless: bool) -> None:
        with self._cond:
            if lossless:  # every frame: the hub waits for room (or for this tap to close)
                while len(self._frames) >= LOSSLESS_DEPTH and not self._closed:
                    self._cond.wait(0.5)
            elif self._frames and self._frames[-1] is not _END:
                self._frames.clear()  # latest frame wins
                self.dropped += 1
            if self._closed:
                return
            self._frames.append(item)
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self._frames.append(_END)
            self._cond.notify_all()

    def read(self, timeout: float | None = None) -> SourceFrame | None:
        with self._cond:
            if not self._cond.wait_for(lambda: self._frames or self._closed, timeout):
                raise TimeoutError
            if self._closed:
                return None
            item = self._frames[0]
            if item is _END:
                return None
            self._frames.popleft()
            self._cond.notify_all()
            return item

    @property
    def failure(self) -> str | None:
        return self.source.failure

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._frames.clear()
            self._cond.notify_all()
        self.hub._detach(self)

    @property
    def name(self) -> str:
        return self.source.name

    @property
    def is_live(self) -> bool:
        return self.source.is_live

    @property
    def nominal_fps(self) -> float | None:
        return self.source.nominal_fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return self.source.frame_size
