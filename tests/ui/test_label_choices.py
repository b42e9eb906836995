"""The Filter's labels offer the upstream model's labels (issue 19, item 6): completion in the
entry, a "Pick…" list, and a warning under the field for a label no model upstream has."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from designer.core.models.library import BUNDLED_ID
from designer.core.skill import Settings, Skill, save_skill
from designer.core.skill.build import add_node, auto_layout, chain
from designer.ui.forms.fields import LabelsEditor
from designer.ui.window import MainWindow


@pytest.fixture
def window(open_window, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win = open_window()
    return win


def _open(qtbot, win: MainWindow, tmp_path: Path, model: dict) -> str:
    skill = Skill(settings=Settings(name="Labels"))
    camera, detector, keep, log = (
        add_node(skill, t) for t in ("camera@1", "model@1", "filter@1", "insights-log@1")
    )
    detector.params.update(model)
    keep.params["labels"] = ["person"]
    chain(skill, camera.id, detector.id, keep.id, log.id)
    path = tmp_path / "labels.skill.json"
    save_skill(auto_layout(skill), path)
    win.session.library()  # validation uses the library once it is open
    assert win.open_file(path)
    qtbot.waitUntil(lambda: not win.canvas.is_loading(), timeout=10000)
    win.canvas.select_node(keep.id)
    qtbot.waitUntil(lambda: win.properties.form is not None and win.properties.form.node_id == keep.id)
    return keep.id


def _labels(win: MainWindow) -> LabelsEditor:
    editor = win.properties.form.editors["labels"]
    assert isinstance(editor, LabelsEditor)
    return editor


def test_labels_complete_and_pick_from_the_upstream_model(qtbot, window, tmp_path):
    node_id = _open(qtbot, window, tmp_path, {"model_id": BUNDLED_ID, "model_path": ""})
    editor = _labels(window)
    qtbot.waitUntil(lambda: editor.choices() is not None, timeout=10000)
    assert "person" in editor.choices() and "car" in editor.choices() and editor.pick.isEnabled()
    window.activateWindow()
    editor.entry.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.entry, timeout=3000)
    QTest.keyClicks(editor.entry, "bicy")
    popup = editor.completer.popup()
    qtbot.waitUntil(popup.isVisible, timeout=3000)
    QTest.keyClick(popup, Qt.Key.Key_Down)
    QTest.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.canvas.skill().node(node_id).params["labels"] == ["person", "bicycle"])
    qtbot.waitUntil(lambda: editor.entry.text() == "", timeout=2000)
    # Pick…: the model's labels, those kept ticked; choosing one adds it
    menu = editor.pick.menu()
    assert isinstance(menu, QMenu)
    shown = []

    def choose() -> None:
        actions = {a.text(): a for a in menu.actions()}
        shown.append({name for name, a in actions.items() if a.isChecked()})
        menu.setActiveAction(actions["car"])
        QTest.keyClick(menu, Qt.Key.Key_Return)

    menu.aboutToShow.connect(lambda: QTimer.singleShot(0, choose))  # once it is open
    QTest.mouseClick(editor.pick, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "car" in window.canvas.skill().node(node_id).params["labels"], timeout=3000)
    assert shown == [{"person", "bicycle"}]
    # a label no model upstream has: kept, and warned about under the field
    QTest.keyClicks(editor.entry, "Persn")
    QTest.keyClick(editor.entry, Qt.Key.Key_Return)
    message = window.properties.form.messages["labels"]
    qtbot.waitUntil(lambda: message.isVisible() and "did you mean 'person'" in message.text(), timeout=5000)
    assert window.canvas.skill().node(node_id).params["labels"] == ["person", "bicycle", "car", "Persn"]


def test_without_known_labels_the_picker_says_why(qtbot, window, tmp_path):
    _open(qtbot, window, tmp_path, {"model_id": "", "model_path": "/nowhere/model.onnx"})
    editor = _labels(window)
    qtbot.wait(300)
    assert editor.choices() is None and not editor.pick.isEnabled()
    assert "not known" in editor.pick.toolTip()
