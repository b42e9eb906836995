"""The deployment being edited: one immutable ``Deployment``, replaced whole on every edit.

Every replacement is an undo step on the draft's own ``QUndoStack`` (so Ctrl+Z on the page
never undoes a canvas edit), and the stack's clean state is "saved". Skill paths are kept
absolute while editing and written relative to the deployment file when saved, so moving the
file with its skills keeps it working.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from designer.core.deployment import Deployment, load_deployment, save_deployment


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

    def reset(self, deployment: Deployment, path: Path | None) -> None:
        """Start over on ``deployment`` (read from ``path``, or new): no undo history, saved."""
        self.path = path
        self.undo_stack.clear()
        self._set(_absolute(deployment, self.base_dir))
        self.undo_stack.setClean()

    def open(self, path: Path) -> None:
        """Read ``path`` (DeploymentFileError naming file and field when it cannot be used)."""
        self.reset(load_deployment(path), path.resolve())

    def save(self, path: Path) -> None:
        """Write atomically (skills relative to the file); the draft is saved from now."""
        path = path.resolve()
        save_deployment(_relative(self.deployment, path.parent), path)
        self.path = path
        self.undo_stack.setClean()
        self.changed.emit()


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
