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
from PySide6.QtWidgets import QApplication, QFileDialog

from designer.core.deployment import load_deployment
from designer.ui.deployments import DeploymentsPage, install_deployments
from designer.ui.session import Session

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SKILL = ROOT / "resources" / "samples" / "default.skill.json"


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
def page(deployments_page):
    return deployments_page


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
    page.live.camera_picker.setCurrentText("Yard")
    QTest.mouseClick(page.live.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.live.video.image() is not None, timeout=30000)

    def colour() -> np.ndarray:
        image = page.live.video.image()
        assert image is not None
        return np.array([image.pixelColor(5, 5).red(), image.pixelColor(5, 5).blue()])

    qtbot.waitUntil(lambda: colour()[1] > 200 and colour()[0] < 60)  # Yard is blue
    page.live.camera_picker.setCurrentText("Gate")
    qtbot.waitUntil(lambda: page.live.video.image() is not None and colour()[0] > 200 and colour()[1] < 60)
    qtbot.waitUntil(
        lambda: "Gate:" in page.live.rates_label.text() and "Yard:" in page.live.rates_label.text(),
        timeout=5000,
    )
    run = page.live.run
    assert run is not None and len(run.pairs) == 2
    stopped = []
    page.live.run_state_changed.connect(stopped.append)
    QTest.mouseClick(page.live.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: stopped == [False], timeout=20000)
    assert page.live.run is None and page.live.run_button.isEnabled()
    assert all(p.engine.wait(0) for p in run.pairs)
    assert (run.output_dir / "Gate" / "Log-frames" / "gate.jsonl").is_file()


def type_into(edit, text: str) -> None:
    edit.selectAll()
    QTest.keyClicks(edit, text)
    QTest.keyClick(edit, Qt.Key.Key_Return)


