"""The Deployments page: a device's cameras, the skills each runs, their ``$param`` values, a run.

Top to bottom: New / Open / Save / Save As and Undo / Redo of ``*.deploy.json``; the deployment's
name, device and acceleration; the cameras (add, remove, name, source, credentials, fps, loop;
Test opens the source off the GUI thread and shows its last frame); the picked camera's skills
(a file dialog, or skill files and packages dropped from the file manager onto a camera or its
skill list) with a table of each skill's ``$param`` values on this camera; the problems
``review_deployment`` finds; and the live view (``live.py``). Keys while the page has focus:
Ctrl+Z / Ctrl+Shift+Z undo and redo its edits, Ctrl+S saves the deployment, Delete removes the
selected camera or skill.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.core.deployment import (
    DEPLOYMENT_SUFFIX,
    Camera,
    Deployment,
    DeploymentFileError,
    SkillRef,
)
from designer.core.deployment.check import DeploymentProblem, DeploymentReview, review_deployment
from designer.core.deployment.package import PACKAGE_SUFFIX, DeploymentExportReport, export_deployment
from designer.core.deployment.runner import DeploymentError, fill_camera, resolve_camera, skill_on_camera
from designer.core.skill import find_placeholders, load_skill
from designer.core.skill.fields import ACCELERATIONS
from designer.ui.deployments.draft import DeploymentDraft, find_deployment_recoveries
from designer.ui.deployments.live import LiveView
from designer.ui.dialogs.unsaved import ask_to_save
from designer.ui.session import Session
from designer.ui.shell import Shell
from designer.ui.workers import submit

SKILL_SUFFIXES = (".skill.json", ".zip")
CHECK_DELAY_MS = 300
AUTOSAVE_MS = 2000
TEST_FRAMES = 5
PAGE_KEYS = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo, QKeySequence.StandardKey.Save)


def is_skill_file(path: str) -> bool:
    return path.lower().endswith(SKILL_SUFFIXES)


def probe_source(source: str, username: str = "", password: str = "") -> tuple[str, np.ndarray]:
    """Open ``source`` (worker thread) and read a few frames: what came, and the last frame."""
    from designer.core.engine.sources import open_source

    video = open_source(source, loop=False, realtime=False, username=username, password=password)
    try:
        frames, image = 0, None
        for _ in range(TEST_FRAMES):
            frame = video.read(timeout=10.0)
            if frame is None:
                break
            frames, image = frames + 1, frame.image
        if image is None:
            raise RuntimeError(video.failure or "no frames")
        height, width = image.shape[:2]
        return f"{frames} frames, {width}x{height}", image
    finally:
        video.close()


def _first_error(exc: ValidationError) -> str:
    error = exc.errors()[0]
    field = ".".join(str(p) for p in error["loc"])
    return f"{field}: {str(error['msg']).removeprefix('Value error, ')}"


class CameraList(QListWidget):
    """The cameras; skill files dropped on a camera are added to it."""

    def __init__(self, on_drop: Callable[[int, list[str]], None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._on_drop = on_drop
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QListWidget.DragDropMode.DropOnly)

    @staticmethod
    def _paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return [u.toLocalFile() for u in urls if u.isLocalFile() and is_skill_file(u.toLocalFile())]

    def _row_at(self, event: QDropEvent | QDragMoveEvent) -> int:
        row = self.indexAt(event.position().toPoint()).row()
        return row if row >= 0 else self.currentRow()

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if self._paths(event) and self._row_at(event) >= 0:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths, row = self._paths(event), self._row_at(event)
        if not paths or row < 0:
            event.ignore()
            return
        event.acceptProposedAction()
        self._on_drop(row, paths)


class DeploymentsPage(QWidget):
    """The page (see the module docstring). Every edit replaces the draft's deployment, one undo
    step each; the widgets are redrawn from the draft whenever it changes."""

    def __init__(self, session: Session, shell: Shell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.shell = shell
        self.draft = DeploymentDraft(self)
        self.problems: list[DeploymentProblem] = []
        self.exported: DeploymentExportReport | None = None
        self._check_round = 0
        self._updating = False
        self.live = LiveView(session, shell, self.draft, self)
        self._build()
        self._check_timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._check)
        self._autosave = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self._autosave.timeout.connect(self.write_recovery)
        self.draft.changed.connect(self._refresh)
        self.draft.undo_stack.canUndoChanged.connect(self.undo_button.setEnabled)
        self.draft.undo_stack.canRedoChanged.connect(self.redo_button.setEnabled)
        self._refresh()

    # --- building ---------------------------------------------------------------------------

    def _button(self, text: str, slot: Callable[[], Any], layout: QHBoxLayout, tip: str = "") -> QPushButton:
        button = QPushButton(text, self)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        layout.addWidget(button)
        return button

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        files = QHBoxLayout()
        self.new_button = self._button("New", self.new_deployment, files)
        self.open_button = self._button("Open…", self.open_dialog, files)
        self.save_button = self._button("Save", self.save, files, "Save the deployment (Ctrl+S here)")
        self.save_as_button = self._button("Save As…", self.save_as, files)
        self.export_button = self._button(
            "Export package…",
            self.export_dialog,
            files,
            "Package every skill and model once, with its fleet files",
        )
        self.undo_button = self._button("Undo", self.draft.undo_stack.undo, files, "Undo (Ctrl+Z here)")
        self.redo_button = self._button("Redo", self.draft.undo_stack.redo, files, "Redo (Ctrl+Shift+Z here)")
        self.undo_button.setEnabled(False)
        self.redo_button.setEnabled(False)
        files.addStretch(1)
        layout.addLayout(files)
        self.title = QLabel(self)
        layout.addWidget(self.title)
        layout.addLayout(self._build_device())
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self._build_editor())
        splitter.addWidget(self.live)
        layout.addWidget(splitter, 1)

    def _build_device(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.deployment_name_edit = QLineEdit(self)
        self.device_edit = QLineEdit(self)
        self.device_edit.setToolTip("The device's name: insight messages carry it as device_id")
        self.acceleration_box = QComboBox(self)
        self.acceleration_box.addItems(list(ACCELERATIONS))
        self.acceleration_box.setToolTip("What the device runs models on: the providers every skill asks for")
        for label, widget in (
            ("Deployment", self.deployment_name_edit),
            ("Device", self.device_edit),
            ("Acceleration", self.acceleration_box),
        ):
            row.addWidget(QLabel(label, self))
            row.addWidget(widget, 1)
        self.deployment_name_edit.editingFinished.connect(self._apply_device)
        self.device_edit.editingFinished.connect(self._apply_device)
        self.acceleration_box.currentTextChanged.connect(lambda _text: self._apply_device())
        return row

    def _build_editor(self) -> QWidget:
        editor = QWidget(self)
        row = QHBoxLayout(editor)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._build_cameras(), 1)
        row.addWidget(self._build_skills(), 2)
        return editor

    def _build_cameras(self) -> QGroupBox:
        box = QGroupBox("Cameras", self)
        layout = QVBoxLayout(box)
        self.camera_list = CameraList(self.add_skills, box)
        self.camera_list.setToolTip("Drop skill files or packages on a camera to run them there")
        self.camera_list.currentRowChanged.connect(lambda _row: self._show_camera())
        layout.addWidget(self.camera_list, 1)
        buttons = QHBoxLayout()
        self.add_camera_button = self._button("Add", self.add_camera, buttons)
        self.remove_camera_button = self._button("Remove", self.remove_camera, buttons, "Remove (Delete)")
        self.test_button = self._button("Test", self.test_camera, buttons, "Open the source and show a frame")
        layout.addLayout(buttons)
        layout.addLayout(self._build_camera_form(box))
        self.test_label = QLabel(box)
        self.test_label.setWordWrap(True)
        layout.addWidget(self.test_label)
        return box

    def _build_camera_form(self, box: QWidget) -> QFormLayout:
        form = QFormLayout()
        self.name_edit = QLineEdit(box)
        self.source_edit = QLineEdit(box)
        self.source_edit.setPlaceholderText("0, rtsp://$param(host)/1, http://…/mjpeg or a video file")
        self.username_edit = QLineEdit(box)
        self.password_edit = QLineEdit(box)
        self.password_edit.setPlaceholderText("$param(NAME): the value is given at run time")
        self.fps_spin = QSpinBox(box)
        self.fps_spin.setRange(0, 60)
        self.fps_spin.setSpecialValueText("skills'")
        self.fps_spin.setToolTip(
            "Frames a second read from the camera; skills' = the fastest its skills ask for"
        )
        self.loop_box = QCheckBox("Loop a video file", box)
        for edit in (self.name_edit, self.source_edit, self.username_edit, self.password_edit):
            edit.editingFinished.connect(self._apply_camera)
        self.fps_spin.valueChanged.connect(lambda _value: self._apply_camera())
        self.loop_box.toggled.connect(lambda _on: self._apply_camera())
        for label, widget in (
            ("Name", self.name_edit),
            ("Source", self.source_edit),
            ("User", self.username_edit),
            ("Password", self.password_edit),
            ("FPS", self.fps_spin),
            ("", self.loop_box),
        ):
            form.addRow(label, widget)
        return form

    def _build_skills(self) -> QGroupBox:
        box = QGroupBox("Skills on the camera", self)
        layout = QVBoxLayout(box)
        self.skill_list = QListWidget(box)
        layout.addWidget(self.skill_list, 1)
        buttons = QHBoxLayout()
        self.add_skill_button = self._button("Add skill…", self.add_skill_dialog, buttons)
        self.remove_skill_button = self._button("Remove skill", self.remove_skill, buttons, "Remove (Delete)")
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.params_table = QTableWidget(0, 3, box)
        self.params_table.setHorizontalHeaderLabels(["Skill", "$param", "Value on this camera"])
        self.params_table.horizontalHeader().setStretchLastSection(True)
        self.params_table.verticalHeader().hide()
        self.params_table.itemChanged.connect(self._param_edited)
        layout.addWidget(self.params_table, 1)
        self.problem_list = QListWidget(box)
        self.problem_list.setWordWrap(True)
        self.problem_list.setMaximumHeight(130)
        layout.addWidget(QLabel("Problems", box))
        layout.addWidget(self.problem_list)
        return box

    # --- the draft --------------------------------------------------------------------------

    @property
    def deployment(self) -> Deployment:
        return self.draft.deployment

    @property
    def cameras(self) -> list[Camera]:
        return self.draft.deployment.cameras

    @property
    def path(self) -> Path | None:
        return self.draft.path

    def current_camera(self) -> int:
        return self.camera_list.currentRow()

    def _edit_cameras(self, cameras: list[Camera], text: str) -> None:
        self.draft.edit(self.deployment.model_copy(update={"cameras": cameras}), text)

    def _refresh(self) -> None:
        """Show the draft: names, the camera list (keeping the selection), the camera, the title."""
        deployment = self.deployment
        self._updating = True
        self.deployment_name_edit.setText(deployment.name)
        self.device_edit.setText(deployment.device.name)
        self.acceleration_box.setCurrentText(deployment.device.acceleration)
        row = self.current_camera()
        names = [c.name for c in deployment.cameras]
        if [self.camera_list.item(i).text() for i in range(self.camera_list.count())] != names:
            self.camera_list.clear()
            self.camera_list.addItems(names)
        if names:
            self.camera_list.setCurrentRow(min(max(row, 0), len(names) - 1))
        self._updating = False
        self._show_camera()
        self.live.set_cameras(names)
        where = str(self.path) if self.path is not None else "not saved"
        star = " *" if self.draft.modified else ""
        self.title.setText(f"<b>{deployment.name}</b>{star} on {deployment.device.name} — {where}")
        self._check_timer.start()
        if self.draft.modified:
            self._autosave.start()

    def _apply_device(self) -> None:
        if self._updating:
            return
        data = self.deployment.model_dump()
        data["name"] = self.deployment_name_edit.text()
        data["device"] = {
            "name": self.device_edit.text(),
            "acceleration": self.acceleration_box.currentText(),
        }
        try:
            deployment = Deployment.model_validate(data)
        except ValidationError as exc:
            self.shell.show_status(f"Deployment {_first_error(exc)}")
            self._refresh()
            return
        self.draft.edit(deployment, "Change the deployment's device")

    # --- cameras ----------------------------------------------------------------------------

    def _free_name(self) -> str:
        names = {c.name.casefold() for c in self.cameras}
        number = len(self.cameras) + 1
        while f"camera {number}" in names:
            number += 1
        return f"Camera {number}"

    def add_camera(self) -> None:
        self._edit_cameras([*self.cameras, Camera(name=self._free_name(), source="0")], "Add a camera")
        self.camera_list.setCurrentRow(len(self.cameras) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def remove_camera(self) -> None:
        row = self.current_camera()
        if 0 <= row < len(self.cameras):
            name = self.cameras[row].name
            self._edit_cameras([c for i, c in enumerate(self.cameras) if i != row], f"Remove camera {name}")

    def _show_camera(self) -> None:
        if self._updating:
            return
        row = self.current_camera()
        camera = self.cameras[row] if 0 <= row < len(self.cameras) else None
        self._updating = True
        self.name_edit.setText(camera.name if camera else "")
        self.source_edit.setText(camera.source if camera else "")
        self.username_edit.setText(camera.username if camera else "")
        self.password_edit.setText(camera.password if camera else "")
        self.fps_spin.setValue((camera.fps or 0) if camera else 0)
        self.loop_box.setChecked(camera.loop if camera else True)
        for widget in (
            self.name_edit,
            self.source_edit,
            self.username_edit,
            self.password_edit,
            self.fps_spin,
            self.loop_box,
            self.test_button,
            self.remove_camera_button,
        ):
            widget.setEnabled(camera is not None)
        position = self.skill_list.currentRow()
        self.skill_list.clear()
        for ref in camera.skills if camera is not None else []:
            path = Path(ref.skill)
            self.skill_list.addItem(f"{path.name}   ({path.parent})")
            self.skill_list.item(self.skill_list.count() - 1).setToolTip(ref.skill)
        if camera is not None:
            self.skill_list.setCurrentRow(min(position, len(camera.skills) - 1))
        self._updating = False
        self._fill_params()

    def _apply_camera(self) -> None:
        row = self.current_camera()
        if self._updating or not 0 <= row < len(self.cameras):
            return
        update = {
            "name": self.name_edit.text(),
            "source": self.source_edit.text(),
            "username": self.username_edit.text(),
            "password": self.password_edit.text(),
            "fps": self.fps_spin.value() or None,
            "loop": self.loop_box.isChecked(),
        }
        others = {c.name.casefold() for i, c in enumerate(self.cameras) if i != row}
        try:
            camera = Camera.model_validate({**self.cameras[row].model_dump(), **update})
        except ValidationError as exc:
            self.shell.show_status(f"Camera {_first_error(exc)}")
            self._show_camera()
            return
        if camera.name.casefold() in others:
            self.shell.show_status(f"Camera name {camera.name!r} is taken: camera names must differ")
            self._show_camera()
            return
        cameras = list(self.cameras)
        cameras[row] = camera
        self._edit_cameras(cameras, f"Change camera {camera.name}")

    def test_camera(self) -> None:
        row = self.current_camera()
        if not 0 <= row < len(self.cameras):
            return
        try:
            camera = resolve_camera(
                fill_camera(self.cameras[row], self.live.values, "test"), self.draft.base_dir
            )
        except DeploymentError as exc:
            self.test_label.setText(
                f"{exc}".replace("pass --param", "give a value under 'Values for this run':")
            )
            return
        self.test_label.setText(f"Opening {camera.source}…")
        self.test_button.setEnabled(False)

        def finished(text: str) -> None:
            self.test_label.setText(f"{camera.name}: {text}")
            self.test_button.setEnabled(self.current_camera() >= 0)

        def shown(result: tuple[str, np.ndarray]) -> None:
            text, image = result
            finished(text)
            self.live.show_test(camera.name, image, text)

        submit(
            probe_source,
            camera.source,
            camera.username,
            camera.password,
            on_done=shown,
            on_error=lambda error: finished(f"cannot open: {error}"),
            parent=self,
        )

    # --- skills -----------------------------------------------------------------------------

    def add_skill_dialog(self) -> None:
        row = self.current_camera()
        if not 0 <= row < len(self.cameras):
            self.shell.show_status("Add a camera first: skills run on cameras")
            return
        paths, _ = QFileDialog.getOpenFileNames(
            self.shell.widget(), "Add skills", str(self.draft.base_dir), "Skills (*.skill.json *.zip)"
        )
        if paths:
            self.add_skills(row, paths)

    def add_skills(self, row: int, paths: list[str]) -> None:
        if not 0 <= row < len(self.cameras):
            return
        camera = self.cameras[row]
        known = {r.skill for r in camera.skills}
        added = [SkillRef(skill=str(Path(p).resolve())) for p in paths if str(Path(p).resolve()) not in known]
        if not added:
            return
        cameras = list(self.cameras)
        cameras[row] = camera.model_copy(update={"skills": [*camera.skills, *added]})
        self.camera_list.setCurrentRow(row)
        self._edit_cameras(cameras, f"Add {len(added)} skill(s) to {camera.name}")
        self.shell.show_status(f"{len(added)} skill(s) added to {camera.name}")

    def remove_skill(self) -> None:
        row, position = self.current_camera(), self.skill_list.currentRow()
        if not 0 <= row < len(self.cameras) or position < 0:
            return
        camera = self.cameras[row]
        cameras = list(self.cameras)
        cameras[row] = camera.model_copy(
            update={"skills": [r for i, r in enumerate(camera.skills) if i != position]}
        )
        self._edit_cameras(cameras, f"Remove a skill from {camera.name}")

    def params_of(self, camera: Camera, ref: SkillRef) -> list[str]:
        """The ``$param`` names the skill uses on this camera (skill files; packages bring theirs)."""
        if not ref.skill.lower().endswith(".skill.json"):
            return sorted(ref.params)
        try:
            skill = load_skill(Path(ref.skill))
        except Exception:  # shown by the problems list
            return sorted(ref.params)
        return sorted(set(find_placeholders(skill_on_camera(skill, camera))) | set(ref.params))

    def _fill_params(self) -> None:
        row = self.current_camera()
        self._updating = True
        self.params_table.setRowCount(0)
        camera = self.cameras[row] if 0 <= row < len(self.cameras) else None
        for position, ref in enumerate(camera.skills if camera else []):
            for name in self.params_of(camera, ref) if camera else []:
                line = self.params_table.rowCount()
                self.params_table.insertRow(line)
                skill_item = QTableWidgetItem(Path(ref.skill).name)
                skill_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                skill_item.setData(Qt.ItemDataRole.UserRole, position)
                name_item = QTableWidgetItem(name)
                name_item.setFlags(Qt.ItemFlag.ItemIsEnabled)
                self.params_table.setItem(line, 0, skill_item)
                self.params_table.setItem(line, 1, name_item)
                self.params_table.setItem(line, 2, QTableWidgetItem(ref.params.get(name, "")))
        self._updating = False

    def _param_edited(self, item: QTableWidgetItem) -> None:
        row = self.current_camera()
        if self._updating or item.column() != 2 or not 0 <= row < len(self.cameras):
            return
        skill_item, name_item = self.params_table.item(item.row(), 0), self.params_table.item(item.row(), 1)
        if skill_item is not None and name_item is not None:
            self.set_param(row, int(skill_item.data(Qt.ItemDataRole.UserRole)), name_item.text(), item.text())

    def set_param(self, row: int, position: int, name: str, value: str) -> None:
        """The value of ``$param(name)`` for the camera's skill at ``position`` (empty: unset)."""
        camera = self.cameras[row]
        skills = list(camera.skills)
        params = {k: v for k, v in skills[position].params.items() if k != name}
        if value:
            params[name] = value
        skills[position] = skills[position].model_copy(update={"params": dict(sorted(params.items()))})
        cameras = list(self.cameras)
        cameras[row] = camera.model_copy(update={"skills": skills})
        self._edit_cameras(cameras, f"Set $param({name}) on {camera.name}")

    # --- problems ---------------------------------------------------------------------------

    def _check(self) -> None:
        self._check_round += 1
        round_, deployment, base, library = (
            self._check_round,
            self.deployment,
            self.draft.base_dir,
            self.session.library,
        )

        def review() -> DeploymentReview:
            return review_deployment(deployment, base, library())

        def show(review: DeploymentReview) -> None:
            if round_ == self._check_round:
                self._show_problems(review.problems)
                self.live.set_needs(review.needs, review.secrets)

        submit(
            review,
            on_done=show,
            on_error=lambda error: self._show_problems([DeploymentProblem("check", "error", error)]),
            parent=self,
        )

    def _show_problems(self, problems: list[DeploymentProblem]) -> None:
        self.problems = problems
        self.problem_list.clear()
        for problem in problems:
            text = f"{problem.severity}: {problem.where}: {problem.message}"
            self.problem_list.addItem(text)
            self.problem_list.item(self.problem_list.count() - 1).setToolTip(text)
        if not problems:
            self.problem_list.addItem("No problems")

    # --- files ------------------------------------------------------------------------------

    def maybe_save(self) -> bool:
        """True when the draft may be dropped: saved, discarded, or nothing changed."""
        if not self.draft.modified:
            return True
        return ask_to_save(
            self.shell.widget(), "Deployments", f"The deployment {self.deployment.name}", self.save
        )

    def new_deployment(self) -> None:
        if self.maybe_save():
            self.live.stop()
            self.draft.reset(Deployment(name="Deployment"), None)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self.shell.widget(),
            "Open deployment",
            str(self.draft.base_dir),
            f"Deployments (*{DEPLOYMENT_SUFFIX})",
        )
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path, *, reveal: bool = False) -> bool:
        """Open ``path`` (the caller asked about unsaved changes), and show the page if asked."""
        if reveal:
            self.reveal()
        self.live.stop()
        try:
            self.draft.open(path)
        except DeploymentFileError as exc:
            QMessageBox.critical(self.shell.widget(), "Cannot open the deployment", str(exc))
            return False
        self.shell.show_status(f"Opened {path}")
        return True

    def save(self) -> bool:
        return self.save_to(self.path) if self.path is not None else self.save_as()

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self.shell.widget(),
            "Save deployment",
            str(self.draft.base_dir / f"{self.deployment.name}{DEPLOYMENT_SUFFIX}"),
            f"Deployments (*{DEPLOYMENT_SUFFIX})",
        )
        if not path:
            return False
        if not path.lower().endswith(DEPLOYMENT_SUFFIX):
            path += DEPLOYMENT_SUFFIX
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        try:
            self.draft.save(path)
        except OSError as exc:
            QMessageBox.critical(self.shell.widget(), "Cannot save the deployment", f"{path}: {exc}")
            return False
        self.shell.show_status(f"Saved {self.path}")
        return True

    def export_dialog(self) -> None:
        """Save first (the package is made from the file), then pick where the package goes."""
        if (self.draft.modified or self.path is None) and not self.save():
            return
        assert self.path is not None
        name = self.path.name.removesuffix(DEPLOYMENT_SUFFIX) + PACKAGE_SUFFIX
        target, _ = QFileDialog.getSaveFileName(
            self.shell.widget(),
            "Export deployment package",
            str(self.path.with_name(name)),
            f"Packages (*{PACKAGE_SUFFIX})",
        )
        if target:
            self.export_to(Path(target if target.endswith(PACKAGE_SUFFIX) else target + PACKAGE_SUFFIX))

    def export_to(self, target: Path) -> None:
        source, library = self.path, self.session.library
        assert source is not None
        self.export_button.setEnabled(False)
        self.shell.show_status(f"Exporting {target.name}…", 0)

        def export() -> DeploymentExportReport:
            return export_deployment(source, target, library=library())

        def done(report: DeploymentExportReport) -> None:
            self.export_button.setEnabled(True)
            self.exported = report
            counts = f"{len(report.skills)} skill(s), {len(report.models)} model(s)"
            self.shell.show_status(f"Exported {report.path}: {counts}")
            secrets = [f"the device must give {name} (a secret)" for name in report.required_env]
            for note in [*report.warnings, *secrets]:
                self.shell.log(f"Export {report.path.name}: {note}")

        def failed(error: str) -> None:
            self.export_button.setEnabled(True)
            self.shell.show_status("Export failed")
            QMessageBox.critical(self.shell.widget(), "Cannot export the deployment", error)

        submit(export, on_done=done, on_error=failed, parent=self)

    # --- keys -------------------------------------------------------------------------------

    def event(self, event: QEvent) -> bool:
        """Claim undo, redo and save while focus is on the page, so that the window's (the
        canvas's) actions do not take them; text fields keep their own undo."""
        if event.type() == QEvent.Type.ShortcutOverride:
            assert isinstance(event, QKeyEvent)
            if any(event.matches(key) for key in PAGE_KEYS) or self._deletes(event):
                event.accept()
                return True
        return super().event(event)

    def _deletes(self, event: QKeyEvent) -> bool:
        return event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and (
            self.camera_list.hasFocus() or self.skill_list.hasFocus()
        )

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.matches(QKeySequence.StandardKey.Undo):
            self.draft.undo_stack.undo()
        elif event.matches(QKeySequence.StandardKey.Redo):
            self.draft.undo_stack.redo()
        elif event.matches(QKeySequence.StandardKey.Save):
            self.save()
        elif self._deletes(event):
            self.remove_camera() if self.camera_list.hasFocus() else self.remove_skill()
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    # --- recovery ---------------------------------------------------------------------------

    def write_recovery(self) -> None:
        """Keep a copy of unsaved changes (a worker writes it) for after a crash."""
        job = self.draft.autosave_job()
        if job is not None:
            submit(
                job,
                on_error=lambda error: self.shell.log(f"Deployment autosave failed: {error}"),
                parent=self,
            )

    def offer_recovery(self) -> None:
        """After a crash: offer the deployment changes that were not saved (once the window shows)."""
        for recovery in find_deployment_recoveries():
            try:
                deployment = recovery.load()
            except DeploymentFileError as exc:
                self.shell.log(f"Recovery: {exc}; the copy is left where it is")
                continue
            where = recovery.original or "an unsaved deployment"
            answer = QMessageBox.question(
                self.shell.widget(),
                "Restore unsaved work?",
                f"Skill Designer did not close cleanly. Restore the changes to {where} that were not saved?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
                QMessageBox.StandardButton.Yes,
            )
            recovery.discard()
            if answer == QMessageBox.StandardButton.Yes:
                self.draft.reset(deployment, recovery.original, saved=False)
                self.reveal()
                self.shell.show_status("Restored the unsaved deployment; save it to keep it.")
                return

    def shutdown(self, timeout: float = 10.0) -> None:
        """The window closes (its unsaved changes were asked about): stop the run, drop the copy."""
        self._autosave.stop()
        self.draft.discard_recovery()
        self.live.shutdown(timeout)

    def reveal(self) -> None:
        """Bring the page (its dock) to the front."""
        dock = self.parentWidget()
        if isinstance(dock, QDockWidget):
            dock.show()
            dock.raise_()

    def open_from_menu(self) -> None:
        self.reveal()
        self.open_dialog()


