"""The preview inside the real main window: F5 on a fresh start shows boxed people on the clip."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from preview_helpers import engine_threads, shown_people, summary_label
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from designer.ui.window import DEFAULT_SKILL, MainWindow

pytestmark = pytest.mark.timeout(90)
SHOTS = os.environ.get("PREVIEW_SHOTS")


@pytest.fixture
def window(qtbot, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    discard = QMessageBox.StandardButton.Discard  # a sample opens unsaved: closing asks to save it
    monkeypatch.setattr(QMessageBox, "exec", lambda self: discard)
    monkeypatch.setattr(QMessageBox, "warning", lambda *args, **kwargs: discard)
    win = MainWindow(restore_state=False)
    qtbot.addWidget(win)
    win.open_sample(DEFAULT_SKILL)  # what a fresh start opens (the last file may be any test's)
    win.resize(1440, 900)
    win.show()
    yield win
    if win.preview is not None:
        win.preview.shutdown()


def node_status(win: MainWindow, node_id: str) -> tuple[str, str]:
    view = win.canvas.graph.find(node_id).view
    return view.status_text, view.status_state


def test_f5_in_the_main_window_previews_the_default_skill_and_shift_f5_stops(window, qtbot, tmp_path):
    preview = window.preview
    assert preview is not None
    assert preview.run_action in window.menu("&Run").actions()
    assert preview.run_action in window.toolbar.actions()
    qtbot.keyClick(window, Qt.Key.Key_F5)
    shown_people(window, qtbot, at_least=2)
    qtbot.waitUntil(lambda: "fps" in node_status(window, "detector")[0], timeout=10000)
    assert node_status(window, "detector")[1] == "running"
    qtbot.waitUntil(lambda: node_status(window, "log")[1] == "running", timeout=10000)
    assert "fps" in summary_label(window).text()
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        window.grab().save(str(Path(SHOTS) / "main-window.png"), "PNG")
    qtbot.keyClick(window, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    assert not preview.running
    qtbot.waitUntil(lambda: not engine_threads(), timeout=5000)
    assert node_status(window, "detector") == ("", "idle")


def test_closing_the_main_window_while_previewing_stops_the_engine(window, qtbot):
    window.preview.run_action.trigger()
    shown_people(window, qtbot)
    window.close()
    assert not engine_threads()


def test_opening_another_skill_stops_the_preview_instead_of_running_it(window, qtbot):
    from preview_helpers import SAMPLES

    window.preview.run_action.trigger()
    shown_people(window, qtbot)
    window.open_sample(SAMPLES / "count-crossings.skill.json")
    qtbot.waitUntil(lambda: not window.preview.running, timeout=5000)
    qtbot.waitUntil(lambda: not engine_threads(), timeout=5000)
    assert window.preview.run_action.isEnabled()
