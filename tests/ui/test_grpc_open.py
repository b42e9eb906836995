"""The gRPC node's dialog as people meet it (issue 19, item 18): not at the drop, but on
double-click or Enter; a compact Endpoint dialog; fields that stay put while typing."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from designer.ui.dialogs.grpc import CONTAINER, ENDPOINT, GrpcNodeDialog


@pytest.fixture
def window(open_window, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    opened: list[str] = []
    monkeypatch.setattr("designer.ui.dialogs.grpc.edit_grpc_node", lambda *a, **k: opened.append(a[1]))
    win = open_window()
    win.opened = opened
    return win


def _focus(qtbot, widget) -> None:
    widget.window().activateWindow()
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=3000)


def test_adding_a_grpc_node_shows_a_hint_and_enter_or_double_click_opens_its_dialog(qtbot, window):
    search = window.node_palette.search
    _focus(qtbot, search)
    QTest.keyClicks(search, "endpoint")
    QTest.keyClick(search, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: len(window.canvas.selected_ids()) == 1, timeout=3000)
    node_id = window.canvas.selected_ids()[0]
    assert window.canvas.skill().node(node_id).type == "grpc-endpoint@1"
    qtbot.wait(100)
    assert window.opened == []  # no modal dialog in the way
    assert "press Enter" in window.statusBar().currentMessage()
    view = window.canvas.graph.viewer()
    _focus(qtbot, view)
    QTest.keyClick(view, Qt.Key.Key_Return)
    assert window.opened == ["grpc-endpoint@1"]
    # double-click does the same
    item = window.canvas._node(node_id).view
    centre = view.mapFromScene(item.sceneBoundingRect().center())
    QTest.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    assert window.opened == ["grpc-endpoint@1", "grpc-endpoint@1"]


def test_the_endpoint_dialog_is_compact_and_the_container_one_roomy(qtbot):
    dialog = GrpcNodeDialog(ENDPOINT, {"endpoint_url": "127.0.0.1:6677"})
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    compact = dialog.height()
    assert compact < 360, compact
    combo = dialog.type_combo
    _focus(qtbot, combo)
    QTest.keyClick(combo, Qt.Key.Key_Up)  # Container comes first, as in POSS
    assert dialog.node_type() == CONTAINER
    assert dialog.height() >= 600
    QTest.keyClick(combo, Qt.Key.Key_Down)
    assert dialog.node_type() == ENDPOINT and dialog.height() == compact


def test_fields_do_not_move_while_a_message_comes_and_goes(qtbot):
    dialog = GrpcNodeDialog(CONTAINER, {"container_name": "counter", "port": 6677, "container_image": "x:1"})
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    line = dialog.container_name
    below = dialog.container_image

    def where() -> int:
        return below.mapTo(dialog, below.rect().topLeft()).y()

    start = where()
    _focus(qtbot, line)
    line.end(False)
    seen = set()
    for text in ("-", "X", "!" * 3):  # invalid: a message of two lines replaces the help
        QTest.keyClicks(line, text)
        seen.add(bool(dialog.container_rows["container_name"].error))
        assert where() == start, text
    for _ in range(5):
        QTest.keyClick(line, Qt.Key.Key_Backspace)
        assert where() == start
    assert seen == {True} and not dialog.container_rows["container_name"].error
    line.selectAll()
    QTest.keyClick(line, Qt.Key.Key_Delete)  # empty: "Required."
    assert dialog.container_rows["container_name"].error == "Required." and where() == start
