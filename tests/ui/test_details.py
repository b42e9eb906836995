"""Small things people meet while driving the designer (issue 19, item 22), with real events."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QLineEdit, QMessageBox

from designer.core.skill import Settings, Skill, save_skill
from designer.core.skill.build import add_node, auto_layout, chain
from designer.ui.canvas.graph import SkillNode
from designer.ui.window import MainWindow


@pytest.fixture
def window(open_window, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: pytest.fail(f"error dialog: {a[2]}"))
    monkeypatch.setattr("designer.ui.dialogs.grpc.edit_grpc_node", lambda *a, **k: None)
    win = open_window()
    return win


def _open(qtbot, win: MainWindow, tmp_path: Path, *types: str, params=None) -> list[str]:
    skill = Skill(settings=Settings(name="Details"))
    nodes = [add_node(skill, t) for t in types]
    for node in nodes:
        node.params.update((params or {}).get(node.type, {}))
    chain(skill, *(n.id for n in nodes))
    skill = auto_layout(skill)
    path = tmp_path / "details.skill.json"
    save_skill(skill, path)
    assert win.open_file(path)
    qtbot.waitUntil(lambda: not win.canvas.is_loading(), timeout=10000)
    qtbot.wait(150)
    return [n.id for n in nodes]


def _select(qtbot, win: MainWindow, node_id: str) -> None:
    win.canvas.select_node(node_id)
    qtbot.waitUntil(lambda: win.properties.form is not None and win.properties.form.node_id == node_id)


def _type(qtbot, widget, text: str) -> None:
    widget.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget or not widget.window().isActiveWindow())
    QTest.keyClicks(widget, text)


def test_the_container_form_names_each_field_once_and_an_empty_name_is_required(qtbot, window, tmp_path):
    ids = _open(qtbot, window, tmp_path, "camera@1", "grpc-container@1", "insights-log@1")
    _select(qtbot, window, ids[1])
    form = window.properties.form
    labels = [label.text() for label in form.findChildren(QLabel)]
    assert [text for text in labels if text in ("Name", "<b>Name</b>")] == ["Name"]  # the node's own
    assert "<b>Container name</b>" in labels
    line = form.editors["container_name"].findChild(QLineEdit)
    line.setFocus()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClick(line, Qt.Key.Key_Tab)
    qtbot.waitUntil(lambda: form.messages["container_name"].isVisible(), timeout=3000)
    shown = form.messages["container_name"].text()
    assert "Required." in shown and "not a valid" not in shown
    _type(qtbot, line, "Counter")  # a wrong name keeps its reason, without the title
    QTest.keyClick(line, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "not a valid container name" in form.messages["container_name"].text())
    assert "Container name:" not in form.messages["container_name"].text()
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)
    QTest.keyClick(line, Qt.Key.Key_Return)
    problems = window.problems

    def texts() -> list[str]:
        return [problems.topLevelItem(i).text(0) for i in range(problems.topLevelItemCount())]

    qtbot.waitUntil(lambda: "Container name is required." in texts(), timeout=5000)
    assert not any("not a valid container name" in text for text in texts())


def test_problem_messages_start_with_a_capital(qtbot, window, tmp_path):
    ids = _open(qtbot, window, tmp_path, "camera@1", "model@1", "insights-log@1", params={"model@1": {}})
    window.canvas.set_node_params(ids[1], {"model_id": "", "model_path": ""})
    problems = window.problems

    def texts() -> list[str]:
        return [problems.topLevelItem(i).text(0) for i in range(problems.topLevelItemCount())]

    qtbot.waitUntil(lambda: any("from the library" in text for text in texts()), timeout=5000)
    texts = texts()
    assert texts and all(text[:1] == text[:1].upper() for text in texts), texts
    _select(qtbot, window, ids[1])
    message = window.properties.form.messages["model_id"].text()
    assert "Choose a model from the library" in message


def test_the_model_node_shows_its_model_on_the_canvas(qtbot, window, tmp_path):
    from designer.core.models.library import BUNDLED_ID

    model = {"model@1": {"model_id": BUNDLED_ID}}
    ids = _open(qtbot, window, tmp_path, "camera@1", "model@1", "insights-log@1", params=model)
    node = window.canvas._node(ids[1])
    assert isinstance(node, SkillNode)
    model_id = window.canvas.skill().node(ids[1]).params.get("model_id")
    assert model_id and node.view.detail == model_id
    window.canvas.set_node_params(ids[1], {"model_id": "", "model_path": "/models/mine.onnx"})
    qtbot.waitUntil(lambda: node.view.detail == "mine.onnx", timeout=3000)
    view = window.canvas.graph.viewer()
    view.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view or not window.isActiveWindow())
    QTest.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: node.view.detail == model_id, timeout=3000)
    assert window.canvas._node(ids[0]).view.detail == ""  # a camera runs no model


def test_links_are_drawn_over_node_bodies_and_a_press_on_a_body_is_still_the_node(qtbot, window, tmp_path):
    ids = _open(qtbot, window, tmp_path, "camera@1", "filter@1", "insights-log@1")
    graph = window.canvas.graph
    pipes = [p for p in graph.viewer().all_pipes()]
    nodes = [window.canvas._node(i).view for i in ids]
    assert pipes and all(p.zValue() > n.zValue() for p in pipes for n in nodes)
    nodes[1].setSelected(True)  # a selected node is raised: links stay above it
    assert all(p.zValue() > nodes[1].zValue() for p in pipes)
    # a link crossing a node: a press there is the node's, not the link's
    body = nodes[1].sceneBoundingRect().center()
    assert graph.viewer().pipe_at(QPointF(body)) is None


def test_the_palette_says_when_no_node_matches(qtbot, window):
    search = window.node_palette.search
    _type(qtbot, search, "zzzq")
    hint = window.node_palette.no_matches
    qtbot.waitUntil(hint.isVisible, timeout=2000)
    assert "zzzq" in hint.text()
    search.selectAll()
    QTest.keyClick(search, Qt.Key.Key_Backspace)
    QTest.keyClicks(search, "cam")
    assert not hint.isVisible() and window.node_palette.nodes.visible_types()


def test_the_wizard_hides_the_model_label_with_its_field(qtbot):
    from designer.ui.dialogs.new_skill import BasicsPage

    page = BasicsPage(None)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitExposed(page)
    label = page._start.labelForField(page.model_row)
    combo: QComboBox = page.template
    combo.setFocus()
    seen = set()
    for index in range(combo.count()):
        if index:
            QTest.keyClick(combo, Qt.Key.Key_Down)
        assert combo.currentIndex() == index
        assert label.isVisible() == page.model_row.isVisible(), combo.currentText()
        seen.add(page.model_row.isVisible())
    assert seen == {True, False}  # some templates have a model, some do not
