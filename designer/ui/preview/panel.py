"""The preview dock: source picker, video with the engine's overlay, and the viewing controls.

What is drawn: the newest camera frame with the newest results of the chosen export branch
(boxes, labels, confidences, attributes, tracking ids, that branch's zones and counts), and
how old those results are, so a slow model shows as lagging boxes on live video, not as a
slow video.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from designer.core.engine.overlay import ZoneShape, draw_insights
from designer.core.skill.catalog.process import ZoneParams
from designer.core.skill.compiled import CompiledNode
from designer.ui.icons import icon
from designer.ui.preview.relay import PreviewFrame
from designer.ui.preview.sources import SourcePicker
from designer.ui.preview.video import VideoWidget
from designer.ui.workers import submit

ZoneMaker = Callable[[dict], ZoneShape]


def zone_makers(nodes: Mapping[str, CompiledNode], exports: list[str]) -> dict[str, list[ZoneMaker]]:
    """For each export, the zones upstream of it: drawn with the counts its results carry."""
    parents: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        for child in node.children:
            parents.setdefault(child, []).append(node_id)
    makers: dict[str, list[ZoneMaker]] = {}
    for export in exports:
        seen: set[str] = set()
        frontier = list(parents.get(export, []))
        found: list[ZoneMaker] = []
        while frontier:
            node_id = frontier.pop()
            if node_id in seen or node_id not in nodes:
                continue
            seen.add(node_id)
            params = nodes[node_id].params
            if isinstance(params, ZoneParams):  # a zone: drawn with its counts
                from designer.core.engine.nodes.zone import zone_shape_from_meta

                found.append(partial(zone_shape_from_meta, params))
            frontier.extend(parents.get(node_id, []))
        makers[export] = found
    return makers


class PreviewDock(QDockWidget):
    send_for_real_changed = Signal(bool)
    message = Signal(str)  # for the status bar

    def __init__(self, parent: QWidget | None = None, *, probe_webcams: bool = True) -> None:
        super().__init__("Preview", parent)
        self.setObjectName("preview-video")
        body = QWidget(self)
        self.picker = SourcePicker(body, probe=probe_webcams)
        self.video = VideoWidget(body)
        bar = QToolBar(body)
        bar.setIconSize(bar.iconSize() * 0.75)
        bar.addWidget(self.picker)
        self.pause_action = bar.addAction(icon("pause"), "Pause")
        self.pause_action.setCheckable(True)
        self.pause_action.setToolTip("Hold the picture (the skill keeps running)")
        self.step_action = bar.addAction(icon("step"), "Step")
        self.step_action.setToolTip("While paused: show the next frame")
        self.snapshot_action = bar.addAction(icon("snapshot"), "Snapshot")
        self.snapshot_action.setToolTip("Save the picture as PNG")
        self.overlay_box = QCheckBox("Overlay", body, checked=True)
        self.overlay_box.setToolTip("Draw the results on the video")
        self.branch = QComboBox(body)
        self.branch.setToolTip("Whose results to draw: the branch that ends in this export node")
        self.branch.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.branch.setMinimumContentsLength(8)
        self.branch.hide()
        self.send_box = QCheckBox("Send for real", body)
        self.send_box.setToolTip(
            "Off: export nodes only show what they would send (dry run); a node that only writes "
            "a local file writes it. On: they send and write, for this run"
        )
        # Overlay, branch and Send for real on their own row under the tool bar: at the dock's
        # default width a tool bar puts its last items behind a "››" overflow, whose menu cannot
        # show a check box or a combo box (clicking it did nothing).
        send_row = QHBoxLayout()
        send_row.setContentsMargins(6, 2, 6, 2)
        send_row.addWidget(self.overlay_box)
        send_row.addWidget(self.branch)
        send_row.addStretch(1)
        send_row.addWidget(self.send_box)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(bar)
        layout.addLayout(send_row)
        layout.addWidget(self.video, 1)
        self.setWidget(body)
        self._last: PreviewFrame | None = None
        self._step = False
        # Live video cannot be paused at the source: Pause then holds the picture. A file is
        # paused in the engine instead (the controller clears this), so nothing needs holding.
        self.freeze_on_pause = True
        self._zones: dict[str, list] = {}  # export id -> callables other_meta -> ZoneShape (its branch)
        self.step_action.setEnabled(False)
        self.pause_action.toggled.connect(self.step_action.setEnabled)
        self.step_action.triggered.connect(self.step)
        self.snapshot_action.triggered.connect(self._ask_snapshot)
        self.overlay_box.toggled.connect(lambda _on: self._redraw())
        self.branch.currentIndexChanged.connect(lambda _i: self._redraw())
        self.send_box.toggled.connect(self.send_for_real_changed)

    # --- what the controller tells it -------------------------------------------------------

    def set_branches(self, exports: list[str], zones: dict[str, list]) -> None:
        """The export nodes of the run (first one shown unless the user picked another)."""
        keep = self.branch.currentData()
        self.branch.blockSignals(True)
        self.branch.clear()
        for node_id in exports:
            self.branch.addItem(f"Results of {node_id}", node_id)
        index = self.branch.findData(keep)
        self.branch.setCurrentIndex(index if index >= 0 else 0)
        self.branch.setVisible(len(exports) > 1)
        self.branch.blockSignals(False)
        self._zones = zones

    def show_frame(self, frame: PreviewFrame) -> None:
        """The relay's newest frame (held while a live source is paused, unless stepping)."""
        if self.pause_action.isChecked() and self.freeze_on_pause and not self._step:
            return
        self._step = False
        self._last = frame
        self._redraw()

    def step(self) -> None:
        self._step = True

    def stopped(self, text: str = "Press Run (F5) to preview the skill") -> None:
        self._last = None
        self.video.clear()
        self.video.set_placeholder(text)

    def snapshot(self, path: Path):
        """Save the picture shown (with its overlay) as PNG, off the GUI thread."""
        image = self.video.image()
        if image is None:
            self.message.emit("Nothing to save: the preview shows no picture")
            return None
        return submit(
            _save_png,
            image,
            Path(path),
            on_done=lambda _: self.message.emit(f"Snapshot saved to {path}"),
            on_error=lambda error: self.message.emit(f"Snapshot not saved: {path}: {error}"),
            parent=self,
        )

    # --- drawing ----------------------------------------------------------------------------

    def current_branch(self) -> str | None:
        return self.branch.currentData()

    def _redraw(self) -> None:
        frame = self._last
        if frame is None:
            return
        node_id = self.current_branch() or ""
        result = frame.results.get(node_id)
        image = frame.image
        caption = f"frame {frame.frame_id}"
        if result is not None:
            if node_id in frame.own_pixels:
                image = result.image  # a node changed the pixels: show its picture
            age_ms = max(frame.timestamp - result.timestamp, 0.0) * 1000
            caption += f" | results of frame {result.frame_id}, {age_ms:.0f} ms old"
            if self.overlay_box.isChecked():
                zones = [make(result.other_meta) for make in self._zones.get(node_id, [])]
                image = draw_insights(image, result.objects, zones=zones)
        else:
            caption += " | no results yet"
        self.video.set_frame(image, caption)

    def _ask_snapshot(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save snapshot", "snapshot.png", "PNG images (*.png)")
        if path:
            self.snapshot(Path(path))


def _save_png(image, path: Path) -> str:
    if not image.save(str(path), "PNG"):
        raise OSError(f"cannot write {path}")
    return str(path)
