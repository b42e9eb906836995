"""The deployment being edited: one immutable ``Deployment``, replaced whole on every edit.

Every replacement is an undo step on the draft's own ``QUndoStack`` (so Ctrl+Z on the page
never undoes a canvas edit), and the stack's clean state is "saved". Skill paths are kept
absolute while editing and written relative to the deployment file when saved, so moving the
file with its skills keeps it working.

While it has unsaved changes a recovery copy is kept (``<recovery>/deployment-<session>.deploy.json``
and an ``.origin`` note naming its file), written off the GUI thread and removed once the draft
is saved, replaced or closed; ``find_deployment_recoveries`` lists what a crash left.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.core.deployment import (
    DEPLOYMENT_SUFFIX,
    Deployment,
    dump_deployment,
    load_deployment,
    save_deployment,
)
from designer.core.paths import PRIVATE_FILE_MODE, private_dir
from designer.core.skill.files import write_atomic
from designer.ui.document import recovery_dir

RECOVERY_PREFIX = "deployment-"


class _Replace(QUndoCommand):
    def __init__(self, draft: DeploymentDraft, before: Deployment, after: Deployment, text: str) -> None:
        super().__init__(text)
        self.draft, self.before, self.after = draft, before, after

    def redo(self) -> None:
        self.draft._set(self.after)

    def undo(self) -> None:
        self.draft._set(self.before)


class DeploymentDraft(QObject):
    changed = Signal()  # the deployment, its path or its saved state changed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.deployment = Deployment(name="Deployment")
        self.path: Path | None = None
        self.undo_stack = QUndoStack(self)
        self.undo_stack.cleanChanged.connect(self._clean_changed)
        self.recovery_file = recovery_dir() / f"{RECOVERY_PREFIX}{uuid.uuid4().hex[:12]}{DEPLOYMENT_SUFFIX}"
        # An autosave runs on a worker: one begun before a save, reset or close must not write
        # its copy after it. Each of those starts a new generation; older autosaves are dropped.
        self._lock = threading.Lock()
        self._generation = 0

    def _clean_changed(self, _clean: bool) -> None:
        self.changed.emit()  # the title's "modified" mark

    @property
    def base_dir(self) -> Path:
        """Where relative video files and skills are found: next to the file, else here."""
        return self.path.parent if self.path is not None else Path.cwd()

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def edit(self, deployment: Deployment, text: str) -> None:
        """Replace the deployment as one undo step named ``text`` (nothing when nothing changed)."""
        if deployment != self.deployment:
            self.undo_stack.push(_Replace(self, self.deployment, deployment, text))

    def _set(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.changed.emit()

    def reset(self, deployment: Deployment, path: Path | None, *, saved: bool = True) -> None:
        """Start over on ``deployment`` (read from ``path``, or new): no undo history; ``saved``
        False for work that is nowhere on disk yet (a restored recovery copy)."""
        self.discard_recovery()
        self.path = path
        self.undo_stack.clear()
        self._set(_absolute(deployment, self.base_dir))
        self.undo_stack.setClean()
        if not saved:
            self.undo_stack.resetClean()

    def open(self, path: Path) -> None:
        """Read ``path`` (DeploymentFileError naming file and field when it cannot be used)."""
        self.reset(load_deployment(path), path.resolve())

    def save(self, path: Path) -> None:
        """Write atomically (skills relative to the file); the draft is saved from now."""
        path = path.resolve()
        save_deployment(_relative(self.deployment, path.parent), path)
        self.path = path
        self.discard_recovery()
        self.undo_stack.setClean()
        self.changed.emit()

    # --- recovery ---------------------------------------------------------------------------

    def autosave_job(self) -> Callable[[], None] | None:
        """What writes the recovery copy now (run it on a worker); None when nothing is unsaved."""
        if not self.modified:
            return None
        with self._lock:
            generation = self._generation
        text, origin = dump_deployment(self.deployment), str(self.path or "")

        def write() -> None:
            with self._lock:
                if generation != self._generation:
                    return  # saved or closed meanwhile: the copy would be stale
                private_dir(self.recovery_file.parent)  # copies may hold a password: owner only
                write_atomic(self.recovery_file.with_suffix(".origin"), origin, mode=PRIVATE_FILE_MODE)
                write_atomic(self.recovery_file, text, mode=PRIVATE_FILE_MODE)

        return write

    def discard_recovery(self) -> None:
        with self._lock:
            self._generation += 1
            DeploymentRecovery(self.recovery_file, None).discard()


@dataclass
class DeploymentRecovery:
    """A deployment's recovery copy left by a session that did not close cleanly."""

    file: Path
    original: Path | None

    def load(self) -> Deployment:
        return load_deployment(self.file)

    def discard(self) -> None:
        for path in (self.file, self.file.with_suffix(".origin")):
            if path.is_symlink() or path.is_file():
                path.unlink(missing_ok=True)


def find_deployment_recoveries() -> list[DeploymentRecovery]:
    """The deployments' recovery copies on disk, newest first, each with the file it came from."""
    folder = recovery_dir()
    try:
        files = [f for f in folder.glob(f"{RECOVERY_PREFIX}*{DEPLOYMENT_SUFFIX}") if f.is_file()]
        files.sort(key=lambda f: f.stat().st_mtime, reverse=True)
    except OSError:
        return []
    found = []
    for file in files:
        try:
            origin = file.with_suffix(".origin").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            origin = ""
        found.append(DeploymentRecovery(file, Path(origin) if origin else None))
    return found


def _with_skills(deployment: Deployment, move: Callable[[str], str]) -> Deployment:
    cameras = [
        c.model_copy(update={"skills": [r.model_copy(update={"skill": move(r.skill)}) for r in c.skills]})
        for c in deployment.cameras
    ]
    return deployment.model_copy(update={"cameras": cameras})


def _absolute(deployment: Deployment, folder: Path) -> Deployment:
    return _with_skills(deployment, lambda skill: str((folder / skill).expanduser().resolve()))


def _relative(deployment: Deployment, folder: Path) -> Deployment:
    def move(skill: str) -> str:
        try:
            return Path(os.path.relpath(skill, folder)).as_posix()
        except ValueError:  # another drive: stays absolute
            return skill

    return _with_skills(deployment, move)
