"""Where the preview reads video: the skill's own Camera Input, a webcam, a video file or a URL.

Opening a webcam can take a second or hang on a busy driver, so indexes are probed on a worker
thread and the list fills in when the probe answers; the GUI never waits on a camera.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QFileDialog, QInputDialog, QWidget

from designer.core.engine.sources import mask_credentials
from designer.ui.workers import Task, submit

PROBE_INDEXES = range(6)
VIDEO_FILTER = "Video files (*.mp4 *.avi *.mkv *.mov *.webm *.m4v *.mpg *.mpeg);;All files (*)"
SKILL_CAMERA = "skill"  # item data of the skill's own Camera Input
PICK_FILE = "pick-file"
PICK_URL = "pick-url"
PROBE = "probe"


@dataclass(frozen=True, slots=True)
class Webcam:
    index: int
    width: int
    height: int


def probe_webcams(
    indexes: Iterable[int] = PROBE_INDEXES, cancelled: Callable[[], bool] | None = None
) -> list[Webcam]:
    """The webcams that open and give a frame, with their resolution (slow: run it off the GUI)."""
    import cv2

    if sys.platform.startswith("linux"):  # V4L2 names its devices: skip what is not there, quietly
        indexes = [i for i in indexes if Path(f"/dev/video{i}").exists()]
    found = []
    for index in indexes:
        if cancelled is not None and cancelled():
            break
        capture = cv2.VideoCapture(index)
        try:
            if not capture.isOpened():
                continue
            ok, image = capture.read()
            if ok and image is not None:
                found.append(Webcam(index, int(image.shape[1]), int(image.shape[0])))
        finally:
            capture.release()
    return found


class SourcePicker(QComboBox):
    """``source()`` is what the preview passes to the engine: None for the skill's own camera."""

    source_changed = Signal()
    probed = Signal(list)  # list[Webcam], after each probe

    def __init__(self, parent: QWidget | None = None, *, probe: bool = True) -> None:
        super().__init__(parent)
        self.setToolTip("Video the preview runs on")
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self._current: str | None = None
        self._probe_task: Task | None = None
        self._webcams: list[Webcam] = []
        self._rebuild()
        self.activated.connect(self._on_activated)
        if probe:
            self.probe()

    def source(self) -> str | None:
        return self._current

    def webcams(self) -> list[Webcam]:
        return list(self._webcams)

    def set_source(self, source: str | None) -> None:
        """Choose a source: None (the skill's camera), a webcam index, a file path or a URL."""
        source = source.strip() if source else None
        if source is not None and not source.isdigit() and "://" not in source:
            source = str(Path(source).expanduser().resolve())  # chosen here, not next to the skill
        changed = source != self._current
        self._current = source
        self._rebuild()
        if changed:
            self.source_changed.emit()

    def probe(self) -> Task:
        """Look for webcams again (on a worker thread)."""
        if self._probe_task is not None and self._probe_task.running:
            return self._probe_task
        self._probe_task = submit(probe_webcams, on_done=self._on_probed, parent=self)
        return self._probe_task

    def cancel_probe(self) -> None:
        if self._probe_task is not None:
            self._probe_task.cancel()

    def _on_probed(self, webcams: list[Webcam]) -> None:
        self._webcams = webcams
        self._rebuild()
        self.probed.emit(webcams)

    def _rebuild(self) -> None:
        self.blockSignals(True)
        self.clear()
        self.addItem("Skill's Camera Input", SKILL_CAMERA)
        listed = set()
        for cam in self._webcams:
            self.addItem(f"Webcam {cam.index} ({cam.width}x{cam.height})", str(cam.index))
            listed.add(str(cam.index))
        if self._current is not None and self._current not in listed:
            self.addItem(_describe(self._current), self._current)
        self.insertSeparator(self.count())
        self.addItem("Video file...", PICK_FILE)
        self.addItem("URL or webcam index...", PICK_URL)
        self.addItem("Look for webcams again", PROBE)
        self.setCurrentIndex(max(self.findData(self._current or SKILL_CAMERA), 0))
        self.blockSignals(False)

    def _on_activated(self, index: int) -> None:
        data = self.itemData(index)
        if data == PICK_FILE:
            path, _ = QFileDialog.getOpenFileName(self, "Preview a video file", "", VIDEO_FILTER)
            if path:
                self.set_source(path)
        elif data == PICK_URL:
            text, ok = QInputDialog.getText(
                self, "Preview a stream", "RTSP / HTTP URL, or a webcam index (0, 1, ...):"
            )
            if ok and text.strip():
                self.set_source(text)
        elif data == PROBE:
            self.probe()
        else:
            self.set_source(None if data == SKILL_CAMERA else data)
            return
        self._rebuild()  # back to the current choice when a dialog was cancelled


def _describe(source: str) -> str:
    if source.isdigit():
        return f"Webcam {source}"
    if "://" in source:
        return mask_credentials(source)
    return Path(source).name
