"""The Deployments page running: a video file and a live MJPEG camera (served here), two skills
each; the picked camera shows its skills' boxes; a run value fills the camera's ``$param``; the
camera lost and back is shown again without picking it anew."""

from __future__ import annotations

import numpy as np
import pytest
from engine_helpers import skill_of
from onnx_factory import blob_detector, write_labels
from preview_helpers import pixels
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit
from video_factory import MjpegCamera, read_frame_number, square_box, write_video

from designer.core.deployment import Camera, Deployment, SkillRef, save_deployment
from designer.core.skill import save_skill


def _bright_square(canvas: np.ndarray, index: int) -> None:
    x1, y1, x2, y2 = square_box(index, (canvas.shape[1], canvas.shape[0]))
    canvas[y1:y2, x1:x2] = 255


@pytest.fixture
def site(tmp_path):
    """Two cameras (a looping file, and ``$param(door)``), each running two box-drawing skills."""
    blob_detector(tmp_path / "blob.onnx")
    write_labels(tmp_path / "blob.txt", ["thing"])
    for name, label in (("things", "Things"), ("kept", "Kept")):
        skill = skill_of(
            ("cam", "camera@1", {"source": "0"}),
            ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
            ("log", "insights-log@1", {"path": f"{name}.jsonl"}),
            links=[("cam", "det"), ("det", "log")],
        )
        skill.settings.name = label
        save_skill(skill, tmp_path / f"{name}.skill.json")
    write_video(tmp_path / "gate.avi", frames=30, draw=_bright_square)
    skills = [SkillRef(skill="things.skill.json"), SkillRef(skill="kept.skill.json")]
    deployment = Deployment(
        name="Site",
        cameras=[
            Camera(name="Gate", source="gate.avi", skills=skills),
            Camera(
                name="Door",
                source="$param(door)",
                username="viewer",
                password="$param(door_password)",
                fps=20,
                skills=skills,
            ),
        ],
    )
    path = tmp_path / "site.deploy.json"
    save_deployment(deployment, path)
    return path


@pytest.fixture
def page(deployments_page):
    return deployments_page


def shown(page) -> np.ndarray:
    image = page.live.video.image()
    assert image is not None
    return pixels(image).astype(int)


def coloured_pixels(page) -> int:
    """Pixels of the shown picture that are not grey: the overlay's boxes (the cameras are grey)."""
    image = shown(page)
    return int(((image.max(axis=2) - image.min(axis=2)) > 80).sum())


def shown_number(page) -> int:
    return read_frame_number(shown(page).astype(np.uint8))


def test_the_picked_camera_shows_its_skills_boxes_and_comes_back_after_a_loss(qtbot, page, site):
    door = MjpegCamera(fps=20)
    port = door.port
    door.stop()  # the door camera is down when the deployment starts
    cameras = [door]
    try:
        assert page.open_file(site)
        qtbot.waitUntil(lambda: page.live.needs == ["door", "door_password"], timeout=30000)
        live = page.live
        assert live.value_edit("door_password").echoMode() == QLineEdit.EchoMode.Password
        assert live.value_edit("door").echoMode() == QLineEdit.EchoMode.Normal
        QTest.keyClicks(live.value_edit("door_password"), "s3cret")
        QTest.mouseClick(live.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: "give $param(door) a value" in live.video._placeholder, timeout=5000)
        assert live.run is None  # nothing starts without the camera's address

        QTest.keyClicks(live.value_edit("door"), door.url)
        live.camera_picker.setCurrentText("Door")
        QTest.mouseClick(live.run_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: live.run is not None, timeout=30000)
        qtbot.waitUntil(lambda: live.pairs_table.rowCount() == 4, timeout=5000)
        cameras.append(MjpegCamera(port=port, fps=20))  # it comes up: the run was trying it
        qtbot.waitUntil(lambda: "results of 2 skill(s)" in live.video.caption(), timeout=30000)
        qtbot.waitUntil(lambda: coloured_pixels(page) > 50, timeout=10000)  # the boxes are drawn
        assert live.video.caption().startswith("Door |")
        assert live.results_picker.count() == 3  # all skills, and each skill's export
        live.overlay_box.setChecked(False)
        assert coloured_pixels(page) == 0  # the raw camera, grey
        live.results_picker.setCurrentIndex(live.results_picker.findData("Kept / log"))
        live.overlay_box.setChecked(True)
        qtbot.waitUntil(lambda: "results of 1 skill(s)" in live.video.caption(), timeout=5000)
        qtbot.waitUntil(lambda: coloured_pixels(page) > 50, timeout=5000)

        table = live.pairs_table
        qtbot.waitUntil(lambda: all(int(table.item(row, 4).text()) > 0 for row in range(4)), timeout=30000)
        rows = {(table.item(r, 0).text(), table.item(r, 1).text()): table.item(r, 2).text() for r in range(4)}
        assert rows == {(c, s): "running" for c in ("Gate", "Door") for s in ("Things", "Kept")}

        live.overlay_box.setChecked(False)
        qtbot.waitUntil(lambda: shown_number(page) > 3, timeout=10000)
        cameras[-1].stop()  # the camera loses power mid-stream
        qtbot.waitUntil(lambda: live.run.hubs["Door"].reconnects >= 1, timeout=20000)
        cameras.append(MjpegCamera(port=port, fps=20, first_number=2000))
        qtbot.waitUntil(lambda: shown_number(page) >= 2000, timeout=30000)  # the same view, new frames
    finally:
        for camera in cameras:
            camera.stop()
    stopped = []
    page.live.run_state_changed.connect(stopped.append)
    QTest.mouseClick(page.live.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: stopped == [False], timeout=20000)
