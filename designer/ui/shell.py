"""What a part of the designer may ask of the window that holds it: the shell.

Parts (preview, package actions, library page...) take a ``Session`` (what is open) and a
``Shell`` (where to put things); the main window implements the shell, and tests give parts a
small stand-in. Nothing else of the window is theirs to touch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QWidget

from designer.core.skill import Skill

#: A shortcut as add_action takes it: a key sequence, a standard key, text such as "Ctrl+E", or several.
Shortcut = QKeySequence | QKeySequence.StandardKey | Qt.Key | str | Sequence[QKeySequence]


@runtime_checkable
class Shell(Protocol):
    def widget(self) -> QWidget:
        """The window: parent of the part's dialogs and workers."""
        ...

    def add_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        """Place a dock (and list it in the View menu)."""
        ...

    def add_action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: Shortcut | None = None,
        icon_name: str | None = None,
        tip: str = "",
        *,
        menu: str | None = None,
        toolbar: bool = False,
    ) -> QAction:
        """A window-wide action, put into ``menu`` (its parts' section) and/or the toolbar."""
        ...

    def add_status_widget(self, widget: QWidget) -> None:
        """A permanent widget on the right of the status bar."""
        ...

    def show_status(self, text: str, timeout_ms: int = 5000) -> None: ...

    def log(self, text: str) -> None:
        """A line in the output dock."""
        ...

    def reveal_problems(self) -> None:
        """Bring the problems list to the front."""
        ...

    def maybe_save(self) -> bool:
        """Ask about unsaved changes; True when the open skill may be replaced."""
        ...

    def open_skill(self, skill: Skill, path: Path | None = None) -> None:
        """Replace the open skill (after ``maybe_save``); ``path`` is its file, None for unsaved."""
        ...
