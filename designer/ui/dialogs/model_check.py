"""Check a library model before it is used: what inspection found, its pre-processing (editable,
with presets) and a "Try it" run on a picture, showing the top-5 classes or the boxes drawn.

Shown on the Add model wizard's last page and from the Models page (Check / pre-processing…).
Every run, inspection and save happens on a worker: the GUI thread only draws the result.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from designer.ui import workers
from designer.ui.dialogs.fields import section_label
from designer.ui.icons import icon, state_color

if TYPE_CHECKING:
    import numpy as np

    from designer.core.models.library import ModelLibrary
    from designer.core.models.registry import ModelEntry

#: Names of the value-range presets (designer.core.models.preprocess_settings.PRESETS), listed
#: here so the page builds without importing the model modules on the GUI thread.
PRESET_NAMES = ("0..1", "ImageNet mean/std", "-1..1", "raw 0..255")
CUSTOM = "custom (as found)"
COLOR_ORDERS = ("RGB", "BGR", "GRAY")
RESIZE_MODES = ("stretch", "letterbox")
SAMPLE_CLIP = Path(__file__).resolve().parents[3] / "resources" / "video" / "vtest.avi"


def read_picture(path: str | Path, frame_index: int = 40) -> np.ndarray:
    """A BGR picture from an image file, or a frame of a video file; ValueError saying why not."""
    import cv2

    path = Path(path)
    image = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    if image is not None:
        return image
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"{path}: not a picture or video this machine can read")
        capture.set(cv2.CAP_PROP_POS_FRAMES, frame_index)
        ok, frame = capture.read()
        if not ok:
            capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = capture.read()
    finally:
        capture.release()
    if not ok or frame is None:
        raise ValueError(f"{path}: no frame could be read from it")
    return frame


def _tried(library: ModelLibrary, model_id: str, picture: np.ndarray) -> tuple[list[Any], np.ndarray, str]:
    """(results, picture to show, task): boxes drawn on a copy for a detector."""
    import cv2

    results = library.try_model(model_id, picture)
    shown = picture.copy()
    task = library.get(model_id).type
    if task == "detection":
        h, w = shown.shape[:2]
        for r in results:
            p1 = (round(r.left * w), round(r.top * h))
            p2 = (round((r.left + r.width) * w), round((r.top + r.height) * h))
            cv2.rectangle(shown, p1, p2, (0, 200, 255), 2)
            cv2.putText(
                shown,
                f"{r.label} {r.confidence:.0%}",
                (p1[0], max(12, p1[1] - 4)),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                (0, 200, 255),
                1,
                cv2.LINE_AA,
            )
    return results, shown, task


def inspection_rows(entry: ModelEntry) -> list[tuple[str, str]]:
    """What inspection found, in the words of the page."""
    info, p = entry.info, entry.info.preprocess
    image_input = info.inputs[0] if info.inputs else None
    mean = ", ".join(f"{v:g}" for v in p.mean)
    std = ", ".join(f"{v:g}" for v in p.std)
    labels = info.labels
    head = ", ".join(labels[:6]) + (", …" if len(labels) > 6 else "")
    return [
        ("Output layout", info.layout.kind),
        ("Input", image_input.describe() if image_input else "-"),
        (
            "Pre-processing",
            f"{p.width}x{p.height} {p.color} {p.data_format}, {p.resize}, scale {p.scale:.6g}, "
            f"mean ({mean}), std ({std})",
        ),
        ("Labels", f"{len(labels)} from {info.labels_source}" + (f": {head}" if labels else "")),
        (
            "Measured cost",
            "not measured"
            if entry.inference_ms is None
            else f"{entry.inference_ms:.1f} ms per frame (CPU, this machine)",
        ),
    ]


class ModelCheckPanel(QWidget):
    """Inspection, editable pre-processing and Try it, for one library model."""

    changed = Signal(object)  # the ModelEntry after its pre-processing was saved
    tried = Signal()

    def __init__(self, library: ModelLibrary, entry: ModelEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.entry = entry
        self.picture: np.ndarray | None = None
        self.results: list[Any] = []
        self.busy = False

        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.preset = QComboBox()
        self.preset.addItems([*PRESET_NAMES, CUSTOM])
        self.preset.setToolTip(
            "The range the model expects its pixels in. ImageNet classifiers (EfficientNet, "
            "MobileNet, ResNet) need ImageNet mean/std; YOLO detectors 0..1."
        )
        self.color = QComboBox()
        self.color.addItems(COLOR_ORDERS)
        self.resize_mode = QComboBox()
        self.resize_mode.addItems(RESIZE_MODES)
        self.resize_mode.setToolTip("stretch: fill the input; letterbox: keep the aspect ratio, pad")
        self.apply_button = QPushButton(icon("save"), "Apply")
        self.apply_button.setToolTip("Save these settings with the model (re-inspected and timed)")
        self.apply_button.clicked.connect(self.apply)
        for combo in (self.preset, self.color, self.resize_mode):
            combo.currentIndexChanged.connect(self._edited)
        form = QFormLayout()
        form.addRow("Value range", self.preset)
        form.addRow("Colour order", self.color)
        form.addRow("Resize", self.resize_mode)

        self.picture_button = QPushButton(icon("folder"), "Picture…")
        self.picture_button.setToolTip("Run the model on a picture or a video frame of yours")
        self.picture_button.clicked.connect(self.choose_picture)
        self.sample_button = QPushButton(icon("run"), "Sample frame")
        self.sample_button.setToolTip("Run the model on a frame of the bundled street clip")
        self.sample_button.clicked.connect(lambda: self.try_file(SAMPLE_CLIP))
        tries = QHBoxLayout()
        tries.addWidget(self.picture_button)
        tries.addWidget(self.sample_button)
        tries.addStretch(1)
        self.image = QLabel()
        self.image.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image.setMinimumHeight(120)
        self.answer = QLabel("Try the model on a picture to see what it answers.")
        self.answer.setWordWrap(True)
        self.answer.setTextFormat(Qt.TextFormat.RichText)
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(section_label("What inspection found"))
        layout.addWidget(self.summary)
        layout.addWidget(section_label("Pre-processing"))
        row = QHBoxLayout()
        row.addLayout(form, 1)
        row.addWidget(self.apply_button, 0, Qt.AlignmentFlag.AlignBottom)
        layout.addLayout(row)
        layout.addWidget(section_label("Try it"))
        layout.addLayout(tries)
        results = QHBoxLayout()
        results.addWidget(self.image, 1)
        results.addWidget(self.answer, 1)
        layout.addLayout(results)
        layout.addWidget(self.status)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self.show_entry(entry)

    # -- showing ---------------------------------------------------------------------------------

    def show_entry(self, entry: ModelEntry) -> None:
        self.entry = entry
        self.summary.setText(
            "<table cellspacing='3'>"
            + "".join(
                f"<tr><td style='padding-right:12px' valign='top'><b>{html.escape(k)}</b></td>"
                f"<td>{html.escape(v)}</td></tr>"
                for k, v in inspection_rows(entry)
            )
            + "</table>"
        )
        p = entry.info.preprocess
        for combo, value in (
            (self.preset, self._preset_name()),
            (self.color, p.color),
            (self.resize_mode, p.resize),
        ):
            combo.blockSignals(True)
            combo.setCurrentText(value)
            combo.blockSignals(False)
        self._edited()

    def _preset_name(self) -> str:
        import sys

        settings = sys.modules.get("designer.core.models.preprocess_settings")  # loaded with the entry
        name = settings.preset_of(self.entry.info.preprocess) if settings is not None else None
        return name or CUSTOM

    def pending(self) -> dict[str, Any]:
        """The pre-processing overrides the editors show, over those the model was added with."""
        from designer.core.models.preprocess_settings import preset_overrides

        overrides = dict(self.entry.overrides.preprocess)
        if self.preset.currentText() != CUSTOM:
            overrides.update(preset_overrides(self.preset.currentText()))
        overrides["color"] = self.color.currentText()
        overrides["resize"] = self.resize_mode.currentText()
        return overrides

    def is_edited(self) -> bool:
        p = self.entry.info.preprocess
        return (
            self.preset.currentText() != self._preset_name()
            or self.color.currentText() != p.color
            or self.resize_mode.currentText() != p.resize
        )

    def _edited(self) -> None:
        self.apply_button.setEnabled(self.is_edited() and not self.busy)

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        for widget in (self.picture_button, self.sample_button, self.preset, self.color, self.resize_mode):
            widget.setEnabled(not busy)
        self._edited()
        self.status.setStyleSheet("")
        self.status.setText(text)

    def _failed(self, message: str) -> None:
        self._set_busy(False)
        self.status.setStyleSheet(f"color: {state_color('error').name()};")
        self.status.setText(message)

    # -- applying ----------------------------------------------------------------------------------

    def apply(self) -> workers.Task | None:
        """Save the settings with the model (on a worker), then try it again on the same picture."""
        if not self.is_edited() or self.busy:
            return None
        self._set_busy(True, "Re-inspecting and timing the model with these settings…")
        task = workers.submit(
            self.library.set_preprocess,
            self.entry.id,
            self.pending(),
            on_done=self._applied,
            on_error=self._failed,
        )
        return task

    def _applied(self, entry: ModelEntry) -> None:
        self._set_busy(False, "Saved with the model: skills that use it run with these settings.")
        self.show_entry(entry)
        self.changed.emit(entry)
        if self.picture is not None:
            self.try_picture(self.picture)

    # -- trying ----------------------------------------------------------------------------------

    def choose_picture(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Try the model on",
            "",
            "Pictures and videos (*.jpg *.jpeg *.png *.bmp *.webp *.mp4 *.avi *.mkv *.mov);;All files (*)",
        )
        if path:
            self.try_file(path)

    def try_file(self, path: str | Path) -> workers.Task:
        """Read the picture and run the model on it, both on a worker."""
        self._set_busy(True, f"Running the model on {Path(path).name}…")
        return workers.submit(self._read_and_try, str(path), on_done=self._shown, on_error=self._failed)

    def try_picture(self, picture: np.ndarray) -> workers.Task:
        self._set_busy(True, "Running the model…")
        return workers.submit(self._try, picture, on_done=self._shown, on_error=self._failed)

    def _read_and_try(self, path: str) -> tuple[np.ndarray, list[Any], np.ndarray, str]:
        return self._try(read_picture(path))

    def _try(self, picture: np.ndarray) -> tuple[np.ndarray, list[Any], np.ndarray, str]:
        return (picture, *_tried(self.library, self.entry.id, picture))

    def _shown(self, outcome: tuple[np.ndarray, list[Any], np.ndarray, str]) -> None:
        from PySide6.QtGui import QPixmap

        from designer.ui.preview.video import to_qimage

        self.picture, self.results, shown, task = outcome
        self._set_busy(False)
        pixmap = QPixmap.fromImage(to_qimage(shown))
        self.image.setPixmap(
            pixmap.scaled(
                320, 240, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
        )
        if task == "classification":
            rows = "".join(
                f"<tr><td>{html.escape(r.label)}</td><td align='right'>{r.confidence:.1%}</td></tr>"
                for r in self.results
            )
            self.answer.setText(f"<b>Top {len(self.results)}</b><table cellspacing='3'>{rows}</table>")
        else:
            count = len(self.results)
            names = ", ".join(sorted({r.label for r in self.results})) or "nothing"
            self.answer.setText(
                f"<b>{count} box{'es' if count != 1 else ''}</b> found (confidence ≥ 25%): "
                + html.escape(names)
            )
        self.tried.emit()

    def top_label(self) -> str | None:
        return self.results[0].label if self.results else None


class ModelCheckDialog(QDialog):
    """The check panel on its own, from the Models page."""

    def __init__(self, library: ModelLibrary, entry: ModelEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Check {entry.name}")
        self.setWindowIcon(icon("model"))
        self.panel = ModelCheckPanel(library, entry, self)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.panel, 1)
        layout.addWidget(buttons)
        self.resize(720, 560)