def test_device_credentials_and_loop_are_saved_and_every_edit_undoes(qtbot, page, tmp_path, monkeypatch):
    type_into(page.deployment_name_edit, "Lot")
    type_into(page.device_edit, "edge-7")
    page.acceleration_box.setCurrentText("Nvidia dGPU")
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    set_camera(qtbot, page, "Gate", "rtsp://$param(host)/1", 8)
    type_into(page.username_edit, "viewer")
    type_into(page.password_edit, "$param(gate_password)")
    page.loop_box.setChecked(False)
    assert "Lot</b> *" in page.title.text()
    target = tmp_path / "lot.deploy.json"
    assert page.save_to(target)
    assert "*" not in page.title.text()
    saved = load_deployment(target)
    assert (saved.name, saved.device.name, saved.device.acceleration) == ("Lot", "edge-7", "Nvidia dGPU")
    gate = saved.cameras[0]
    assert (gate.source, gate.username, gate.password, gate.fps, gate.loop) == (
        "rtsp://$param(host)/1",
        "viewer",
        "$param(gate_password)",
        8,
        False,
    )
    # opened again, nothing is lost on the way through the page
    again = install_deployments(Session(validate=False), page.shell)
    assert again.open_file(target)
    assert again.deployment == page.deployment
    assert again.acceleration_box.currentText() == "Nvidia dGPU" and not again.loop_box.isChecked()

    # keys on the page: undo, redo, delete; a text field keeps its own undo
    page.camera_list.setFocus()
    QTest.keyClick(page.camera_list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert page.cameras[0].loop and page.loop_box.isChecked()
    assert "*" in page.title.text()
    QTest.keyClick(
        page.camera_list,
        Qt.Key.Key_Z,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert not page.cameras[0].loop
    QTest.keyClick(page.camera_list, Qt.Key.Key_Delete)
    assert page.cameras == [] and not page.name_edit.isEnabled()
    QTest.mouseClick(page.undo_button, Qt.MouseButton.LeftButton)
    assert [c.name for c in page.cameras] == ["Gate"] and page.name_edit.text() == "Gate"
    QTest.keyClick(page.camera_list, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "*" not in page.title.text() and load_deployment(target).cameras[0].loop is False
    for _ in range(20):
        page.draft.undo_stack.undo()
    assert page.cameras == [] and page.deployment.name == "Deployment" and page.device_edit.text() == "device"


def test_a_bad_camera_name_is_refused_and_not_kept(qtbot, page):
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    type_into(page.name_edit, "camera 1")  # the first one's name, in another case
    assert [c.name for c in page.cameras] == ["Camera 1", "Camera 2"]
    assert page.name_edit.text() == "Camera 2"
    assert "taken" in page.shell.statuses[-1]


def test_unsaved_changes_are_asked_about_before_they_are_dropped(qtbot, page, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    answers: list[QMessageBox.StandardButton] = []
    asked: list[str] = []

    def warning(_parent, _title, text, *args):
        asked.append(text)
        return answers.pop(0)

    monkeypatch.setattr(QMessageBox, "warning", warning)
    page.new_deployment()
    assert asked == []  # nothing changed: nothing to ask
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    answers.append(QMessageBox.StandardButton.Cancel)
    QTest.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert len(page.cameras) == 1 and "unsaved changes" in asked[-1]
    target = tmp_path / "kept.deploy.json"
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    answers.append(QMessageBox.StandardButton.Save)
    QTest.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert page.cameras == [] and [c.name for c in load_deployment(target).cameras] == ["Camera 1"]
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    answers.append(QMessageBox.StandardButton.Discard)
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(target), ""))
    QTest.mouseClick(page.open_button, Qt.MouseButton.LeftButton)
    assert page.path == target.resolve() and not page.draft.modified


def test_closing_the_window_asks_about_an_unsaved_deployment(qtbot, open_window, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    asked: list[str] = []
    monkeypatch.setattr(
        QMessageBox,
        "warning",
        lambda _p, _t, text, *a: asked.append(text) or QMessageBox.StandardButton.Cancel,
    )
    win = open_window()
    win.deployments.add_camera()
    win.close()
    assert win.isVisible() and any("deployment" in text for text in asked)
    # Ctrl+Z on the page undoes the page's edit, not the canvas's (the window's Undo has it too)
    page = win.deployments
    page.parentWidget().show()
    win.canvas.add_node("filter@1")  # the canvas has a step to undo: its Undo is enabled
    canvas_steps = win.canvas.undo_stack().index()
    assert win.undo_action.isEnabled()
    page.camera_list.setFocus()
    qtbot.waitUntil(page.camera_list.hasFocus)
    QTest.keyClick(page.camera_list, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert page.cameras == [] and win.canvas.undo_stack().index() == canvas_steps
    win.canvas.undo_stack().setClean()
    win.close()
    assert not win.isVisible()


def test_unsaved_changes_are_offered_back_after_a_crash(qtbot, page, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    type_into(page.device_edit, "edge-9")
    qtbot.waitUntil(page.draft.recovery_file.is_file, timeout=10000)  # autosaved, off the GUI thread
    page._autosave.stop()  # the session crashes here: nothing else is written or removed

    asked: list[str] = []
    answer = QMessageBox.StandardButton.Yes
    monkeypatch.setattr(QMessageBox, "question", lambda _p, _t, text, *a: asked.append(text) or answer)
    again = install_deployments(Session(validate=False), page.shell)
    again.offer_recovery()
    assert "an unsaved deployment" in asked[0]
    assert again.deployment.device.name == "edge-9" and [c.name for c in again.cameras] == ["Camera 1"]
    assert again.draft.modified and not page.draft.recovery_file.exists()
    qtbot.waitUntil(again.draft.recovery_file.is_file, timeout=10000)
    assert again.save_to(tmp_path / "site.deploy.json")
    assert not again.draft.recovery_file.exists()
    again.offer_recovery()
    assert len(asked) == 1  # nothing left to offer


def test_export_saves_first_then_packages_or_says_why_not(qtbot, page, tmp_path, monkeypatch):
    import zipfile

    from PySide6.QtWidgets import QMessageBox

    skill = minimal_skill(tmp_path / "log.skill.json")
    QTest.mouseClick(page.add_camera_button, Qt.MouseButton.LeftButton)
    set_camera(qtbot, page, "Gate", str(write_video(tmp_path / "gate.avi", (0, 0, 255))), 5)
    page.add_skills(0, [str(skill)])
    set_value(qtbot, page, 0, "site", "gate")
    answers = [str(tmp_path / "site.deploy.json"), str(tmp_path / "site")]  # the file, then the package
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (answers.pop(0), ""))
    QTest.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.exported is not None, timeout=60000)
    assert (
        not page.draft.modified and load_deployment(tmp_path / "site.deploy.json").cameras[0].name == "Gate"
    )
    assert page.exported.path == tmp_path / "site.deploy.zip"
    with zipfile.ZipFile(page.exported.path) as archive:
        assert {"deployment.json", "deploy/iotedge/deployment.json", "deploy/k8s/runtime.yaml"} <= set(
            archive.namelist()
        )
    assert "Exported" in page.shell.statuses[-1]

    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda _p, _t, text: errors.append(text))
    type_into(page.password_edit, "hunter2")  # a secret in the file: never packaged
    answers[:] = [str(tmp_path / "again.deploy.zip")]
    QTest.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(errors), timeout=60000)
    assert "cameras[0].password" in errors[0] and "hunter2" not in errors[0]
    assert not (tmp_path / "again.deploy.zip").exists() and page.export_button.isEnabled()
