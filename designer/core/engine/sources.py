"""Frame sources for the Camera Input node: webcam index, camera URL or video file.

Live sources (webcam, RTSP, HTTP) are read by their own thread that keeps only the newest
frame, so a graph slower than the camera never builds up lag; a lost stream reconnects with
exponential backoff and says so through ``on_status``. Video files are read in the caller's
thread, at their own pace (``realtime=True``) or as fast as possible (``realtime=False``).

The skill's fps is an upper bound applied here, at the source, on a fixed time grid. It is
applied to live sources and to files played in realtime; with ``realtime=False`` every frame of
the file is delivered and the cap does not apply (that mode exists to process files at full
speed, e.g. for batch runs and benchmarks).

Credentials (``username``/``password`` or ``user:pass@`` inside the URL) never appear in a
message: every message names the camera by its masked URL.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn
from urllib.parse import quote, urlsplit, urlunsplit

import cv2
import numpy as np

from designer.core.secrets import mask_secrets

log = logging.getLogger(__name__)

LIVE_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https")
DEFAULT_FILE_FPS = 25.0  # used when a file does not state a usable frame rate
READ_TIMEOUT_S = 5.0  # a network stream silent this long counts as lost
CLOSE_JOIN_S = 2.0  # close() waits this long for a reader blocked in network I/O
_SOURCE_HINT = "give a webcam index (0, 1, ...), an rtsp:// or http(s):// URL, or a video file path"

StatusState = Literal["opening", "live", "reconnecting", "ended", "failed"]


class SourceError(Exception):
    """The camera or video file cannot be opened or read."""


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A change in a source's state, for logs and the UI. Messages never hold credentials."""

    state: StatusState
    message: str
    attempt: int = 0


@dataclass(frozen=True, slots=True)
class SourceFrame:
    """One delivered frame.

    ``index`` counts delivered frames per source (0, 1, 2, ...), ``timestamp`` is the epoch time
    of capture (for files: the start of play plus the frame's time in the file, so speeds stay
    true at any read rate), ``source_pos`` the frame number in the file (None live).
    """

    image: np.ndarray
    index: int
    timestamp: float
    source_pos: int | None


StatusCallback = Callable[[SourceStatus], None]


def mask_credentials(url: str) -> str:
    """A camera URL as messages name it: the one masking rule of ``designer.core.secrets``
    (user info, secret query keys, connection-string keys)."""
    return mask_secrets(url)


def with_credentials(url: str, username: str, password: str) -> str:
    """Put separately given credentials into the URL (they replace any user info already there)."""
    if not username and not password:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    userinfo = quote(username, safe="")
    if password:
        userinfo += ":" + quote(password, safe="")
    return urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))


