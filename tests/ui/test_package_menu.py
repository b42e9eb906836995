"""File > Export package… and Import package… from the designer, through the core packager."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.core.package import verify_package
from designer.ui.window import MainWindow


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win = MainWindow(restore_state=False)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitUntil(lambda: not win.canvas.is_loading())
    return win


def _action(window, text):
    return next(a for a in window.menu("&File").actions() if text in a.text().replace("&", ""))


def test_export_then_import_a_package_through_the_menu(qtbot, window, tmp_path, monkeypatch):
    target = tmp_path / "people.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    summaries = []
    monkeypatch.setattr(QMessageBox, "exec", lambda self: summaries.append(self.text()))
    _action(window, "Export package").trigger()
    qtbot.waitUntil(lambda: bool(summaries), timeout=60000)
    assert str(target) in summaries[0]
    verify_package(target)  # checksums and manifest hold
    assert "Exported package" in window.output.toPlainText()

    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    _action(window, "Import package").trigger()
    opened = lambda: window.document.path is not None and not window.canvas.is_loading()  # noqa: E731
    qtbot.waitUntil(opened, timeout=60000)
    skill = window.canvas.skill()
    assert {n.type for n in skill.nodes} == {"camera@1", "model@1", "filter@1", "insights-log@1"}
    assert "Package imported" in window.statusBar().currentMessage()


def test_exporting_a_skill_with_errors_is_refused_with_the_reason(qtbot, window, tmp_path, monkeypatch):
    window.canvas.add_node("filter@1")  # a filter with no input: an error
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(tmp_path / "bad.zip"), ""))
    errors = []
    monkeypatch.setattr(QMessageBox, "critical", lambda *a, **k: errors.append(a[2]))
    _action(window, "Export package").trigger()
    qtbot.waitUntil(lambda: bool(errors), timeout=60000)
    assert "filter-1" in errors[0]
    assert not (tmp_path / "bad.zip").exists()
