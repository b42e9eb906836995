"""What the engine tells its subscribers: plain objects, no Qt, delivered on engine threads."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from designer.core.engine.frame import Frame


class RunState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    FINISHED = "finished"  # the source ended (file played once, --max-frames reached)
    STOPPED = "stopped"  # stop() was called
    FAILED = "failed"  # nothing could run


@dataclass(frozen=True, slots=True)
class StatusEvent:
    state: RunState
    message: str = ""


@dataclass(frozen=True, slots=True)
class FrameEvent:
    """A frame that reached an export node, with the insights its branch gave it."""

    node_id: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class SourceFrameEvent:
    """A frame as the camera delivered it, before any node ran: the preview shows these at the
    source's rate and draws the newest results on them, however slow inference is."""

    frame_id: str
    timestamp: float
    image: np.ndarray  # read-only, shared with the nodes


@dataclass(frozen=True, slots=True)
class NodeStats:
    frames_in: int = 0
    frames_out: int = 0
    dropped: int = 0
    errors: int = 0
    fps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    failed: bool = False
    # exports: messages built (also in a dry run), delivered, waiting in the outbox, dropped
    messages: int = 0
    sent: int = 0
    queued: int = 0
    messages_dropped: int = 0
    last_message: str | None = None  # the last message built, as JSON text


@dataclass(frozen=True, slots=True)
class MetricsEvent:
    nodes: dict[str, NodeStats] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodeErrorEvent:
    """A node failed on a frame (or could not start: ``fatal``); the message says what to do."""

    node_id: str
    message: str
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class NodeWarningEvent:
    node_id: str
    message: str


EngineEvent = StatusEvent | SourceFrameEvent | FrameEvent | MetricsEvent | NodeErrorEvent | NodeWarningEvent