class VideoSource(ABC):
    """A stream of BGR frames; ``read()`` returns None once the source has ended or was closed."""

    dropped: int
    """Frames lost because the consumer was slower than the source (latest frame wins)."""
    skipped: int
    """Frames left out to stay under ``fps_limit``."""

    @abstractmethod
    def read(self, timeout: float | None = None) -> SourceFrame | None:
        """Next frame; None when the source has ended or is closed.

        Raises TimeoutError when no frame came within ``timeout`` seconds (a live stream that
        is reconnecting, or a file frame not yet due); reading again later is fine.
        """

    @property
    def failure(self) -> str | None:
        """Why the source ended, when it did not end normally (a live reader that crashed)."""
        return None

    def rebase(self) -> None:  # noqa: B027 -- a no-op unless the source keeps a clock
        """Nothing was read for a while on purpose (a paused preview): go on from the next frame
        instead of catching up with the clock. Live sources always give their newest frame."""

    @abstractmethod
    def close(self) -> None:
        """Release the capture and stop the reader; a read() in progress returns None."""

    @property
    @abstractmethod
    def name(self) -> str:
        """The source as messages name it, credentials masked."""

    @property
    @abstractmethod
    def is_live(self) -> bool:
        """True for cameras, False for video files."""

    @property
    @abstractmethod
    def nominal_fps(self) -> float | None:
        """The frame rate the source states (before ``fps_limit``); None when unknown."""

    @property
    @abstractmethod
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames."""

    def __iter__(self) -> Iterator[SourceFrame]:
        while (frame := self.read()) is not None:
            yield frame

    def __enter__(self) -> VideoSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _FpsCap:
    """Admits frames at most ``fps`` times a second on a fixed time grid.

    A grid (rather than "at least 1/fps since the last frame") keeps the rate from drifting, and
    admitting the frame nearest each grid point keeps camera jitter from halving the rate.
    """

    def __init__(self, fps: float) -> None:
        self._period = 1.0 / fps
        self._next: float | None = None

    @property
    def period(self) -> float:
        return self._period

    def admit(self, t: float, frame_interval: float) -> bool:
        """Whether a frame at time ``t`` (seconds) from a source ``frame_interval`` apart passes."""
        if self._next is not None and t <= self._next - frame_interval / 2:
            return False
        if self._next is None or t - self._next >= self._period:  # behind: restart from t
            self._next = t + self._period
        else:
            self._next += self._period
        return True


def _stated_fps(cap: cv2.VideoCapture) -> float | None:
    fps = cap.get(cv2.CAP_PROP_FPS)
    return fps if 0 < fps <= 1000 else None


class FileSource(VideoSource):
    """A video file, read in the caller's thread; loops or ends cleanly at its end."""

    def __init__(
        self,
        path: Path,
        *,
        loop: bool,
        fps_limit: float | None,
        realtime: bool,
        on_status: StatusCallback | None,
    ) -> None:
        self._path = path
        self._loop = loop
        self._realtime = realtime
        self._on_status = on_status
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self.dropped = 0
        self.skipped = 0
        self._emit("opening", f"opening {self.name}")
        self._cap, first = self._open()
        self._pending: np.ndarray | None = first
        self._fps = _stated_fps(self._cap)
        self._interval = 1.0 / (self._fps or DEFAULT_FILE_FPS)
        self._fps_cap = _FpsCap(fps_limit) if fps_limit and realtime else None
        height, width = first.shape[:2]
        self._frame_size = (width, height)
        self._pos = 0  # file frame number of the next frame out of _step()
        self._clock = 0  # frames elapsed on the time base since the first read, across loops
        self._start: float | None = None  # monotonic time of clock 0
        self._wall_start = 0.0  # epoch time of clock 0
        self._held: tuple[int, np.ndarray, float] | None = None  # decoded, not yet delivered
        self._delivered = 0
        self._ended = False
        fps_text = f"{self._fps:g} fps" if self._fps else f"no stated fps, using {DEFAULT_FILE_FPS:g}"
        self._emit("live", f"playing {self.name} ({width}x{height}, {fps_text})")

    @property
    def name(self) -> str:
        return f"video file {self._path}"

    @property
    def is_live(self) -> bool:
        return False

    @property
    def nominal_fps(self) -> float | None:
        return self._fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._frame_size

    def read(self, timeout: float | None = None) -> SourceFrame | None:
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            lag = None
            while self._held is None:
                if self._closed.is_set() or self._ended:
                    return None
                if self._start is None:
                    self._start = time.monotonic()
                    self._wall_start = time.time()
                t_file = self._clock * self._interval
                left_out, lag = self._leave_out(t_file, lag)
                step = self._step(decode=left_out is None)
                if step is None:
                    self._finish()
                    return None
                self._clock += 1
                if left_out == "skipped":
                    self.skipped += 1
                elif left_out == "dropped":
                    self.dropped += 1
                elif step[1] is not None:  # decoded, since nothing left it out
                    self._held = (step[0], step[1], self._start + t_file)
            pos, image, due = self._held
            if self._realtime and not self._sleep_until(due, deadline):
                if self._closed.is_set():
                    return None
                raise TimeoutError(f"the next frame of {self.name} is not due within {timeout} s")
            self._held = None
            assert self._start is not None  # set before the first frame was held
            # The file's own clock: speeds and times stay true when frames come faster than realtime.
            frame = SourceFrame(image, self._delivered, self._wall_start + (due - self._start), pos)
            self._delivered += 1
            return frame

    def rebase(self) -> None:
        """Move the file's clock to now, so play resumes at the next frame (no catching up)."""
        with self._lock:
            if self._start is None:
                return
            shift = time.monotonic() - (self._start + self._clock * self._interval)
            if shift <= 0:
                return
            self._start += shift
            self._wall_start += shift
            if self._held is not None:
                pos, image, due = self._held
                self._held = (pos, image, due + shift)

    def close(self) -> None:
        self._closed.set()  # first: wakes a read() sleeping to its frame's time
        with self._lock:
            self._cap.release()
            self._held = None

    def _open(self) -> tuple[cv2.VideoCapture, np.ndarray]:
        """Open the file and decode its first frame, so a broken file fails here, not mid-run."""
        if not self._path.exists():
            self._fail(f"video file not found: {self._path} ({_SOURCE_HINT})")
        if not self._path.is_file():
            self._fail(f"video source {self._path} is not a file ({_SOURCE_HINT})")
        cap = cv2.VideoCapture(str(self._path))
        ok, image = cap.read() if cap.isOpened() else (False, None)
        if not ok or image is None:
            cap.release()
            self._fail(
                f"cannot decode video file {self._path}: it is not a video OpenCV can read "
                "(re-encode it, e.g. to H.264 MP4 or MJPEG AVI)"
            )
        return cap, image

    def _fail(self, message: str) -> NoReturn:
        self._emit("failed", message)
        raise SourceError(message)

    def _leave_out(
        self, t_file: float, prev_lag: float | None
    ) -> tuple[Literal["skipped", "dropped"] | None, float | None]:
        """Why the frame at file time ``t_file`` is left out (None: deliver it), and the lag.

        In realtime a frame is dropped when the next deliverable one is already due (latest
        frame wins), as long as skipping catches up; a decoder slower than the file's rate
        cannot catch up, so then the time base moves instead and the file plays slower.
        """
        if not self._realtime:
            return None, None
        if self._fps_cap is not None and not self._fps_cap.admit(t_file, self._interval):
            return "skipped", prev_lag
        assert self._start is not None
        lag = time.monotonic() - (self._start + t_file)
        if lag > max(self._interval, self._fps_cap.period if self._fps_cap else 0.0):
            if prev_lag is None or lag < prev_lag:
                return "dropped", lag
            self._start += lag
        return None, None

    def _step(self, *, decode: bool) -> tuple[int, np.ndarray | None] | None:
        """Advance one frame: (file frame number, image or None when not decoded), None at end.

        Frames not wanted are only grabbed, which skips the colour conversion and the copy.
        """
        if self._pending is None:
            if not self._cap.grab():
                if not (self._loop and self._rewind()):
                    return None
            elif decode:
                ok, image = self._cap.retrieve()
                if not ok:
                    return None
                self._pending = image
        out, self._pending = self._pending, None
        pos = self._pos
        self._pos += 1
        return pos, out

    def _rewind(self) -> bool:
        """Go back to frame 0 and decode it; reopen the file where seeking is unreliable."""
        self._pos = 0
        cap = self._cap
        if cap.set(cv2.CAP_PROP_POS_FRAMES, 0) and cap.get(cv2.CAP_PROP_POS_FRAMES) == 0:
            ok, image = cap.read()
            if ok:
                self._pending = image
                return True
        cap.release()
        self._cap = cv2.VideoCapture(str(self._path))
        ok, image = self._cap.read()
        self._pending = image if ok else None
        return ok

    def _finish(self) -> None:
        self._ended = True
        self._emit("ended", f"{self.name} ended after {self._pos} frames")

    def _sleep_until(self, due: float, deadline: float | None) -> bool:
        """Sleep to the frame's time; False when closed or the deadline comes first."""
        until = due if deadline is None else min(due, deadline)
        delay = until - time.monotonic()
        if delay > 0 and self._closed.wait(delay):
            return False
        return until == due

    def _emit(self, state: StatusState, message: str) -> None:
        _emit(self._on_status, SourceStatus(state, message))