def install_deployments(session: Session, shell: Shell) -> DeploymentsPage:
    """The Deployments dock (hidden until View > Deployments) and its page; returns the page."""
    page = DeploymentsPage(session, shell)
    dock = QDockWidget("Deployments", shell.widget())
    dock.setObjectName("DeploymentsDock")
    dock.setWidget(page)
    shell.add_dock(dock, Qt.DockWidgetArea.RightDockWidgetArea)
    dock.toggleViewAction().setShortcut(QKeySequence("Ctrl+Shift+D"))
    shell.add_action("Open &Deployment…", page.open_from_menu, tip="Open a *.deploy.json file", menu="&File")
    dock.setFloating(True)  # a page with room for cameras, skills and a video; it docks on a double-click
    dock.visibilityChanged.connect(lambda visible: _first_placement(dock, shell.widget(), visible))
    dock.hide()
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(page.shutdown)  # no engine outlives the window
    return page


def _first_placement(dock: QDockWidget, window: QWidget, visible: bool) -> None:
    """Floating over the window's middle at most of its size, the first time it is shown."""
    if not visible or dock.property("placed") or not dock.isFloating():
        return
    dock.setProperty("placed", True)
    area = window.geometry()
    width, height = min(1320, int(area.width() * 0.9)), min(920, int(area.height() * 0.9))
    dock.setGeometry(area.center().x() - width // 2, area.center().y() - height // 2, width, height)
