"""The preview dock at a narrow width: "Send for real" stays in view and clickable (it was behind
a tool bar overflow that did nothing), and a long "Cannot preview" reason wraps (issue 19, items
16 and 22)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor

from designer.ui.preview.panel import PreviewDock


def test_send_for_real_is_in_view_and_clicks_at_a_narrow_width(qtbot):
    dock = PreviewDock(probe_webcams=False)
    qtbot.addWidget(dock)
    dock.resize(360, 300)
    dock.show()
    qtbot.waitExposed(dock)
    box = dock.send_box
    assert box.isVisible()
    inside = box.mapTo(dock, QPoint(0, 0))
    assert 0 <= inside.x() and inside.x() + box.width() <= dock.width()
    with qtbot.waitSignal(dock.send_for_real_changed) as sent:
        qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert sent.args == [True] and box.isChecked()


def test_a_long_cannot_preview_reason_wraps_inside_the_picture(qtbot):
    dock = PreviewDock(probe_webcams=False)
    qtbot.addWidget(dock)
    dock.resize(360, 300)
    dock.show()
    qtbot.waitExposed(dock)
    reason = "Cannot preview:\n" + "the camera rtsp://10.0.0.7/stream did not open within 10 s " * 3
    dock.stopped(reason)
    image = dock.video.grab().toImage()
    lit_rows = [
        y
        for y in range(image.height())
        if any(QColor(image.pixel(x, y)).lightness() > 120 for x in range(0, image.width(), 2))
    ]
    assert lit_rows, "no text drawn"
    # wrapped onto several lines: the text spans more than three lines' height
    assert lit_rows[-1] - lit_rows[0] > 3 * dock.video.fontMetrics().height()
    lit_columns = [
        x for x in range(image.width()) if any(QColor(image.pixel(x, y)).lightness() > 120 for y in lit_rows)
    ]
    assert lit_columns[0] > 0 and lit_columns[-1] < image.width() - 1  # not cut at the edges


def test_no_tool_bar_item_hides_behind_an_overflow_at_the_default_width(qtbot):
    """The "››" overflow's menu cannot show a check box or a combo box: clicking it did nothing.
    At the dock's default width nothing overflows, and Overlay and the branch click in place."""
    from PySide6.QtWidgets import QToolBar, QToolButton

    from designer.ui.window import RIGHT_DOCK_WIDTH

    dock = PreviewDock(probe_webcams=False)
    qtbot.addWidget(dock)
    dock.set_branches(["log", "web"], {})
    dock.resize(RIGHT_DOCK_WIDTH - 40, 300)  # narrower than the default, to be safe
    dock.show()
    qtbot.waitExposed(dock)
    bar = dock.findChild(QToolBar)
    overflow = bar.findChild(QToolButton, "qt_toolbar_ext_button")
    assert overflow is None or not overflow.isVisible()
    for widget in (dock.overlay_box, dock.branch, dock.send_box, dock.picker):
        assert widget.isVisible(), widget
        left = widget.mapTo(dock, QPoint(0, 0)).x()
        assert 0 <= left and left + widget.width() <= dock.width(), widget
    qtbot.mouseClick(
        dock.overlay_box, Qt.MouseButton.LeftButton, pos=QPoint(8, dock.overlay_box.height() // 2)
    )
    assert not dock.overlay_box.isChecked()
    dock.branch.setFocus()
    qtbot.keyClick(dock.branch, Qt.Key.Key_Down)
    assert dock.current_branch() == "web"
