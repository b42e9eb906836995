"""What every node runtime implements, and what it may use from the running skill."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from designer.core.engine.frame import Frame
from designer.core.skill.catalog import Params

if TYPE_CHECKING:
    from designer.core.skill import Skill


class NodeError(Exception):
    """A node that cannot work; the message names the node and says what to do."""

    def __init__(self, node_id: str, message: str) -> None:
        self.node_id = node_id
        self.message = message
        super().__init__(f"node {node_id}: {message}")


@dataclass
class RunContext:
    """The running skill, as nodes see it."""

    skill_dir: Path = field(default_factory=Path.cwd)
    output_dir: Path = field(default_factory=Path.cwd)
    acceleration: str = "CPU"
    skill_id: str = ""
    instance_id: str = ""
    device_id: str = ""
    models: Any = None  # the model library (``resolve(id)``), when one is available
    lossless: bool = False  # every frame is processed (a file at full speed): favour throughput
    warn: Callable[[str, str], None] = lambda node_id, message: None
    error: Callable[[str, str], None] = lambda node_id, message: None  # a node's error event, off-frame
    dry_run: bool = False  # exports build, count and keep their last message, and send nothing
    # Nodes that write their local file in a dry run too (the preview's Insights Log: it sends
    # nothing anywhere, and the file is what people look at).
    writes_when_dry: frozenset[str] = frozenset()
    stopping: threading.Event = field(default_factory=threading.Event)  # set when the run is stopped
    # A deployment's run: model sessions shared by all its skills (a SessionPool), the lane
    # (camera) this skill's inferences queue in, and tags put on every frame's other_meta.
    sessions: Any = None
    lane: str = ""
    frame_tags: dict[str, str] = field(default_factory=dict)

    def resolve_path(self, path: str) -> Path:
        """Files a skill reads (models, labels, clips) are found next to the skill file."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.skill_dir / candidate

    def resolve_output(self, path: str) -> Path:
        """Files a skill writes (logs, clips) go to the output folder, the working one by default."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.output_dir / candidate

    @classmethod
    def local(cls, skill: Skill, skill_dir: Path, models: Any = None, **options: Any) -> RunContext:
        """A run on this machine, as the headless runner and the designer's preview both start
        one: files read next to the skill, written to the working directory, named after this host."""
        return cls(
            skill_dir=skill_dir,
            output_dir=Path.cwd(),
            acceleration=skill.settings.acceleration,
            skill_id=skill.settings.name,
            instance_id="local",
            device_id=socket.gethostname(),
            models=models,
            **options,
        )


P = TypeVar("P", bound=Params)


class NodeRuntime(Generic[P]):
    """One node of a running skill, generic over its node type's parameter model.

    ``open`` does the slow work (load a model, connect), always on a worker
    thread. ``process`` takes a frame and returns it (changed or not) for the
    nodes downstream, or None to stop it there; exports return None. The engine
    hands a runtime the parameters of the node type that names it (``NodeSpec.runtime``
    and ``NodeSpec.params`` are declared together in the catalog).
    """

    concurrency: int = 1
    """Frames the engine may hand to ``process`` at once (then it must be thread-safe);
    results still leave the node in frame order."""

    def __init__(self, node_id: str, params: P, context: RunContext) -> None:
        self.node_id = node_id
        self.params: P = params
        self.context = context

    def open(self) -> None:
        """Acquire resources; raise NodeError with an actionable message on failure."""

    def process(self, frame: Frame) -> Frame | None:
        raise NotImplementedError

    def update(self, params: P) -> bool:
        """Take new parameters while running; False when the node must be reopened for them."""
        self.params = params
        return True

    def close(self) -> None:
        """Release resources; must be safe to call twice and after a failed open."""

    def fail(self, message: str) -> NodeError:
        return NodeError(self.node_id, message)