class LiveSource(VideoSource):
    """A webcam or camera stream, read by its own thread that keeps only the newest frame."""

    def __init__(
        self,
        target: int | str,
        name: str,
        *,
        fps_limit: float | None,
        on_status: StatusCallback | None,
        reconnect_backoff: tuple[float, float],
        open_timeout: float,
        resolution: tuple[int, int] | None = None,
    ) -> None:
        self._target = target  # index, or URL with credentials: never put into a message
        self._resolution = resolution
        self._name = name
        self._fps_cap = _FpsCap(fps_limit) if fps_limit else None
        self._backoff = reconnect_backoff
        self._open_timeout = open_timeout
        self._on_status = on_status
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._slot: tuple[np.ndarray, float] | None = None
        self._ended = False
        self._failure: str | None = None
        self._delivered = 0
        self._nominal_fps: float | None = None
        self._frame_size = (0, 0)
        self.dropped = 0
        self.skipped = 0
        self._thread = threading.Thread(target=self._run, name=f"source {name}", daemon=True)
        self._thread.start()
        # The thread opens the camera, so a driver that hangs in open() cannot hang the caller.
        if not self._opened.wait(open_timeout + 1.0):
            self._stop.set()
            message = (
                f"{name} did not answer within {open_timeout:g} s: "
                "check that it is connected, powered and reachable"
            )
            _emit(on_status, SourceStatus("failed", message))
            raise SourceError(message)
        if self._failure is not None:
            raise SourceError(self._failure)

    @property
    def name(self) -> str:
        return self._name

    @property
    def is_live(self) -> bool:
        return True

    @property
    def nominal_fps(self) -> float | None:
        return self._nominal_fps

    @property
    def frame_size(self) -> tuple[int, int]:
        return self._frame_size

    def read(self, timeout: float | None = None) -> SourceFrame | None:
        with self._cond:
            arrived = self._cond.wait_for(
                lambda: self._slot is not None or self._ended or self._stop.is_set(), timeout
            )
            if self._stop.is_set() or (self._slot is None and self._ended):
                return None
            if not arrived or self._slot is None:
                raise TimeoutError(f"no frame from {self._name} within {timeout} s")
            image, timestamp = self._slot
            self._slot = None
            frame = SourceFrame(image, self._delivered, timestamp, None)
            self._delivered += 1
            return frame

    @property
    def failure(self) -> str | None:
        return self._failure

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._slot = None
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            # A reader blocked in network I/O returns within READ_TIMEOUT_S and then releases
            # its capture itself; close() does not wait that long.
            self._thread.join(CLOSE_JOIN_S)

    def _run(self) -> None:
        cap = None
        try:
            self._status("opening", f"opening {self._name}")
            cap = self._connect()
            if cap is None:
                self._failure = f"cannot open {self._name}: check the {self._what_to_check()}"
                self._status("failed", self._failure)
                return
            self._nominal_fps = _stated_fps(cap)
            width, height = self._frame_size
            self._status("live", f"{self._name} is live ({width}x{height})")
            self._opened.set()
            cap = self._stream(cap)
        except Exception as exc:  # the reader must end visibly, never die silently
            log.exception("reader of %s stopped", self._name)
            self._failure = f"{self._name} stopped: {type(exc).__name__}"
            self._status("failed", self._failure)
        finally:
            if cap is not None:
                cap.release()
            with self._cond:
                self._ended = True
                self._cond.notify_all()
            self._opened.set()

    def _what_to_check(self) -> str:
        if isinstance(self._target, int):
            return "webcam index and that the camera is connected and not used by another program"
        return "URL, the network and the credentials"

    def _connect(self) -> cv2.VideoCapture | None:
        """Open the capture and publish its first frame; None when either fails."""
        if isinstance(self._target, int):
            cap = cv2.VideoCapture(self._target)
            if self._resolution is not None:  # a hint: the camera picks its nearest mode
                cap.set(cv2.CAP_PROP_FRAME_WIDTH, self._resolution[0])
                cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self._resolution[1])
        else:
            timeouts = [
                cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
                int(self._open_timeout * 1000),
                cv2.CAP_PROP_READ_TIMEOUT_MSEC,
                int(READ_TIMEOUT_S * 1000),
            ]
            cap = cv2.VideoCapture(self._target, cv2.CAP_FFMPEG, timeouts)
        ok, image = cap.read() if cap.isOpened() else (False, None)
        if not ok or image is None or self._stop.is_set():
            cap.release()
            return None
        self._publish(image)
        return cap

    def _stream(self, cap: cv2.VideoCapture) -> cv2.VideoCapture | None:
        """Read until closed, reconnecting when the stream is lost; returns the open capture."""
        interval = 1.0 / (self._nominal_fps or 30.0)
        last = time.monotonic()
        while not self._stop.is_set():
            ok = cap.grab()
            if ok:
                now = time.monotonic()
                interval += 0.1 * (min(now - last, 1.0) - interval)  # follows the camera's rate
                last = now
                if self._fps_cap is not None and not self._fps_cap.admit(now, interval):
                    self.skipped += 1  # grabbed only: no colour conversion for skipped frames
                    continue
                ok, image = cap.retrieve()
            if not ok:
                cap.release()
                self._discard_stale()
                reopened = self._reconnect()
                if reopened is None:
                    return None
                cap = reopened
                last = time.monotonic()
                continue
            self._publish(image)
        return cap

    def _reconnect(self) -> cv2.VideoCapture | None:
        """Retry with exponential backoff until the stream is back (or closed: None)."""
        delay, max_delay = self._backoff
        attempt = 0
        while True:
            attempt += 1
            what = "lost" if attempt == 1 else "still unreachable"
            message = f"{self._name} {what}, retrying in {delay:.1f} s (attempt {attempt})"
            self._status("reconnecting", message, attempt)
            if self._stop.wait(delay):
                return None
            cap = self._connect()
            if self._stop.is_set():
                if cap is not None:
                    cap.release()
                return None
            if cap is not None:
                self._status("live", f"{self._name} is back after {attempt} attempt(s)", attempt)
                return cap
            delay = min(delay * 2, max_delay)

    def _discard_stale(self) -> None:
        """A frame from before an outage is not the newest any more: nobody gets it."""
        with self._cond:
            if self._slot is not None:
                self._slot = None
                self.dropped += 1

    def _publish(self, image: np.ndarray) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = (image, time.time())
            height, width = image.shape[:2]
            self._frame_size = (width, height)
            self._cond.notify_all()

    def _status(self, state: StatusState, message: str, attempt: int = 0) -> None:
        if not self._stop.is_set():
            _emit(self._on_status, SourceStatus(state, message, attempt))


