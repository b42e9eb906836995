"""The designer as people drive it: real key and mouse events to the focused widget, through the
window's shortcut map (issue 19: undo keys, label chips, links, keyboard placement and moves)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QFileDialog, QMenu, QMessageBox, QWidget

from designer.core.skill import Settings, Skill, get_spec, save_skill
from designer.core.skill.build import add_node, auto_layout, chain
from designer.ui.document import pending_recoveries
from designer.ui.forms.fields import LabelsEditor
from designer.ui.window import MainWindow


@pytest.fixture
def window(open_window, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: pytest.fail(f"error dialog: {a[2]}"))
    monkeypatch.setattr("designer.ui.dialogs.grpc.edit_grpc_node", lambda *a, **k: None)
    win = open_window()
    return win


def _settle(qtbot, win: MainWindow) -> None:
    skill = win.canvas.skill()
    qtbot.waitUntil(lambda: win.canvas.skill() is skill, timeout=3000)
    qtbot.wait(150)


def _focus_canvas(qtbot, win: MainWindow) -> QWidget:
    view = win.canvas.graph.viewer()
    win.activateWindow()
    view.setFocus(Qt.FocusReason.MouseFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is view, timeout=3000)
    return view


def _keys(widget: QWidget, key: Qt.Key, modifiers=Qt.KeyboardModifier.NoModifier) -> None:
    """A key pressed on the focused widget: QTest goes through the shortcut map first."""
    QTest.keyClick(widget, key, modifiers)


def _view_point(win: MainWindow, scene: QPointF) -> QPoint:
    return win.canvas.graph.viewer().mapFromScene(scene)


def _node_ids(win: MainWindow) -> list[str]:
    return [n.id for n in win.canvas.skill().nodes]


def _links(win: MainWindow) -> set[tuple[str, str]]:
    return {(e.source.node, e.target.node) for e in win.canvas.skill().edges}


def _open_chain(qtbot, win: MainWindow, tmp_path: Path, *types: str, spread: float = 1.0) -> list[str]:
    skill = Skill(settings=Settings(name="Driven"))
    nodes = [add_node(skill, t) for t in types]
    chain(skill, *(n.id for n in nodes))
    skill = auto_layout(skill)
    for pos in skill.layout.nodes.values():
        pos.y *= spread
    path = tmp_path / "driven.skill.json"
    save_skill(skill, path)
    assert win.open_file(path)
    qtbot.waitUntil(lambda: not win.canvas.is_loading(), timeout=10000)
    _settle(qtbot, win)
    return [n.id for n in nodes]


# -- 1: undo and redo keys on the canvas -----------------------------------------------------------


def test_ctrl_z_and_ctrl_shift_z_undo_and_redo_while_the_canvas_has_focus(qtbot, window):
    before = _node_ids(window)
    window.canvas.add_node("tracker@1")
    _settle(qtbot, window)
    view = _focus_canvas(qtbot, window)
    assert len(_node_ids(window)) == len(before) + 1
    _keys(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    assert _node_ids(window) == before
    _keys(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    _settle(qtbot, window)
    assert len(_node_ids(window)) == len(before) + 1


def test_a_click_after_ctrl_z_selects_the_node_it_lands_on(qtbot, window):
    """NodeGraphQt reads Ctrl from key events: after the Ctrl+Z shortcut it thought Ctrl was still
    down, and a plain click deselected instead of selecting."""
    view = _focus_canvas(qtbot, window)
    window.canvas.add_node("tracker@1")
    _settle(qtbot, window)
    _keys(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    node = window.canvas.node(window.canvas.skill().nodes[0].id)
    x, y = window.canvas.graph.position(node)
    QTest.mouseClick(
        view.viewport(), Qt.MouseButton.LeftButton, pos=_view_point(window, QPointF(x + 60, y + 20))
    )
    qtbot.waitUntil(lambda: window.canvas.selected_ids() == [node.node_id()], timeout=2000)


# -- 2: Delete in the Filter's label list ------------------------------------------------------------


def test_delete_on_a_selected_label_removes_the_label_not_the_filter_node(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1", "insights-log@1")
    filter_id = ids[1]
    window.canvas.select_node(filter_id)
    editor = window.properties.form.editors["labels"]
    assert isinstance(editor, LabelsEditor)
    editor.entry.setFocus()
    for label in ("person", "car"):
        QTest.keyClicks(editor.entry, label)
        _keys(editor.entry, Qt.Key.Key_Return)
    _settle(qtbot, window)
    assert window.canvas.skill().node(filter_id).params["labels"] == ["person", "car"]
    for key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
        editor.list.setFocus()
        qtbot.waitUntil(lambda: QApplication.focusWidget() is editor.list, timeout=2000)
        editor.list.setCurrentRow(0)
        _keys(QApplication.focusWidget(), key)
        _settle(qtbot, window)
        assert filter_id in _node_ids(window), f"{key.name} deleted the node"
        assert len(_links(window)) == 2
    assert window.canvas.skill().node(filter_id).params["labels"] == []


def test_delete_and_copy_keys_belong_to_the_focused_text_field(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1", "insights-log@1")
    window.canvas.select_node(ids[1])
    name = window.properties.form.name_edit
    name.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is name, timeout=2000)
    name.setText("Keep people")
    name.setCursorPosition(0)
    _keys(name, Qt.Key.Key_Delete)
    assert name.text() == "eep people" and ids[1] in _node_ids(window)


# -- 4: links can be picked, deleted and have a menu ---------------------------------------------------


def test_a_clicked_link_is_selected_and_delete_removes_it_with_undo(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1", "insights-log@1", spread=2.0)
    link = (ids[0], "out", ids[1], "in")
    view = _focus_canvas(qtbot, window)
    middle = window.canvas.graph.link_midpoint(link)
    QTest.mouseMove(view.viewport(), _view_point(window, middle))
    assert view.viewport().cursor().shape() == Qt.CursorShape.PointingHandCursor
    QTest.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=_view_point(window, middle))
    assert window.canvas.graph.selected_links() == [link]
    _keys(QApplication.focusWidget(), Qt.Key.Key_Delete)
    _settle(qtbot, window)
    assert _links(window) == {(ids[1], ids[2])}
    assert _node_ids(window) == ids
    _keys(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    assert _links(window) == {(ids[0], ids[1]), (ids[1], ids[2])}


def test_a_rubber_band_over_a_link_then_delete_removes_it(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1", "insights-log@1", spread=3.0)
    view = _focus_canvas(qtbot, window)
    middle = window.canvas.graph.link_midpoint((ids[1], "out", ids[2], "in"))
    start = _view_point(window, middle) + QPoint(-80, -15)
    end = _view_point(window, middle) + QPoint(80, 15)
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 6):
        QTest.mouseMove(view.viewport(), start + (end - start) * step / 5)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    assert window.canvas.graph.selected_links() == [(ids[1], "out", ids[2], "in")]
    _keys(QApplication.focusWidget(), Qt.Key.Key_Backspace)
    _settle(qtbot, window)
    assert _links(window) == {(ids[0], ids[1])} and _node_ids(window) == ids


def test_a_links_menu_deletes_it_or_inserts_a_node_into_it(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "model@1", "insights-log@1", spread=2.0)
    link = (ids[1], "out", ids[2], "in")
    view = _focus_canvas(qtbot, window)
    at = _view_point(window, window.canvas.graph.link_midpoint(link))
    QTest.mouseMove(view.viewport(), at)
    QTest.mouseClick(view.viewport(), Qt.MouseButton.RightButton, pos=at)  # press + release, then:
    QApplication.sendEvent(  # what the platform sends after a right click (QTest does not)
        view.viewport(),
        QContextMenuEvent(QContextMenuEvent.Reason.Mouse, at, view.viewport().mapToGlobal(at)),
    )
    menu = window.canvas.menu
    assert isinstance(menu, QMenu) and menu.isVisible()
    texts = [a.text() for a in menu.actions()]
    assert texts[:2] == ["Delete link", "Insert node"]
    insert = menu.actions()[1].menu()
    titles = [a.text() for a in insert.actions()]
    assert get_spec("filter@1").title in titles and get_spec("camera@1").title not in titles
    next(a for a in insert.actions() if a.text() == get_spec("filter@1").title).trigger()
    menu.close()
    _settle(qtbot, window)
    added = next(n.id for n in window.canvas.skill().nodes if n.id not in ids)
    assert _links(window) == {(ids[0], ids[1]), (ids[1], added), (added, ids[2])}
    assert window.properties.form is not None and window.properties.form.node_id == added
    view = _focus_canvas(qtbot, window)
    _keys(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    assert _links(window) == {(ids[0], ids[1]), (ids[1], ids[2])} and sorted(_node_ids(window)) == sorted(ids)


def test_dragging_a_links_source_end_to_another_node_moves_the_link(qtbot, window, tmp_path):
    """Re-targeting: the link's old end is dropped before the rules judge the new one (else the
    target would seem to get a second input and the move be refused)."""
    skill = Skill(settings=Settings(name="Two cameras"))
    first = add_node(skill, "camera@1")
    second = add_node(skill, "camera@1")
    log = add_node(skill, "insights-log@1")
    chain(skill, first.id, log.id)
    skill = auto_layout(skill)
    skill.layout.nodes[second.id].x = skill.layout.nodes[first.id].x + 400
    skill.layout.nodes[second.id].y = skill.layout.nodes[first.id].y
    skill.layout.nodes[log.id].y = skill.layout.nodes[first.id].y + 300
    path = tmp_path / "two.skill.json"
    save_skill(skill, path)
    assert window.open_file(path)
    qtbot.waitUntil(lambda: not window.canvas.is_loading(), timeout=10000)
    _settle(qtbot, window)
    graph, view = window.canvas.graph, _focus_canvas(qtbot, window)
    graph.fit(graph.all_nodes())
    qtbot.wait(50)
    grab = graph.port_position(window.canvas.node(first.id), "out", output=True) + QPointF(0, 24)
    drop = graph.port_position(window.canvas.node(second.id), "out", output=True)
    start, end = _view_point(window, grab), _view_point(window, drop)
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, pos=start)
    for step in range(1, 11):
        QTest.mouseMove(view.viewport(), start + (end - start) * step / 10)
    QTest.mouseRelease(view.viewport(), Qt.MouseButton.LeftButton, pos=end)
    _settle(qtbot, window)
    assert _links(window) == {(second.id, log.id)}
    _keys(QApplication.focusWidget(), Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    assert _links(window) == {(first.id, log.id)}


# -- 3: Save As of a new skill leaves no recovery copy behind ---------------------------------------


def test_save_as_of_a_new_skill_then_quit_leaves_nothing_to_restore(qtbot, window, tmp_path, monkeypatch):
    window._autosave.setInterval(10)
    window.canvas.add_node("tracker@1")
    _settle(qtbot, window)
    untitled = window.document.recovery_file()
    qtbot.waitUntil(untitled.exists, timeout=5000)
    target = tmp_path / "mine.skill.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    view = _focus_canvas(qtbot, window)
    _keys(view, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)  # untitled: Save asks where
    assert target.exists() and not window.isWindowModified()
    assert window.close()
    assert not untitled.exists()
    assert pending_recoveries() == []


# -- 20: the keyboard moves the selection, nudges nodes and links them -------------------------------


def test_arrow_keys_move_the_selection_and_shift_arrows_nudge(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1", "insights-log@1")
    view = _focus_canvas(qtbot, window)
    _keys(view, Qt.Key.Key_Down)  # nothing selected: the first node
    assert window.canvas.selected_ids() == [ids[0]]
    _keys(view, Qt.Key.Key_Down)
    assert window.canvas.selected_ids() == [ids[1]]
    assert window.properties.form.node_id == ids[1]
    _keys(view, Qt.Key.Key_Up)
    assert window.canvas.selected_ids() == [ids[0]]
    before = window.canvas.skill().layout.nodes[ids[0]]
    _keys(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    _keys(view, Qt.Key.Key_Right, Qt.KeyboardModifier.ShiftModifier)
    _settle(qtbot, window)
    after = window.canvas.skill().layout.nodes[ids[0]]
    assert (after.x - before.x, after.y - before.y) == (20.0, 0.0)
    _keys(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    assert window.canvas.skill().layout.nodes[ids[0]].x == before.x + 10


def test_connect_to_from_the_keyboard_links_the_selected_node(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1")
    view = _focus_canvas(qtbot, window)
    _keys(view, Qt.Key.Key_Tab)
    popup = window.quick_add
    qtbot.waitUntil(popup.isVisible, timeout=2000)
    QTest.keyClicks(QApplication.focusWidget(), "insights log")
    _keys(QApplication.focusWidget(), Qt.Key.Key_Return)
    _settle(qtbot, window)
    log = next(n.id for n in window.canvas.skill().nodes if n.id not in ids)
    window.canvas.select_node(ids[1])
    view = _focus_canvas(qtbot, window)
    if (ids[1], log) in _links(window):  # quick add linked it from the selection: undo that
        _keys(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        _settle(qtbot, window)
        window.canvas.select_node(ids[1])
    _keys(view, Qt.Key.Key_K, Qt.KeyboardModifier.ControlModifier)
    menu = window.canvas.menu
    assert isinstance(menu, QMenu) and menu.isVisible()
    assert [a.text() for a in menu.actions()] == [f"{get_spec('insights-log@1').title}  ({log})"]
    _keys(menu, Qt.Key.Key_Return)
    _settle(qtbot, window)
    assert (ids[1], log) in _links(window)


# -- 10, 11: added nodes are selected, shown and placed where meant ----------------------------------


def test_palette_enter_adds_below_the_selected_node_linked_and_shown_in_properties(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "model@1")
    window.canvas.select_node(ids[1])
    search = window.node_palette.search
    search.setFocus()
    QTest.keyClicks(search, "filter")
    _keys(search, Qt.Key.Key_Return)
    _settle(qtbot, window)
    added = next(n.id for n in window.canvas.skill().nodes if n.id not in ids)
    assert (ids[1], added) in _links(window)
    assert window.canvas.selected_ids() == [added]
    assert window.properties.form is not None and window.properties.form.node_id == added
    layout = window.canvas.skill().layout.nodes
    assert layout[added].y > layout[ids[1]].y
    # a second one, nothing selected: never on top of another node
    window.canvas.graph.clear_selection()
    _keys(search, Qt.Key.Key_Return)
    _keys(search, Qt.Key.Key_Return)
    _settle(qtbot, window)
    spots = [(p.x, p.y) for p in window.canvas.skill().layout.nodes.values()]
    for i, (x, y) in enumerate(spots):
        for ox, oy in spots[i + 1 :]:
            assert abs(x - ox) >= 230 or abs(y - oy) >= 64, "two nodes overlap"


def test_duplicate_selects_the_copies_and_properties_follow(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1")
    window.canvas.select_node(ids[1])
    view = _focus_canvas(qtbot, window)
    _keys(view, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    _settle(qtbot, window)
    copy = next(n.id for n in window.canvas.skill().nodes if n.id not in ids)
    assert window.canvas.selected_ids() == [copy]
    assert window.properties.form.node_id == copy


def test_opening_another_skill_clears_properties_and_insights(qtbot, window, tmp_path):
    first = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1")
    window.canvas.select_node(first[1])
    assert window.properties.form is not None
    window.preview.insights.add([])  # the dock's model; an old run's messages stand in below
    window.preview.insights.model._all.append(object())
    other = tmp_path / "other"
    other.mkdir()
    _open_chain(qtbot, window, other, "camera@1", "insights-log@1")
    assert window.properties.form is None
    assert len(window.preview.insights.model._all) == 0


def test_tab_adds_the_node_where_the_mouse_is(qtbot, window, tmp_path):
    ids = _open_chain(qtbot, window, tmp_path, "camera@1", "filter@1")
    view = _focus_canvas(qtbot, window)
    window.canvas.graph.clear_selection()
    corner = QPoint(view.viewport().width() - 140, view.viewport().height() - 60)  # empty canvas
    spot = view.mapToScene(corner)
    QTest.mouseMove(view.viewport(), corner)
    _keys(view, Qt.Key.Key_Tab)
    qtbot.waitUntil(window.quick_add.isVisible, timeout=2000)
    QTest.keyClicks(QApplication.focusWidget(), "tracker")
    _keys(QApplication.focusWidget(), Qt.Key.Key_Return)
    _settle(qtbot, window)
    added = next(n.id for n in window.canvas.skill().nodes if n.id not in ids)
    where = window.canvas.skill().layout.nodes[added]
    assert abs(where.x + 115 - spot.x()) < 40 and abs(where.y + 32 - spot.y()) < 40
    assert window.properties.form.node_id == added


def test_a_dropped_node_is_selected_and_shown_in_properties(qtbot, window):
    from PySide6.QtGui import QDropEvent

    palette = window.node_palette.nodes
    mime = palette.mimeData([palette._items["tracker@1"]])
    view = window.canvas.graph.viewer()
    at = QPointF(view.viewport().rect().center()) + QPointF(150, 0)
    view.dropEvent(
        QDropEvent(
            at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        )
    )
    _settle(qtbot, window)
    added = window.canvas.selected_ids()
    assert len(added) == 1 and window.properties.form.node_id == added[0]


def test_f5_and_shift_f5_leave_an_unedited_skill_unmodified(qtbot, window, monkeypatch, tmp_path):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: pytest.fail(f"asked: {a[2]}"))
    monkeypatch.chdir(tmp_path)  # the preview's Insights Log writes its file here
    view = _focus_canvas(qtbot, window)
    assert not window.isWindowModified()
    _keys(view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.session.running, timeout=20000)
    qtbot.wait(1500)
    _keys(QApplication.focusWidget() or view, Qt.Key.Key_F5, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: not window.session.running, timeout=20000)
    qtbot.wait(500)
    assert not window.isWindowModified()
    assert window.close()  # and Quit does not ask
