"""Optimize for device…: make an INT8 / graph-optimised / float16 form of a library model from the
skill's own clip, with progress and Cancel, and show it next to the original.

The work (reading frames, quantizing, the check against the original) runs on a worker through
``designer.ui.workers``; the optimize module (onnx, onnxruntime, OpenCV) is imported there, never
on the GUI thread. ``switch_model_nodes`` moves a skill's model nodes between an original and
its optimized form as one undo step.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.core.models.optimize_targets import FORMS, TARGETS
from designer.core.models.optimize_use import switched_params
from designer.core.skill import Skill
from designer.ui import workers
from designer.ui.icons import icon, state_color

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary
    from designer.core.models.optimize import OptimizeResult
    from designer.core.models.registry import ModelEntry, Optimization

VIDEO_FILTER = "Videos and pictures (*.mp4 *.avi *.mkv *.mov *.webm *.jpg *.jpeg *.png);;All files (*)"


class NodeEditor(Protocol):
    """What switching needs of the canvas: parameter changes on its undo stack."""

    def set_node_params(self, node_id: str, params: dict, label: str = ...) -> None: ...

    def undo_stack(self) -> QUndoStack: ...


def switch_model_nodes(editor: NodeEditor, skill: Skill, to_id: str, from_ids: Collection[str]) -> list[str]:
    """Point every node of ``skill`` naming one of ``from_ids`` at ``to_id``: one undo step.
    Returns the ids of the nodes changed."""
    changes = switched_params(skill, to_id, from_ids)
    if not changes:
        return []
    stack = editor.undo_stack()
    stack.beginMacro(f"Use model {to_id}")
    try:
        for node_id, params in changes.items():
            editor.set_node_params(node_id, params, label=f"Use model {to_id}")
    finally:
        stack.endMacro()
    return list(changes)


def camera_clip(skill: Skill, skill_dir: Path) -> Path | None:
    """The video file the skill's camera reads, when it is one on this machine."""
    from designer.core.skill.compiled import compile_skill

    camera = compile_skill(skill).camera
    source = str(getattr(camera.params, "source", "")).strip() if camera and camera.params else ""
    if not source or source.isdigit() or "://" in source or "$" in source:
        return None
    path = Path(source).expanduser()
    path = path if path.is_absolute() else skill_dir / path
    return path if path.is_file() else None


# -- showing the figures ------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _mb(size: int) -> str:
    return f"{size / 1e6:.1f} MB"


def comparison_rows(opt: Optimization) -> list[tuple[str, str, str]]:
    """(measure, original, optimized) for the side-by-side table."""
    a = opt.agreement
    if a.top1 is not None:
        agreement = ("Top-1 agreement", "reference", _pct(a.top1))
    else:
        iou = "-" if a.mean_iou is None else f"{a.mean_iou:.3f}"
        agreement = (
            "Agreement (IoU 0.5)",
            f"reference: {a.boxes_source} boxes",
            f"precision {_pct(a.precision)}, recall {_pct(a.recall)}, F1 {_pct(a.f1)}; mean IoU {iou}",
        )
    rows = [
        (
            "Cost per frame (CPU here)",
            f"{opt.ms_source:.1f} ms",
            f"{opt.ms_optimized:.1f} ms ({opt.speedup:.2f}x)",
        ),
        ("Size", _mb(opt.size_source), _mb(opt.size_optimized)),
        agreement,
        ("Held-out frames", "", str(opt.held_out_frames)),
        ("Check", "", "passed" if opt.passed else "NOT passed: " + "; ".join(opt.problems)),
    ]
    if opt.calibration:
        rows.append(("Calibration", "", f"{opt.calibration_frames} frames of {Path(opt.calibration).name}"))
    if opt.float_ops:
        kinds: dict[str, int] = {}
        for op in opt.float_ops:
            kinds[op.split(" ", 1)[0]] = kinds.get(op.split(" ", 1)[0], 0) + 1
        rows.append(("Left in float", "", ", ".join(f"{k} x{n}" for k, n in kinds.items())))
    return rows


def comparison_html(opt: Optimization, source_name: str, optimized_name: str) -> str:
    colour = state_color("ok" if opt.passed else "error").name()
    head = (
        f"<tr><th align='left'></th><th align='left'>{html.escape(source_name)}</th>"
        f"<th align='left'>{html.escape(optimized_name)} ({html.escape(opt.target)})</th></tr>"
    )
    body = "".join(
        f"<tr><td style='padding-right:10px'><b>{html.escape(k)}</b></td>"
        f"<td style='padding-right:10px'>{html.escape(a)}</td>"
        + (
            f"<td style='color:{colour}'>{html.escape(b)}</td>"
            if k == "Check"
            else f"<td>{html.escape(b)}</td>"
        )
        + "</tr>"
        for k, a, b in comparison_rows(opt)
    )
    return f"<table cellspacing='2'>{head}{body}</table>"


# -- the work, on a worker ------------------------------------------------------------------------


def run_optimize(
    library: ModelLibrary,
    model_id: str,
    source: str,
    *,
    target: str,
    frames: int,
    name: str | None,
    keep_failed: bool,
    progress: Callable[[float, str], None],
    cancelled: Callable[[], bool],
) -> OptimizeResult:
    from designer.core.models.optimize import optimize_model

    return optimize_model(
        library,
        model_id,
        source,
        target=target,
        frames=frames,
        name=name,
        keep_failed=keep_failed,
        progress=progress,
        cancelled=cancelled,
    )


