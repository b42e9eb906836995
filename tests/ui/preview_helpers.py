"""A stand-in main window offering exactly what the preview uses of MainWindow, and helpers.

The preview tests run against it and, where the real MainWindow exists, against that too.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import QDockWidget, QLabel, QMainWindow, QMenu, QToolBar, QWidget

from designer.core.engine.executor import ENGINE_THREAD_PREFIXES
from designer.core.skill import Skill, load_skill
from designer.ui.preview import install_preview

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


class StandInDocument:
    def __init__(self, path: Path | None) -> None:
        self.path = path

    def skill_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()


class StandInWindow(QMainWindow):
    """The MainWindow contract of the preview (canvas, document, toolbar, menus, docks, status)."""

    def __init__(self, skill: Skill, path: Path | None) -> None:
        super().__init__()
        self.canvas = StandInCanvas(skill)
        self.document = StandInDocument(path)
        self.toolbar = QToolBar("Main", self)
        self.addToolBar(self.toolbar)
        self.setCentralWidget(QWidget(self))
        self.menus: dict[str, QMenu] = {}
        self.messages: list[str] = []
        self.docks: list[QDockWidget] = []
        self.status_widgets: list[QWidget] = []
        self.problems_revealed = 0
        self._library = None
        self.preview = None

    def menu(self, title: str) -> QMenu:
        if title not in self.menus:
            self.menus[title] = self.menuBar().addMenu(title)
        return self.menus[title]

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.messages.append(text)
        self.statusBar().showMessage(text, timeout_ms)

    def status_widgets_area(self, widget: QWidget) -> None:
        self.status_widgets.append(widget)
        self.statusBar().addPermanentWidget(widget)

    def add_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        self.docks.append(dock)
        self.addDockWidget(area, dock)

    def reveal_problems(self) -> None:
        self.problems_revealed += 1

    def library(self):
        if self._library is None:
            from designer.commands.common import model_library

            self._library = model_library()
        return self._library

    def set_skill(self, skill: Skill, path: Path | None = None) -> None:
        self.canvas.edit(skill)
        self.document.path = path

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
        install_preview(window, probe_webcams=False)
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
