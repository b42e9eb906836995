"""A stand-in window: a real Session and a small Shell, with a canvas stand-in wired to the
session as MainWindow wires the real canvas; and helpers.

The preview tests run against it and, where the real MainWindow exists, against that too.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QToolBar, QWidget

from designer.core.engine.executor import ENGINE_THREAD_PREFIXES
from designer.core.skill import Skill, load_skill
from designer.ui.document import Document
from designer.ui.preview import install_preview
from designer.ui.session import Session
from designer.ui.shell import Shortcut

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
DEFAULT_SKILL = SAMPLES / "default.skill.json"
CLIP = ROOT / "resources" / "video" / "vtest.avi"


class StandInCanvas(QObject):
    skill_changed = Signal(object)

    def __init__(self, skill: Skill) -> None:
        super().__init__()
        self._skill = skill
        self.statuses: dict[str, tuple[str, str]] = {}
        self.history: list[tuple[str, str, str]] = []
        self.selected: list[str] = []

    def skill(self) -> Skill:
        return self._skill

    def edit(self, skill: Skill) -> None:
        """What an edit on the real canvas does: new state, then the (debounced) signal."""
        self._skill = skill
        self.skill_changed.emit(skill)

    def set_node_status(self, node_id: str, text: str, state: str = "idle") -> None:
        self.statuses[node_id] = (text, state)
        self.history.append((node_id, text, state))

    def clear_node_status(self) -> None:
        self.statuses = {node_id: ("", "idle") for node_id in self.statuses}

    def select_node(self, node_id: str) -> None:
        self.selected.append(node_id)


class StandInWindow(QMainWindow):
    """A Shell (toolbar, menus, docks, status, log) around a Session fed by a stand-in canvas."""

    def __init__(self, skill: Skill, path: Path | None) -> None:
        super().__init__()
        self.canvas = StandInCanvas(skill)
        self.session = Session(validate=False, parent=self)
        self.session.set_document(Document(path))
        self.session.read_skill_with(self.canvas.skill)
        self.canvas.skill_changed.connect(self.session.set_skill)
        self.session.node_status_changed.connect(self.canvas.set_node_status)
        self.session.node_statuses_cleared.connect(self.canvas.clear_node_status)
        self.session.focus_requested.connect(lambda node_id, _param: self.canvas.select_node(node_id))
        self.toolbar = QToolBar("Main", self)
        self.addToolBar(self.toolbar)
        self.setCentralWidget(QWidget(self))
        self.menus: dict[str, QMenu] = {}
        self.messages: list[str] = []
        self.docks: list[QDockWidget] = []
        self.status_widgets: list[QWidget] = []
        self.problems_revealed = 0
        self.logged: list[str] = []
        self.preview = None

    @property
    def document(self) -> Document:
        return self.session.document

    def widget(self) -> QWidget:
        return self

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
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        if menu is not None:
            self.menu(menu).addAction(action)
        if toolbar:
            self.toolbar.addAction(action)
        return action

    def menu(self, title: str) -> QMenu:
        if title not in self.menus:
            self.menus[title] = self.menuBar().addMenu(title)
        return self.menus[title]

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.messages.append(text)
        self.statusBar().showMessage(text, timeout_ms)

    def add_status_widget(self, widget: QWidget) -> None:
        self.status_widgets.append(widget)
        self.statusBar().addPermanentWidget(widget)

    def add_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        self.docks.append(dock)
        self.addDockWidget(area, dock)

    def reveal_problems(self) -> None:
        self.problems_revealed += 1

    def log(self, text: str) -> None:
        self.logged.append(text)

    def maybe_save(self) -> bool:
        return True

    def open_skill(self, skill: Skill, path: Path | None = None) -> None:
        self.set_skill(skill, path)

    def set_skill(self, skill: Skill, path: Path | None = None) -> None:
        """Open another document, as MainWindow does: the document first, then its skill."""
        self.session.set_document(Document(path))
        self.canvas.edit(skill)

    def closeEvent(self, event) -> None:
        if self.preview is not None:
            self.preview.shutdown()
        super().closeEvent(event)


def pixels(image) -> np.ndarray:
    """A QImage as an H x W x 3 BGR array."""
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format.Format_BGR888)
    array = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return array[:, : image.width() * 3].reshape(image.height(), image.width(), 3)


def default_skill() -> Skill:
    return load_skill(DEFAULT_SKILL)


def engine_threads() -> list[str]:
    return [
        t.name for t in threading.enumerate() if t.is_alive() and t.name.startswith(ENGINE_THREAD_PREFIXES)
    ]


def summary_label(window) -> QLabel:
    return window.findChild(QLabel, "preview-summary")


@pytest.fixture(name="make_window")
def make_window_fixture(qtbot, tmp_path, monkeypatch):
    """A stand-in main window with the preview installed; the working directory is a temp folder."""
    monkeypatch.chdir(tmp_path)
    made = []

    def make(skill: Skill | None = None, path: Path | None = DEFAULT_SKILL) -> StandInWindow:
        window = StandInWindow(skill or default_skill(), path)
        qtbot.addWidget(window)
        window.preview = install_preview(window.session, window, probe_webcams=False)
        window.resize(1200, 800)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        window.preview.shutdown()


def shown_people(window, qtbot, at_least: int = 1):
    """Wait until the video shows results with people, and return (result frame, shown image)."""
    dock = window.preview.dock
    found = {}

    def people_on_screen() -> bool:
        frame = dock._last
        if frame is None or dock.video.image() is None:
            return False
        result = frame.results.get(dock.current_branch())
        people = [o for o in (result.objects if result else []) if o.label == "person"]
        found["result"] = result
        return len(people) >= at_least

    qtbot.waitUntil(people_on_screen, timeout=30000)
    return found["result"], dock.video.image()
