"""A small shell around the Deployments page, as the window gives it one."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget


class StandInShell(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[str] = []
        self.lines: list[str] = []
        self.actions_added: dict[str, QAction] = {}

    def widget(self) -> QWidget:
        return self

    def add_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        self.addDockWidget(area, dock)

    def add_action(self, text, slot, shortcut=None, icon_name=None, tip="", *, menu=None, toolbar=False):
        action = QAction(text, self)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions_added[text] = action
        return action

    def add_status_widget(self, widget: QWidget) -> None:
        pass

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.statuses.append(text)

    def log(self, text: str) -> None:
        self.lines.append(text)

    def reveal_problems(self) -> None:
        pass

    def maybe_save(self) -> bool:
        return True

    def open_skill(self, skill, path=None) -> None:
        pass
