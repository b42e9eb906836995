"""Export says what a user must fix in plain sight: warnings in the message itself (not behind
"Show Details…"), and a gRPC endpoint on 127.0.0.1, which on the device is the device itself,
in the dialog and on the command line (issue 19, item 21)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog, QMessageBox

from designer.core.skill import Settings, Skill, save_skill
from designer.core.skill.build import add_node, chain
from designer.ui.window import MainWindow

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def loopback_skill(tmp_path) -> Path:
    skill = Skill(settings=Settings(name="Loopback"))
    camera = add_node(skill, "camera@1", "camera", source=str(ROOT / "resources/video/vtest.avi")).id
    server = add_node(skill, "grpc-endpoint@1", "counter", endpoint_url="127.0.0.1:6677").id
    log = add_node(skill, "insights-log@1", "log").id
    chain(skill, camera, server, log)
    path = tmp_path / "loopback.skill.json"
    save_skill(skill, path)
    return path


def test_the_export_dialog_shows_the_loopback_warning_in_its_text(
    qtbot, tmp_path, monkeypatch, loopback_skill
):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    window = MainWindow(restore_state=False)
    qtbot.addWidget(window)
    window.show()
    window.open_file(loopback_skill, ask=False)
    qtbot.waitUntil(lambda: not window.canvas.is_loading() and window.document.path is not None)
    target = tmp_path / "loopback.zip"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    shown = []
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.text(), box.detailedText())))
    action = next(a for a in window.menu("&File").actions() if "Export package" in a.text().replace("&", ""))
    action.trigger()
    qtbot.waitUntil(lambda: bool(shown), timeout=60_000)
    text, details = shown[0]
    assert "127.0.0.1:6677" in text and "device itself" in text
    assert "127.0.0.1" not in details  # not hidden behind Show Details


def test_the_cli_warns_about_the_loopback_endpoint(tmp_path, loopback_skill):
    out = subprocess.run(
        [sys.executable, "-m", "designer.cli", "export", str(loopback_skill), "-o", str(tmp_path / "p.zip")],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert (
        "warning: node 'counter' endpoint_url is 127.0.0.1:6677: on the device this is the device itself"
        in (out.stderr)
    )
