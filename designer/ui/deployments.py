"""The Deployments page: a device's cameras, the skills each runs, their ``$param`` values, a run.

``install_deployments(session, shell)`` adds a dock (listed in View) with: the cameras (add,
remove, name, source, fps; Test opens the source off the GUI thread), each camera's skills (a
file dialog, or skill files dropped from the file manager onto a camera or its skill list), a
table of the ``$param`` names each skill needs with this camera's values, New / Open / Save /
Save As of ``*.deploy.json``, the problems ``check_deployment`` finds, and Run / Stop: the whole
deployment runs in one process off the GUI thread, the picked camera's frames shown through the
preview's relay (only the newest frame is kept) with every camera's fps.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QApplication,
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
    load_deployment,
    save_deployment,
)
from designer.core.deployment.check import DeploymentProblem, check_deployment
from designer.core.deployment.runner import DeploymentRun, Pair, resolve_camera, skill_on_camera
from designer.core.engine.events import EngineEvent, SourceFrameEvent
from designer.core.skill import find_placeholders, load_skill
from designer.ui.preview.relay import EngineRelay, PreviewFrame
from designer.ui.preview.video import VideoWidget
from designer.ui.session import Session
from designer.ui.shell import Shell
from designer.ui.workers import submit

SKILL_SUFFIXES = (".skill.json", ".zip")
CHECK_DELAY_MS = 300
FPS_INTERVAL_MS = 1000
TEST_FRAMES = 5


def is_skill_file(path: str) -> bool:
    return path.lower().endswith(SKILL_SUFFIXES)


def probe_source(source: str, username: str = "", password: str = "") -> str:
    """Open ``source`` (worker thread), read a few frames, and say what came: frames and size."""
    from designer.core.engine.sources import open_source

    video = open_source(source, loop=False, realtime=False, username=username, password=password)
    try:
        frames, size = 0, ""
        for _ in range(TEST_FRAMES):
            frame = video.read(timeout=10.0)
            if frame is None:
                break
            frames += 1
            height, width = frame.image.shape[:2]
            size = f"{width}x{height}"
        if not frames:
            raise RuntimeError(video.failure or "no frames")
        return f"{frames} frames, {size}"
    finally:
        video.close()


class FrameCounter:
    """Counts camera frames per camera (engine threads); ``rates()`` gives fps (GUI thread)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._last: dict[str, int] = {}
        self._at = time.monotonic()

    def on_event(self, pair: Pair, event: EngineEvent) -> None:
        if isinstance(event, SourceFrameEvent):
            with self._lock:
                self._counts[pair.key] = self._counts.get(pair.key, 0) + 1

    def rates(self, pairs: list[Pair]) -> dict[str, float]:
        now = time.monotonic()
        with self._lock:
            counts = dict(self._counts)
        elapsed = max(now - self._at, 1e-6)
        rates: dict[str, float] = {}
        for pair in pairs:
            fps = (counts.get(pair.key, 0) - self._last.get(pair.key, 0)) / elapsed
            rates[pair.camera.name] = max(rates.get(pair.camera.name, 0.0), fps)
        self._last, self._at = counts, now
        return rates


class CameraList(QListWidget):
    """The cameras; skill files dropped on a camera are added to it."""

    skills_dropped = Signal(int, list)  # camera row, list[str] of paths

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QListWidget.DragDropMode.DropOnly)

    @staticmethod
    def _paths(event: QDropEvent | QDragEnterEvent | QDragMoveEvent) -> list[str]:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        return [u.toLocalFile() for u in urls if u.isLocalFile() and is_skill_file(u.toLocalFile())]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        row = self.indexAt(event.position().toPoint()).row()
        if self._paths(event) and (row >= 0 or self.currentRow() >= 0):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = self._paths(event)
        row = self.indexAt(event.position().toPoint()).row()
        row = row if row >= 0 else self.currentRow()
        if not paths or row < 0:
            event.ignore()
            return
        event.acceptProposedAction()
        self.skills_dropped.emit(row, paths)


