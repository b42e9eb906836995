"""The one bridge from engine threads to the GUI: keep the newest, paint on a timer.

Engine callbacks arrive on the source and node threads at the video's rate. Queuing a Qt
signal per frame would pile up whenever the GUI is busy; instead the callback only stores the
newest source frame, the newest result per export node and the newest metrics under a lock,
and a QTimer on the GUI thread takes them at display rate and emits plain signals there.
Errors, warnings, state changes and insight messages are few or small, so they are kept in
bounded queues and handed over in order.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from designer.core.engine.events import (
    EngineEvent,
    FrameEvent,
    MetricsEvent,
    NodeErrorEvent,
    NodeWarningEvent,
    SourceFrameEvent,
    StatusEvent,
)
from designer.core.engine.executor import Engine
from designer.core.engine.frame import Frame, insight_message

DISPLAY_INTERVAL_MS = 33  # about 30 paints a second; a faster source shows its newest frame
MESSAGE_BACKLOG = 1000  # insight messages kept between two timer ticks at most
NOTE_BACKLOG = 200
LATENCY_WINDOW = 90


@dataclass(frozen=True, slots=True)
class InsightRecord:
    """One insight message as the preview keeps it: small (no image), JSON text as written."""

    node_id: str
    frame_id: str
    timestamp: float
    labels: tuple[str, ...]
    text: str  # the POSS message, one JSON line


@dataclass(slots=True)
class PreviewFrame:
    """What the video shows: the newest camera frame, and the newest result of each export."""

    frame_id: str
    timestamp: float
    image: np.ndarray
    results: dict[str, Frame] = field(default_factory=dict)
    own_pixels: set[str] = field(default_factory=set)  # exports whose frame carries changed pixels


class EngineRelay(QObject):
    frame_ready = Signal(object)  # PreviewFrame
    metrics_ready = Signal(object)  # MetricsEvent
    node_error = Signal(str, str, bool)  # node id, message, fatal
    node_warning = Signal(str, str)
    state_changed = Signal(object)  # StatusEvent
    messages_ready = Signal(list)  # list[InsightRecord], in order

    def __init__(self, parent: QObject | None = None, interval_ms: int = DISPLAY_INTERVAL_MS) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._generation = 0
        self._ids = ("", "", "")  # instance, skill, device ids for messages
        self._reset()
        self._timer = QTimer(self, interval=interval_ms)
        self._timer.timeout.connect(self.flush)

    def _reset(self) -> None:
        self._source: SourceFrameEvent | None = None
        self._recent_images: deque[tuple[str, int]] = deque(maxlen=16)  # (frame id, id(image))
        self._results: dict[str, Frame] = {}
        self._own_pixels: set[str] = set()
        self._new_frame = False
        self._metrics: MetricsEvent | None = None
        self._notes: deque[object] = deque(maxlen=NOTE_BACKLOG)
        self._messages: deque[InsightRecord] = deque(maxlen=MESSAGE_BACKLOG)
        self._latency: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self.messages_lost = 0  # messages that fell out of the backlog before a tick took them

    # --- GUI thread -----------------------------------------------------------------------

    def attach(self, engine: Engine) -> None:
        """Listen to ``engine`` (before it starts); events of earlier engines are ignored from now."""
        context = engine.context
        engine.subscribe(self.listen(context.instance_id, context.skill_id, context.device_id))

    def listen(
        self, instance_id: str = "", skill_id: str = "", device_id: str = ""
    ) -> Callable[[EngineEvent], None]:
        """A fresh start: the returned callback takes engine events (any thread), and callbacks
        handed out before go quiet. The ids name the insight messages."""
        with self._lock:
            self._generation += 1
            self._reset()
            self._ids = (instance_id, skill_id, device_id)
            generation = self._generation
        self._timer.start()
        return partial(self._on_event, generation)

    def detach(self) -> None:
        """Ignore whatever the current engine still says (it is being stopped)."""
        with self._lock:
            self._generation += 1
        self._timer.stop()

    def latency_s(self) -> float | None:
        """Median end-to-end latency: capture to result at an export, over the last results."""
        with self._lock:
            return statistics.median(self._latency) if self._latency else None

    def flush(self) -> None:
        """Hand what arrived since the last tick to the GUI (the timer calls this)."""
        with self._lock:
            frame = None
            if self._new_frame and self._source is not None:
                source = self._source
                frame = PreviewFrame(
                    source.frame_id,
                    source.timestamp,
                    source.image,
                    dict(self._results),
                    set(self._own_pixels),
                )
                self._new_frame = False
            metrics, self._metrics = self._metrics, None
            notes = list(self._notes)
            self._notes.clear()
            messages = list(self._messages)
            self._messages.clear()
        for note in notes:
            if isinstance(note, NodeErrorEvent):
                self.node_error.emit(note.node_id, note.message, note.fatal)
            elif isinstance(note, NodeWarningEvent):
                self.node_warning.emit(note.node_id, note.message)
            else:
                self.state_changed.emit(note)
        if messages:
            self.messages_ready.emit(messages)
        if metrics is not None:
            self.metrics_ready.emit(metrics)
        if frame is not None:
            self.frame_ready.emit(frame)

    # --- engine threads ---------------------------------------------------------------------

    def _on_event(self, generation: int, event: EngineEvent) -> None:
        if generation != self._generation:
            return
        if isinstance(event, SourceFrameEvent):
            with self._lock:
                if generation == self._generation:
                    self._source = event
                    self._recent_images.append((event.frame_id, id(event.image)))
                    self._new_frame = True
        elif isinstance(event, FrameEvent):
            self._on_result(generation, event)
        elif isinstance(event, MetricsEvent):
            with self._lock:
                if generation == self._generation:
                    self._metrics = event
        elif isinstance(event, NodeErrorEvent | NodeWarningEvent | StatusEvent):
            with self._lock:
                if generation == self._generation:
                    self._notes.append(event)

    def _on_result(self, generation: int, event: FrameEvent) -> None:
        frame = event.frame
        instance_id, skill_id, device_id = self._ids
        message = insight_message(frame, instance_id=instance_id, skill_id=skill_id, device_id=device_id)
        try:
            text = json.dumps(message, separators=(",", ":"), allow_nan=False)
        except ValueError:  # a non-finite number: the engine's own log reports it; show the rest
            text = json.dumps(message, separators=(",", ":"), default=str)
        record = InsightRecord(
            event.node_id, frame.frame_id, frame.timestamp, tuple(o.label for o in frame.objects), text
        )
        latency = max(time.time() - frame.timestamp, 0.0)
        with self._lock:
            if generation != self._generation:
                return
            self._results[event.node_id] = frame
            source_ids = [image for frame_id, image in self._recent_images if frame_id == frame.frame_id]
            if source_ids and id(frame.image) not in source_ids:
                self._own_pixels.add(event.node_id)  # a node drew on or replaced the image
            else:
                self._own_pixels.discard(event.node_id)
            self._new_frame = True
            if len(self._messages) == self._messages.maxlen:
                self.messages_lost += 1
            self._messages.append(record)
            self._latency.append(latency)
