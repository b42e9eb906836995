"""The POSS tutorial skill built as a new user would: drops from the palette, links, forms, save, undo."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.core.skill import Settings, Skill, dump_skill
from designer.ui.window import MainWindow

MODELS = Path(__file__).parents[2] / "resources" / "models"


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win = MainWindow(restore_state=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: not win.canvas.is_loading())
    win.set_skill(Skill(settings=Settings(name="Vehicle colours at the gate")))
    qtbot.waitUntil(lambda: not win.canvas.is_loading())
    return win


def _drop(window: MainWindow, type_id: str, at: QPoint) -> str:
    """Drag a node type out of the palette and release it on the canvas."""
    palette = window.node_palette.nodes
    mime = palette.mimeData([palette._items[type_id]])
    event = QDropEvent(
        QPointF(at), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.canvas.graph.viewer().dropEvent(event)
    return window.canvas.skill().nodes[-1].id


def _edit(window: MainWindow, node_id: str, **values) -> None:
    """Change fields in the node's property form, as typing and clicking would."""
    window.canvas.select_node(node_id)
    form = window.properties.form
    for name, value in values.items():
        editor = form.editors[name]
        if hasattr(editor, "line"):
            editor.line.setText(str(value))
            editor.line.editingFinished.emit()
        elif hasattr(editor, "spin"):
            editor.spin.setValue(value)
        elif hasattr(editor, "entry"):
            for label in value:
                editor.entry.setText(label)
                editor.entry.returnPressed.emit()
        else:
            editor.set_value(value)
            editor.edited.emit()


def test_build_the_tutorial_skill_by_drag_and_drop_save_reopen_and_undo_to_empty(
    qtbot, window, tmp_path, monkeypatch
):
    camera = _drop(window, "camera@1", QPoint(300, 60))
    detector = _drop(window, "model@1", QPoint(300, 180))
    colour = _drop(window, "model@1", QPoint(300, 300))
    keep = _drop(window, "filter@1", QPoint(300, 420))
    hub = _drop(window, "iothub@1", QPoint(300, 540))
    canvas = window.canvas
    for a, b in ((camera, detector), (detector, colour), (colour, keep), (keep, hub)):
        assert canvas.connect_nodes(a, b)

    _edit(window, camera, source="$param(rtsp)")
    _edit(
        window,
        detector,
        model_path=str(MODELS / "yolov3-tiny-coco.onnx"),
        labels_path=str(MODELS / "yolov3-tiny-coco.labels.txt"),
        confidence_threshold=30,
    )
    _edit(
        window,
        colour,
        model_path=str(MODELS / "color-classifier.onnx"),
        labels_path=str(MODELS / "color-classifier.labels.txt"),
    )
    _edit(window, keep, labels=["person", "car"], confidence_threshold=40)
    _edit(window, hub, delay_buffer_s=30.0)
    canvas.rename_node(keep, "People and cars")

    qtbot.waitUntil(lambda: window.session.validation_round > 0)
    qtbot.waitUntil(
        lambda: "No problems" in window.problem_count.text() or "0 error" in window.problem_count.text(),
        timeout=30000,
    )
    skill = canvas.skill()
    assert [n.type for n in skill.nodes] == ["camera@1", "model@1", "model@1", "filter@1", "iothub@1"]
    assert skill.node(keep).params["labels"] == ["person", "car"]

    # every step undoes, back to the empty canvas, and redoes to the same skill
    stack = canvas.undo_stack()
    while stack.canUndo():
        stack.undo()
    assert canvas.skill().nodes == [] and canvas.skill().edges == []
    while stack.canRedo():
        stack.redo()
    assert dump_skill(canvas.skill()) == dump_skill(skill)

    target = tmp_path / "tutorial.skill.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    assert window.save()
    saved = dump_skill(skill)
    assert window.open_file(target)
    qtbot.waitUntil(lambda: not canvas.is_loading())
    assert dump_skill(canvas.skill()) == saved
    assert target.read_text() == saved