class DeploymentsPage(QWidget):
    """The page (see the module docstring). Paths of skills are kept absolute while editing and
    written relative to the deployment file when saved."""

    changed = Signal()
    run_state_changed = Signal(bool)

    def __init__(self, session: Session, shell: Shell, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.shell = shell
        self.path: Path | None = None
        self.name = "Deployment"
        self.device_name = "device"
        self.cameras: list[Camera] = []
        self.problems: list[DeploymentProblem] = []
        self.run: DeploymentRun | None = None
        self._stopping = False
        self._counter = FrameCounter()
        self._check_round = 0
        self._skill_params: dict[str, list[str]] = {}
        self._updating = False
        self._build()
        self._check_timer = QTimer(self, singleShot=True, interval=CHECK_DELAY_MS)
        self._check_timer.timeout.connect(self._check)
        self._fps_timer = QTimer(self, interval=FPS_INTERVAL_MS)
        self._fps_timer.timeout.connect(self._show_rates)
        self.relay = EngineRelay(self)
        self.relay.frame_ready.connect(self._show_frame)
        self._refresh_cameras()

    # --- building ---------------------------------------------------------------------------

    def _button(self, text: str, slot: Any, layout: QHBoxLayout) -> QPushButton:
        button = QPushButton(text, self)
        button.clicked.connect(lambda _checked=False: slot())
        layout.addWidget(button)
        return button

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        files = QHBoxLayout()
        self.new_button = self._button("New", self.new_deployment, files)
        self.open_button = self._button("Open…", self.open_dialog, files)
        self.save_button = self._button("Save", self.save, files)
        self.save_as_button = self._button("Save As…", self.save_as, files)
        files.addStretch(1)
        layout.addLayout(files)
        self.title = QLabel(self)
        layout.addWidget(self.title)
        splitter = QSplitter(Qt.Orientation.Vertical, self)
        splitter.addWidget(self._build_editor())
        splitter.addWidget(self._build_run())
        layout.addWidget(splitter, 1)

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
        self.camera_list = CameraList(box)
        self.camera_list.currentRowChanged.connect(lambda _row: self._show_camera())
        self.camera_list.skills_dropped.connect(self.add_skills)
        layout.addWidget(self.camera_list, 1)
        buttons = QHBoxLayout()
        self.add_camera_button = self._button("Add", self.add_camera, buttons)
        self.remove_camera_button = self._button("Remove", self.remove_camera, buttons)
        self.test_button = self._button("Test", self.test_camera, buttons)
        layout.addLayout(buttons)
        form = QFormLayout()
        self.name_edit = QLineEdit(box)
        self.source_edit = QLineEdit(box)
        self.source_edit.setPlaceholderText("0, rtsp://$param(host)/1 or a video file")
        self.fps_spin = QSpinBox(box)
        self.fps_spin.setRange(0, 60)
        self.fps_spin.setSpecialValueText("skills'")
        for edit in (self.name_edit, self.source_edit):
            edit.editingFinished.connect(self._apply_camera)
        self.fps_spin.valueChanged.connect(lambda _value: self._apply_camera())
        form.addRow("Name", self.name_edit)
        form.addRow("Source", self.source_edit)
        form.addRow("FPS", self.fps_spin)
        layout.addLayout(form)
        self.test_label = QLabel(box)
        self.test_label.setWordWrap(True)
        layout.addWidget(self.test_label)
        return box

    def _build_skills(self) -> QGroupBox:
        box = QGroupBox("Skills on the camera", self)
        layout = QVBoxLayout(box)
        self.skill_list = QListWidget(box)
        layout.addWidget(self.skill_list, 1)
        buttons = QHBoxLayout()
        self.add_skill_button = self._button("Add skill…", self.add_skill_dialog, buttons)
        self.remove_skill_button = self._button("Remove skill", self.remove_skill, buttons)
        buttons.addStretch(1)
        layout.addLayout(buttons)
        self.params_table = QTableWidget(0, 3, box)
        self.params_table.setHorizontalHeaderLabels(["Skill", "$param", "Value on this camera"])
        self.params_table.horizontalHeader().setStretchLastSection(True)
        self.params_table.itemChanged.connect(self._param_edited)
        layout.addWidget(self.params_table, 1)
        self.problem_list = QListWidget(box)
        self.problem_list.setMaximumHeight(110)
        layout.addWidget(QLabel("Problems", box))
        layout.addWidget(self.problem_list)
        return box

    def _build_run(self) -> QWidget:
        box = QGroupBox("Run", self)
        layout = QVBoxLayout(box)
        controls = QHBoxLayout()
        self.run_button = self._button("Run", self.start, controls)
        self.stop_button = self._button("Stop", self.stop, controls)
        self.stop_button.setEnabled(False)
        controls.addWidget(QLabel("Camera", box))
        self.camera_picker = QComboBox(box)
        self.camera_picker.currentTextChanged.connect(self._pick_camera)
        controls.addWidget(self.camera_picker, 1)
        layout.addLayout(controls)
        self.video = VideoWidget(box)
        self.video.set_placeholder("Run the deployment to see a camera")
        layout.addWidget(self.video, 1)
        self.rates_label = QLabel(box)
        layout.addWidget(self.rates_label)
        return box

    # --- the model --------------------------------------------------------------------------

    @property
    def base_dir(self) -> Path:
        return self.path.parent if self.path is not None else Path.cwd()

    def deployment(self, relative_to: Path | None = None) -> Deployment:
        """The deployment as edited; skill paths relative to ``relative_to`` when given."""
        cameras = self.cameras
        if relative_to is not None:
            cameras = [
                c.model_copy(update={"skills": [self._relative(r, relative_to) for r in c.skills]})
                for c in cameras
            ]
        return Deployment.model_validate(
            {
                "name": self.name,
                "device": {"name": self.device_name},
                "cameras": [c.model_dump() for c in cameras],
            }
        )

    @staticmethod
    def _relative(ref: SkillRef, folder: Path) -> SkillRef:
        try:
            return ref.model_copy(update={"skill": Path(os.path.relpath(ref.skill, folder)).as_posix()})
        except ValueError:  # another drive
            return ref

    def _set_deployment(self, deployment: Deployment, path: Path | None) -> None:
        self.path = path
        self.name = deployment.name
        self.device_name = deployment.device.name
        base = self.base_dir
        self.cameras = [
            c.model_copy(
                update={
                    "skills": [
                        r.model_copy(update={"skill": str((base / r.skill).expanduser().resolve())})
                        for r in c.skills
                    ]
                }
            )
            for c in deployment.cameras
        ]
        self._refresh_cameras()

    def _edited(self) -> None:
        self.changed.emit()
        self._check_timer.start()
        self._update_title()

    def _update_title(self) -> None:
        where = str(self.path) if self.path is not None else "not saved"
        self.title.setText(f"<b>{self.name}</b> on {self.device_name} — {where}")

    def current_camera(self) -> int:
        return self.camera_list.currentRow()

    # --- cameras ----------------------------------------------------------------------------

    def _refresh_cameras(self, select: int | None = None) -> None:
        row = self.current_camera() if select is None else select
        self._updating = True
        self.camera_list.clear()
        self.camera_list.addItems([c.name for c in self.cameras])
        self._updating = False
        if self.cameras:
            self.camera_list.setCurrentRow(min(max(row, 0), len(self.cameras) - 1))
        self._show_camera()
        self._refresh_picker()
        self._edited()

    def _refresh_picker(self) -> None:
        current = self.camera_picker.currentText()
        self.camera_picker.blockSignals(True)
        self.camera_picker.clear()
        self.camera_picker.addItems([c.name for c in self.cameras])
        if current in [c.name for c in self.cameras]:
            self.camera_picker.setCurrentText(current)
        self.camera_picker.blockSignals(False)

    def _free_name(self) -> str:
        names = {c.name.casefold() for c in self.cameras}
        number = len(self.cameras) + 1
        while f"camera {number}" in names:
            number += 1
        return f"Camera {number}"

    def add_camera(self) -> None:
        self.cameras.append(Camera(name=self._free_name(), source="0"))
        self._refresh_cameras(len(self.cameras) - 1)
        self.name_edit.setFocus()
        self.name_edit.selectAll()

    def remove_camera(self) -> None:
        row = self.current_camera()
        if 0 <= row < len(self.cameras):
            del self.cameras[row]
            self._refresh_cameras(row)

    def _show_camera(self) -> None:
        if self._updating:
            return
        row = self.current_camera()
        camera = self.cameras[row] if 0 <= row < len(self.cameras) else None
        self._updating = True
        self.name_edit.setText(camera.name if camera else "")
        self.source_edit.setText(camera.source if camera else "")
        self.fps_spin.setValue((camera.fps or 0) if camera else 0)
        for widget in (self.name_edit, self.source_edit, self.fps_spin, self.test_button):
            widget.setEnabled(camera is not None)
        self.skill_list.clear()
        if camera is not None:
            self.skill_list.addItems([r.skill for r in camera.skills])
        self._updating = False
        self.test_label.clear()
        self._fill_params()

    def _apply_camera(self) -> None:
        row = self.current_camera()
        if self._updating or not 0 <= row < len(self.cameras):
            return
        update = {
            "name": self.name_edit.text(),
            "source": self.source_edit.text(),
            "fps": self.fps_spin.value() or None,
        }
        data = {**self.cameras[row].model_dump(), **update}
        others = {c.name.casefold() for i, c in enumerate(self.cameras) if i != row}
        try:
            camera = Camera.model_validate(data)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            self.shell.show_status(f"Camera {field}: {str(error['msg']).removeprefix('Value error, ')}")
            self._show_camera()
            return
        if camera.name.casefold() in others:
            self.shell.show_status(f"Camera name {camera.name!r} is taken: camera names must differ")
            self._show_camera()
            return
        if camera != self.cameras[row]:
            self.cameras[row] = camera
            self.camera_list.item(row).setText(camera.name)
            self._refresh_picker()
            self._edited()

    def test_camera(self) -> None:
        row = self.current_camera()
        if not 0 <= row < len(self.cameras):
            return
        camera = resolve_camera(self.cameras[row], self.base_dir)
        self.test_label.setText(f"Opening {camera.source}…")
        self.test_button.setEnabled(False)

        def finished(text: str) -> None:
            self.test_label.setText(text)
            self.test_button.setEnabled(True)

        submit(
            probe_source,
            camera.source,
            camera.username,
            camera.password,
            on_done=lambda result: finished(f"{camera.name}: {result}"),
            on_error=lambda error: finished(f"{camera.name}: cannot open: {error}"),
            parent=self,
        )

    # --- skills -----------------------------------------------------------------------------

    def add_skill_dialog(self) -> None:
        row = self.current_camera()
        if not 0 <= row < len(self.cameras):
            self.shell.show_status("Add a camera first: skills run on cameras")
            return
        paths, _ = QFileDialog.getOpenFileNames(
            self.shell.widget(), "Add skills", str(self.base_dir), "Skills (*.skill.json *.zip)"
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
        self.cameras[row] = camera.model_copy(update={"skills": [*camera.skills, *added]})
        self.camera_list.setCurrentRow(row)
        self._show_camera()
        self._edited()
        self.shell.show_status(f"{len(added)} skill(s) added to {camera.name}")

    def remove_skill(self) -> None:
        row, position = self.current_camera(), self.skill_list.currentRow()
        if not 0 <= row < len(self.cameras) or position < 0:
            return
        camera = self.cameras[row]
        skills = [r for i, r in enumerate(camera.skills) if i != position]
        self.cameras[row] = camera.model_copy(update={"skills": skills})
        self._show_camera()
        self._edited()

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
        if skill_item is None or name_item is None:
            return
        position = int(skill_item.data(Qt.ItemDataRole.UserRole))
        name = name_item.text()
        self.set_param(row, position, name, item.text())

    def set_param(self, row: int, position: int, name: str, value: str) -> None:
        """The value of ``$param(name)`` for the camera's skill at ``position`` (empty: unset)."""
        camera = self.cameras[row]
        skills = list(camera.skills)
        params = {k: v for k, v in skills[position].params.items() if k != name}
        if value:
            params[name] = value
        skills[position] = skills[position].model_copy(update={"params": dict(sorted(params.items()))})
        self.cameras[row] = camera.model_copy(update={"skills": skills})
        self._edited()

    # --- problems ---------------------------------------------------------------------------

    def _check(self) -> None:
        try:
            deployment = self.deployment()
        except ValidationError as exc:
            self._show_problems([DeploymentProblem("deployment", "error", str(exc.errors()[0]["msg"]))])
            return
        self._check_round += 1
        round_ = self._check_round
        base, library = self.base_dir, self.session.library

        def check() -> list[DeploymentProblem]:
            return check_deployment(deployment, base, library())

        submit(
            check,
            on_done=lambda found: self._show_problems(found) if round_ == self._check_round else None,
            on_error=lambda error: self._show_problems([DeploymentProblem("check", "error", error)]),
            parent=self,
        )

    def _show_problems(self, problems: list[DeploymentProblem]) -> None:
        self.problems = problems
        self.problem_list.clear()
        self.problem_list.addItems([f"{p.severity}: {p.where}: {p.message}" for p in problems])
        if not problems:
            self.problem_list.addItem("No problems")

    # --- files ------------------------------------------------------------------------------

    def new_deployment(self) -> None:
        self.stop()
        self._set_deployment(Deployment(name="Deployment"), None)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.shell.widget(), "Open deployment", str(self.base_dir), f"Deployments (*{DEPLOYMENT_SUFFIX})"
        )
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        try:
            deployment = load_deployment(path)
        except DeploymentFileError as exc:
            QMessageBox.critical(self.shell.widget(), "Cannot open the deployment", str(exc))
            return False
        self.stop()
        self._set_deployment(deployment, path.resolve())
        self.shell.show_status(f"Opened {path}")
        return True

    def save(self) -> bool:
        return self.save_to(self.path) if self.path is not None else self.save_as()

    def save_as(self) -> bool:
        name = f"{self.name}{DEPLOYMENT_SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(
            self.shell.widget(),
            "Save deployment",
            str(self.base_dir / name),
            f"Deployments (*{DEPLOYMENT_SUFFIX})",
        )
        if not path:
            return False
        if not path.lower().endswith(DEPLOYMENT_SUFFIX):
            path += DEPLOYMENT_SUFFIX
        return self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        path = path.resolve()
        try:
            save_deployment(self.deployment(relative_to=path.parent), path)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(p) for p in error["loc"])
            message = f"{path}: {field}: {str(error['msg']).removeprefix('Value error, ')}"
            QMessageBox.critical(self.shell.widget(), "Cannot save the deployment", message)
            return False
        except OSError as exc:
            QMessageBox.critical(self.shell.widget(), "Cannot save the deployment", f"{path}: {exc}")
            return False
        self.path = path
        self._update_title()
        self.shell.show_status(f"Saved {path}")
        return True

    # --- running ----------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.run is not None

    def start(self) -> None:
        if self.run is not None or self._stopping:
            return
        try:
            deployment = self.deployment()
        except ValidationError as exc:
            self._run_failed(str(exc.errors()[0]["msg"]))
            return
        base, library = self.base_dir, self.session.library
        output = Path(tempfile.mkdtemp(prefix="deployment-run-"))

        def build() -> DeploymentRun:
            return DeploymentRun(deployment, base, output_dir=output, models=library())

        self.run_button.setEnabled(False)
        self.video.set_placeholder("Starting the deployment…")
        submit(build, on_done=self._started, on_error=self._run_failed, parent=self)

    def _started(self, run: DeploymentRun) -> None:
        self.run = run
        self._counter = FrameCounter()
        run.subscribe(self._counter.on_event)
        self._pick_camera(self.camera_picker.currentText())
        run.start()
        self._fps_timer.start()
        self.stop_button.setEnabled(True)
        self.run_state_changed.emit(True)
        self.shell.log(f"Deployment {run.deployment.name}: {len(run.pairs)} camera x skill pairs running")

    def _run_failed(self, error: str) -> None:
        self.run_button.setEnabled(True)
        self.video.set_placeholder(f"Cannot run: {error}")
        self.shell.log(f"Deployment cannot run: {error}")

    def _pick_camera(self, name: str) -> None:
        if self.run is None:
            return
        pair = next((p for p in self.run.pairs if p.camera.name == name), None)
        self.video.clear()
        if pair is None:
            self.relay.detach()
            self.video.set_placeholder(f"{name or 'The camera'} runs no skill")
            return
        self.relay.attach(pair.engine)

    def _show_frame(self, frame: object) -> None:
        assert isinstance(frame, PreviewFrame)
        self.video.set_frame(frame.image, self.camera_picker.currentText())

    def _show_rates(self) -> None:
        if self.run is None:
            return
        rates = self._counter.rates(self.run.pairs)
        self.rates_label.setText("   ".join(f"{name}: {fps:.1f} fps" for name, fps in rates.items()))

    def stop(self) -> None:
        run, self.run = self.run, None
        if run is None:
            return
        self._stopping = True
        self.relay.detach()
        self._fps_timer.stop()
        self.stop_button.setEnabled(False)

        def stopped(_result: object = None) -> None:
            self._stopping = False
            self.run_button.setEnabled(True)
            self.video.set_placeholder("Stopped")
            self.run_state_changed.emit(False)

        submit(run.close, on_done=stopped, on_error=lambda _error: stopped(), parent=self)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a run and wait for it (the window is closing)."""
        run, self.run = self.run, None
        self.relay.detach()
        if run is not None:
            run.stop(timeout)
            run.close()


def install_deployments(session: Session, shell: Shell) -> DeploymentsPage:
    """The Deployments dock (hidden until View > Deployments) and its page; returns the page."""
    page = DeploymentsPage(session, shell)
    dock = QDockWidget("Deployments", shell.widget())
    dock.setObjectName("DeploymentsDock")
    dock.setWidget(page)
    shell.add_dock(dock, Qt.DockWidgetArea.RightDockWidgetArea)
    dock.hide()
    app = QApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(page.shutdown)  # no engine outlives the window
    return page