def _emit(on_status: StatusCallback | None, status: SourceStatus) -> None:
    level = logging.WARNING if status.state in ("reconnecting", "failed") else logging.INFO
    log.log(level, "%s", status.message)
    if on_status is None:
        return
    try:
        on_status(status)
    except Exception:  # a broken subscriber must not stop the video
        log.exception("status callback failed on %r", status)


def open_source(
    spec: str,
    *,
    loop: bool = True,
    fps_limit: float | None = None,
    realtime: bool = True,
    username: str = "",
    password: str = "",
    on_status: StatusCallback | None = None,
    reconnect_backoff: tuple[float, float] = (0.5, 8.0),
    open_timeout: float = 10.0,
    resolution: tuple[int, int] | None = None,
) -> VideoSource:
    """Open the Camera Input source ``spec``: a webcam index, a camera URL or a video file.

    ``loop``/``realtime`` apply to files; ``username``/``password`` to URLs (put into the URL
    when opening). ``fps_limit`` caps the delivered rate (live sources and realtime files).
    A source that cannot be opened raises SourceError within about ``open_timeout`` seconds;
    once open, a live source that is lost reconnects forever with backoff
    ``(first delay, max delay)`` seconds until closed. ``resolution`` (width, height) asks a
    webcam for a capture size; streams and files keep their own. ``on_status`` is called from the
    reader thread of live sources, so it must be quick and thread-safe.
    """
    text = spec.strip()
    if not text:
        raise SourceError(f"the camera source is empty: {_SOURCE_HINT}")
    if fps_limit is not None and not fps_limit > 0:
        raise SourceError(f"fps limit must be above 0, got {fps_limit!r}")
    first, max_delay = reconnect_backoff
    if not 0 < first <= max_delay:
        raise SourceError(f"reconnect backoff must be 0 < first <= max, got {reconnect_backoff!r}")

    def live(target: int | str, name: str, size: tuple[int, int] | None = None) -> LiveSource:
        return LiveSource(
            target,
            name,
            fps_limit=fps_limit,
            on_status=on_status,
            reconnect_backoff=(first, max_delay),
            open_timeout=open_timeout,
            resolution=size,
        )

    if text.isdigit():
        return live(int(text), f"webcam {int(text)}", resolution)
    if urlsplit(text).scheme.lower() in LIVE_SCHEMES:
        url = with_credentials(text, username, password)
        return live(url, f"camera {mask_credentials(url)}")
    return FileSource(
        Path(text).expanduser(),
        loop=loop,
        fps_limit=fps_limit,
        realtime=realtime,
        on_status=on_status,
    )
