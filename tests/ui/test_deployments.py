"""The Deployments page: cameras and skills through the UI, a real drop, save/reopen, a real run."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QFileDialog, QMainWindow, QWidget

from designer.core.deployment import load_deployment
from designer.ui.deployments import DeploymentsPage, install_deployments
from designer.ui.session import Session

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SKILL = ROOT / "resources" / "samples" / "default.skill.json"


class StandInShell(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.statuses: list[str] = []
        self.lines: list[str] = []

    def widget(self) -> QWidget:
        return self

    def add_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        self.addDockWidget(area, dock)

    def add_action(self, text, slot, shortcut=None, icon_name=None, tip="", *, menu=None, toolbar=False):
        raise AssertionError("the page adds no actions")

    def add_status_widget(self, widget: QWidget) -> None:
        pass

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.statuses.append(text)

    def log(self, text: str) -> None:
        self.lines.append(text)

    def reveal_problems(self) -> None:
        pass

    def maybe_save(self) -> bool:
        return True

    def open_skill(self, skill, path=None) -> None:
        pass


def write_video(path: Path, colour: tuple[int, int, int], frames: int = 40) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 15, (160, 120))
    for index in range(frames):
        image = np.zeros((120, 160, 3), np.uint8)
        image[:] = colour
        cv2.rectangle(image, (index * 3 % 140, 40), (index * 3 % 140 + 20, 60), (255, 255, 255), -1)
        writer.write(image)
    writer.release()
    return path


def minimal_skill(path: Path) -> Path:
    """A camera, a filter, and a log of the frames in a file named by ``$param(site)``."""
    data = json.loads(DEFAULT_SKILL.read_text())
    data["nodes"] = [n for n in data["nodes"] if n["id"] != "detector"]
    next(n for n in data["nodes"] if n["id"] == "log")["params"]["path"] = "$param(site).jsonl"
    data["edges"] = [
        {"source": {"node": a, "port": "out"}, "target": {"node": b, "port": "in"}}
        for a, b in (("camera", "people"), ("people", "log"))
    ]
    del data["layout"]["nodes"]["detector"]
    data["settings"]["name"] = "Log frames"
    path.write_text(json.dumps(data, indent=2))
    return path


@pytest.fixture
def page(qtbot):
    shell = StandInShell()
    qtbot.addWidget(shell)
    page = install_deployments(Session(validate=False), shell)
    shell.resize(1400, 900)
    shell.show()
    page.parentWidget().show()
    yield page
    page.shutdown()


def set_camera(qtbot, page: DeploymentsPage, name: str, source: str, fps: int) -> None:
    page.name_edit.selectAll()
    QTest.keyClicks(page.name_edit, name)
    QTest.keyClick(page.name_edit, Qt.Key.Key_Return)
    page.source_edit.selectAll()
    QTest.keyClicks(page.source_edit, source)
    QTest.keyClick(page.source_edit, Qt.Key.Key_Return)
    page.fps_spin.selectAll()
    QTest.keyClicks(page.fps_spin, str(fps))
    QTest.keyClick(page.fps_spin, Qt.Key.Key_Return)


def drop_files(page: DeploymentsPage, row: int, paths: list[Path]) -> None:
    view = page.camera_list
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    at = QPointF(view.visualItemRect(view.item(row)).center())
    enter = QDragEnterEvent(
        at.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(view.viewport(), drop)
    assert drop.isAccepted()


def build_two_cameras(qtbot, page, tmp_path, monkeypatch) -> tuple[Path, Path]:
    red = write_video(tmp_path / "red.avi", (0, 0, 255))
    blue = write_video(tmp_path / "blue.avi", (255, 0, 0))
    skill = minimal_skill(tmp_path / "log.skill.json")
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    set_camera(qtbot, page, "Gate", str(red), 10)
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    set_camera(qtbot, page, "Yard", str(blue), 12)
    assert [c.name for c in page.cameras] == ["Gate", "Yard"]
    page.camera_list.setCurrentRow(0)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", lambda *a, **k: ([str(skill)], ""))
    QTest.mouseClick(page.add_skill_button, Qt.MouseButton.LeftButton)
    drop_files(page, 1, [skill])  # from the file manager onto Yard
    assert [Path(r.skill).name for r in page.cameras[1].skills] == ["log.skill.json"]
    return skill, blue


def set_value(qtbot, page: DeploymentsPage, row: int, name: str, value: str) -> None:
    page.camera_list.setCurrentRow(row)
    table = page.params_table
    line = next(i for i in range(table.rowCount()) if table.item(i, 1).text() == name)
    table.item(line, 2).setText(value)


def test_cameras_skills_and_values_round_trip_through_a_file(qtbot, page, tmp_path, monkeypatch):
    build_two_cameras(qtbot, page, tmp_path, monkeypatch)
    page.camera_list.setCurrentRow(0)
    assert page.fps_spin.value() == 10
    set_value(qtbot, page, 0, "site", "gate-log")
    drop_files(page, 0, [DEFAULT_SKILL])
    set_value(qtbot, page, 1, "site", "yard-log")
    target = tmp_path / "sub" / "lot.deploy.json"
    target.parent.mkdir()
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target.with_name("lot")), ""))
    QTest.mouseClick(page.save_as_button, Qt.MouseButton.LeftButton)
    assert target.is_file()
    saved = load_deployment(target)
    gate = saved.cameras[0]
    assert (gate.name, gate.fps, saved.cameras[1].fps) == ("Gate", 10, 12)
    assert {r.skill: r.params for r in gate.skills}["../log.skill.json"] == {"site": "gate-log"}
    assert any(r.skill.endswith("samples/default.skill.json") for r in gate.skills)
    assert saved.cameras[1].skills[0].params == {"site": "yard-log"}

    again = install_deployments(Session(validate=False), page.shell)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    QTest.mouseClick(again.open_button, Qt.MouseButton.LeftButton)

    def entries(cameras):
        return [(c.name, c.source, c.fps, {r.skill: r.params for r in c.skills}) for c in cameras]

    assert entries(again.cameras) == entries(page.cameras)
    again.camera_list.setCurrentRow(1)
    assert again.params_table.item(0, 2).text() == "yard-log"
    qtbot.waitUntil(lambda: bool(again.problems) or again.problem_list.count() > 0, timeout=30000)
    # removing the skill from the camera and saving writes it back
    again.skill_list.setCurrentRow(0)
    QTest.mouseClick(again.remove_skill_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(again.save_button, Qt.MouseButton.LeftButton)
    assert load_deployment(target).cameras[1].skills == []


def test_a_bad_file_is_refused_naming_file_and_field(qtbot, page, tmp_path, monkeypatch):
    bad = tmp_path / "bad.deploy.json"
    bad.write_text(
        json.dumps(
            {
                "format": "skill-designer/deployment",
                "format_version": 1,
                "name": "x",
                "cameras": [{"name": "a", "source": "0", "fsp": 3}],
            }
        )
    )
    errors = []
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "critical", lambda *a: errors.append(a[2]))
    assert not page.open_file(bad)
    assert str(bad) in errors[0] and "cameras[0].fsp" in errors[0]


def test_problems_are_shown(qtbot, page, tmp_path):
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    set_camera(qtbot, page, "Gate", str(tmp_path / "missing.avi"), 5)
    qtbot.waitUntil(lambda: any("not found" in p.message for p in page.problems), timeout=30000)
    texts = [page.problem_list.item(i).text() for i in range(page.problem_list.count())]
    assert any("missing.avi" in t for t in texts)


def test_test_button_reports_frames_and_size(qtbot, page, tmp_path):
    video = write_video(tmp_path / "red.avi", (0, 0, 255))
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    set_camera(qtbot, page, "Gate", str(video), 5)
    QTest.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "frames" in page.test_label.text() or "cannot" in page.test_label.text())
    assert "5 frames, 160x120" in page.test_label.text()
    set_camera(qtbot, page, "Gate", str(tmp_path / "nope.avi"), 5)
    QTest.mouseClick(page.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cannot open" in page.test_label.text(), timeout=20000)


def test_run_shows_the_picked_camera_and_stop_stops(qtbot, page, tmp_path, monkeypatch):
    build_two_cameras(qtbot, page, tmp_path, monkeypatch)
    set_value(qtbot, page, 0, "site", "gate")
    set_value(qtbot, page, 1, "site", "yard")
    page.camera_picker.setCurrentText("Yard")
    QTest.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.video.image() is not None, timeout=30000)

    def colour() -> np.ndarray:
        image = page.video.image()
        assert image is not None
        return np.array([image.pixelColor(5, 5).red(), image.pixelColor(5, 5).blue()])

    qtbot.waitUntil(lambda: colour()[1] > 200 and colour()[0] < 60)  # Yard is blue
    page.camera_picker.setCurrentText("Gate")
    qtbot.waitUntil(lambda: page.video.image() is not None and colour()[0] > 200 and colour()[1] < 60)
    qtbot.waitUntil(
        lambda: "Gate:" in page.rates_label.text() and "Yard:" in page.rates_label.text(), timeout=5000
    )
    run = page.run
    assert run is not None and len(run.pairs) == 2
    stopped = []
    page.run_state_changed.connect(stopped.append)
    QTest.mouseClick(page.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: stopped == [False], timeout=20000)
    assert page.run is None and page.run_button.isEnabled()
    assert all(p.engine.wait(0) for p in run.pairs)
    assert (run.output_dir / "Gate" / "Log-frames" / "gate.jsonl").is_file()