class OptimizeDialog(QDialog):
    """Pick the frames and the target, run, and see the result next to the original."""

    optimized = Signal(object)  # the new ModelEntry

    def __init__(
        self,
        library: ModelLibrary,
        entry: ModelEntry,
        *,
        clip: Path | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.library, self.entry, self.clip = library, entry, clip
        self.task: workers.Task | None = None
        self.outcome: OptimizeResult | None = None
        self.fractions: list[float] = []
        self.setWindowTitle(f"Optimize {entry.name} for the device")
        self.setWindowIcon(icon("model"))

        self.source = QLineEdit(str(clip) if clip else "")
        self.source.setPlaceholderText("a video of the camera's scene, or a folder of frames")
        self.source.textChanged.connect(self._update)
        self.video_button = QPushButton("Video…")
        self.video_button.clicked.connect(self._pick_video)
        self.folder_button = QPushButton("Folder…")
        self.folder_button.clicked.connect(self._pick_folder)
        self.clip_button = QPushButton("Skill's camera clip")
        self.clip_button.setEnabled(clip is not None)
        self.clip_button.setToolTip(str(clip) if clip else "The skill's camera does not read a video file")
        self.clip_button.clicked.connect(lambda: self.source.setText(str(self.clip)))
        source_row = QHBoxLayout()
        for widget in (self.source, self.video_button, self.folder_button, self.clip_button):
            source_row.addWidget(widget)

        self.frames = QSpinBox()
        self.frames.setRange(1, 500)
        self.frames.setValue(20)
        self.frames.setToolTip("Calibration frames; as many others are held out for the check")
        self.target = QComboBox()
        for target in TARGETS:
            self.target.addItem(f"{target} — {FORMS[target].title}", target)
        self.target.currentIndexChanged.connect(self._update)
        self.name = QLineEdit()
        self.keep_failed = QCheckBox("Add it even when the check against the original fails")
        self.needs = QLabel()
        self.needs.setWordWrap(True)
        self.needs.setStyleSheet("color: palette(placeholder-text);")

        form = QFormLayout()
        form.addRow("Frames from", source_row)
        form.addRow("Calibration frames", self.frames)
        form.addRow("Target", self.target)
        form.addRow("", self.needs)
        form.addRow("New model name", self.name)
        form.addRow("", self.keep_failed)

        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.comparison = QLabel()
        self.comparison.setTextFormat(Qt.TextFormat.RichText)
        self.comparison.setWordWrap(True)
        self.comparison.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.start_button = QPushButton("Optimize")
        self.start_button.setDefault(True)
        self.start_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.comparison, 1)
        layout.addLayout(buttons)
        self.resize(680, 420)
        self._update()

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def chosen_target(self) -> str:
        return str(self.target.currentData())

    def _update(self) -> None:
        target = self.chosen_target()
        form = FORMS[target]
        self.needs.setText(
            f"{form.method}. The device needs {form.needs}. Only the CPU can be measured on this machine."
        )
        self.name.setPlaceholderText(f"{self.entry.name} {target}")
        self.frames.setEnabled(target == "cpu-int8" and not self.running)
        self.start_button.setEnabled(bool(self.source.text().strip()) and not self.running)

    def _pick_video(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Frames from a video", self.source.text(), VIDEO_FILTER)
        if path:
            self.source.setText(path)

    def _pick_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Frames from a folder of pictures", self.source.text())
        if path:
            self.source.setText(path)

    def start(self) -> None:
        if self.running or not self.source.text().strip():
            return
        self.outcome = None
        self.fractions = []
        self.comparison.clear()
        self.progress.setValue(0)
        self._status("Starting…", None)
        self.task = workers.submit(
            run_optimize,
            self.library,
            self.entry.id,
            self.source.text().strip(),
            target=self.chosen_target(),
            frames=self.frames.value(),
            name=self.name.text().strip() or None,
            keep_failed=self.keep_failed.isChecked(),
            on_done=self._done,
            on_error=lambda message: self._status(message, "error"),
            on_progress=self._progressed,
            parent=self,
        )
        self.task.cancelled_.connect(lambda: self._status("Cancelled; nothing was added.", "warning"))
        self.task.finished.connect(self._stopped)
        self._busy(True)

    def cancel(self) -> None:
        """Cancel the run; with none running, close."""
        if self.running and self.task is not None:
            self.task.cancel()
            self._status("Cancelling…", None)
            self.cancel_button.setEnabled(False)
        else:
            self.reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self.running and self.task is not None:
            self.task.cancel()
        super().closeEvent(event)

    def _progressed(self, fraction: float, text: str) -> None:
        self.fractions.append(fraction)
        self.progress.setValue(round(fraction * 1000))
        if text:
            self.status.setText(text)

    def _done(self, result: OptimizeResult) -> None:
        self.outcome = result
        opt = result.optimization
        name = result.entry.name if result.entry else self.name.text().strip() or self.name.placeholderText()
        self.comparison.setText(comparison_html(opt, self.entry.name, name))
        if result.entry is not None:
            state = "ok" if opt.passed else "warning"
            self._status(f"Added {result.entry.id}; the original {self.entry.id} is kept.", state)
            self.optimized.emit(result.entry)
        else:
            self._status("Not added: the check against the original failed.", "error")

    def _stopped(self) -> None:
        self._busy(False)
        if self.outcome is not None:
            self.progress.setValue(1000)
            self.cancel_button.setText("Close")

    def _busy(self, busy: bool) -> None:
        for widget in (self.source, self.video_button, self.folder_button, self.target, self.name):
            widget.setEnabled(not busy)
        self.clip_button.setEnabled(not busy and self.clip is not None)
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self._update()

    def _status(self, text: str, state: str | None) -> None:
        self.status.setStyleSheet(f"color: {state_color(state).name()};" if state else "")
        self.status.setText(text)
