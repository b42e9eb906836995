"""Running a deployment from the designer: every camera in one process, off the GUI thread.

The picked camera is shown with the newest results of its skills drawn on it (all skills, or
the one export picked), through the preview's relay: engine threads only store the newest
frame and results, a timer paints. One row per camera x skill says how it is doing (state,
fps, results, errors, restarts), and the values the run needs (``--param`` on a device) are
asked here and never saved. Events reach the view through the run's own subscription, so a
camera that reconnects (a new engine) keeps being shown.
"""

from __future__ import annotations

import dataclasses
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.core.deployment.runner import DeploymentRun, Pair
from designer.core.engine.events import (
    EngineEvent,
    FrameEvent,
    NodeErrorEvent,
    NodeWarningEvent,
    RunState,
    SourceFrameEvent,
)
from designer.core.engine.overlay import draw_insights
from designer.core.skill import Role
from designer.ui.deployments.draft import DeploymentDraft
from designer.ui.preview.panel import ZoneMaker, zone_makers
from designer.ui.preview.relay import EngineRelay, PreviewFrame
from designer.ui.preview.video import VideoWidget
from designer.ui.session import Session
from designer.ui.shell import Shell
from designer.ui.workers import submit

TICK_MS = 1000
RESULT_SEPARATOR = " / "  # "skill / export node", how results of the picked camera are keyed
PAIR_COLUMNS = ("Camera", "Skill", "State", "FPS", "Results", "Errors", "Restarts")


class PairStats:
    """Frames, results and errors per camera x skill (engine threads count, the GUI reads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, list[int]] = {}  # key -> [frames, results, errors]
        self._last: dict[str, int] = {}
        self._at = time.monotonic()

    def on_event(self, pair: Pair, event: EngineEvent) -> None:
        column = {SourceFrameEvent: 0, FrameEvent: 1, NodeErrorEvent: 2}.get(type(event))
        if column is not None:
            with self._lock:
                self._counts.setdefault(pair.key, [0, 0, 0])[column] += 1

    def outcomes(self, key: str) -> tuple[int, int]:
        """Results and errors of the pair so far."""
        with self._lock:
            _frames, results, errors = self._counts.get(key, [0, 0, 0])
        return results, errors

    def rates(self) -> dict[str, float]:
        """Frames a second per pair since the last call."""
        now = time.monotonic()
        with self._lock:
            frames = {key: counts[0] for key, counts in self._counts.items()}
        elapsed = max(now - self._at, 1e-6)
        rates = {key: (count - self._last.get(key, 0)) / elapsed for key, count in frames.items()}
        self._last, self._at = frames, now
        return rates


def camera_rates(pairs: list[Pair], rates: dict[str, float]) -> dict[str, float]:
    """A camera's fps: its fastest skill's (every skill of a camera reads the same frames)."""
    cameras: dict[str, float] = {}
    for pair in pairs:
        cameras[pair.camera.name] = max(cameras.get(pair.camera.name, 0.0), rates.get(pair.key, 0.0))
    return cameras


def compose(frame: PreviewFrame, keys: list[str], makers: dict[str, list[ZoneMaker]]) -> np.ndarray:
    """The camera frame with the results under ``keys`` drawn; a result whose node changed the
    pixels (a privacy mask) is drawn on its own picture, never on the raw one."""
    shown = [key for key in keys if key in frame.results]
    image = next((frame.results[k].image for k in shown if k in frame.own_pixels), frame.image)
    for key in shown:
        result = frame.results[key]
        zones = [make(result.other_meta) for make in makers.get(key, [])]
        image = draw_insights(image, result.objects, zones=zones)
    return image


class LiveView(QGroupBox):
    run_state_changed = Signal(bool)

    def __init__(
        self, session: Session, shell: Shell, draft: DeploymentDraft, parent: QWidget | None = None
    ) -> None:
        super().__init__("Run", parent)
        self.session, self.shell, self.draft = session, shell, draft
        self.run: DeploymentRun | None = None
        self.needs: list[str] = []
        self.values: dict[str, str] = {}  # for this run only: never written to the file
        self._stopping = False
        self._shut = False
        self._stats = PairStats()
        self._route: tuple[str, Callable[[EngineEvent], None] | None] = ("", None)
        self._exports: dict[str, list[str]] = {}  # skill -> its results' keys, first export first
        self._makers: dict[str, list[ZoneMaker]] = {}
        self._last: PreviewFrame | None = None
        self._draft_cameras: list[str] = []
        self._build()
        self.relay = EngineRelay(self)
        self.relay.frame_ready.connect(self._show_frame)
        self.relay.node_error.connect(lambda node, text, _fatal: self.shell.log(f"{node}: {text}"))
        self._timer = QTimer(self, interval=TICK_MS)
        self._timer.timeout.connect(self._tick)

    # --- building ---------------------------------------------------------------------------

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        controls = QHBoxLayout()
        self.run_button = QPushButton("Run", self)
        self.run_button.setToolTip("Run every camera with its skills in one process")
        self.run_button.clicked.connect(lambda _checked=False: self.start())
        self.stop_button = QPushButton("Stop", self)
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(lambda _checked=False: self.stop())
        self.camera_picker = QComboBox(self)
        self.camera_picker.setToolTip("The camera shown")
        self.camera_picker.currentTextChanged.connect(self._pick_camera)
        self.results_picker = QComboBox(self)
        self.results_picker.setToolTip("Whose results are drawn: every skill's, or one export's branch")
        self.results_picker.addItem("All skills", None)
        self.results_picker.currentIndexChanged.connect(lambda _i: self._redraw())
        self.overlay_box = QCheckBox("Overlay", self, checked=True)
        self.overlay_box.toggled.connect(lambda _on: self._redraw())
        for widget in (self.run_button, self.stop_button, QLabel("Camera", self), self.camera_picker):
            controls.addWidget(widget)
        controls.addWidget(self.results_picker, 1)
        controls.addWidget(self.overlay_box)
        layout.addLayout(controls)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.video = VideoWidget(split)
        self.video.set_placeholder("Run the deployment to see a camera, or Test one")
        split.addWidget(self.video)
        split.addWidget(self._build_tables(split))
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        layout.addWidget(split, 1)
        self.rates_label = QLabel(self)
        layout.addWidget(self.rates_label)

    def _build_tables(self, parent: QWidget) -> QWidget:
        box = QWidget(parent)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Values for this run (like --param; not saved)", box))
        self.values_table = QTableWidget(0, 2, box)
        self.values_table.setHorizontalHeaderLabels(["$param", "Value"])
        self.values_table.horizontalHeader().setStretchLastSection(True)
        self.values_table.verticalHeader().hide()
        layout.addWidget(self.values_table, 1)
        self.pairs_table = QTableWidget(0, len(PAIR_COLUMNS), box)
        self.pairs_table.setHorizontalHeaderLabels(list(PAIR_COLUMNS))
        self.pairs_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.pairs_table.verticalHeader().hide()
        self.pairs_table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.pairs_table, 2)
        return box

    # --- what the page tells it -------------------------------------------------------------

    def set_cameras(self, names: list[str]) -> None:
        """The draft's cameras: offered by the picker, except while a run shows its own."""
        self._draft_cameras = names
        if self.run is None:
            self._offer_cameras(names)

    def _offer_cameras(self, names: list[str]) -> None:
        current = self.camera_picker.currentText()
        self.camera_picker.blockSignals(True)
        self.camera_picker.clear()
        self.camera_picker.addItems(names)
        if current in names:
            self.camera_picker.setCurrentText(current)
        self.camera_picker.blockSignals(False)

    def set_needs(self, names: list[str], secrets: set[str] | frozenset[str] = frozenset()) -> None:
        """The ``$param`` names the deployment leaves to the run (those feeding a password or key
        typed masked); values typed earlier are kept."""
        self.needs = names
        self.values_table.setRowCount(len(names))
        for row, name in enumerate(names):
            item = QTableWidgetItem(name)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.values_table.setItem(row, 0, item)
            edit = QLineEdit(self.values.get(name, ""), self.values_table)
            edit.setFrame(False)
            if name in secrets:
                edit.setEchoMode(QLineEdit.EchoMode.Password)
                edit.setPlaceholderText("a secret: kept in memory for this run only")
            edit.textChanged.connect(lambda text, name=name: self.values.__setitem__(name, text))
            self.values_table.setCellWidget(row, 1, edit)

    def value_edit(self, name: str) -> QLineEdit:
        """The field where the value of ``$param(name)`` is typed."""
        row = self.needs.index(name)
        edit = self.values_table.cellWidget(row, 1)
        assert isinstance(edit, QLineEdit)
        return edit

    def show_test(self, camera: str, image: np.ndarray, text: str) -> None:
        """A tested camera's last frame, while nothing runs."""
        if self.run is None:
            self.video.set_frame(image, f"{camera}: {text}")

    # --- running ----------------------------------------------------------------------------

    def run_values(self) -> dict[str, str]:
        return {name: self.values[name] for name in self.needs if self.values.get(name)}

    def start(self) -> None:
        if self.run is not None or self._stopping:
            return
        missing = [name for name in self.needs if not self.values.get(name)]
        if missing:
            self._failed(f"give $param({missing[0]}) a value under 'Values for this run'")
            return
        deployment, base, values = self.draft.deployment, self.draft.base_dir, self.run_values()
        library = self.session.library
        output = Path(tempfile.mkdtemp(prefix="deployment-run-"))

        def build() -> DeploymentRun:
            return DeploymentRun(deployment, base, params=values, output_dir=output, models=library())

        self.run_button.setEnabled(False)
        self.video.clear()
        self.video.set_placeholder("Starting the deployment…")
        submit(build, on_done=self._started, on_error=self._failed, parent=self)

    def _started(self, run: DeploymentRun) -> None:
        if self._shut:  # the window closed while the run was being built
            run.close()
            return
        self.run = run
        self._stats = PairStats()
        run.subscribe(self._stats.on_event)
        run.subscribe(self._forward)
        self._fill_pairs(run)
        self._offer_cameras([c.name for c in run.deployment.cameras])  # edits apply on the next run
        self._pick_camera(self.camera_picker.currentText())
        run.start()
        self._timer.start()
        self.stop_button.setEnabled(True)
        self.run_state_changed.emit(True)
        self.shell.log(
            f"Deployment {run.deployment.name}: {len(run.pairs)} camera x skill pairs running; "
            f"outputs in {run.output_dir}"
        )

    def _failed(self, error: str) -> None:
        self.run_button.setEnabled(True)
        self.video.clear()
        self.video.set_placeholder(f"Cannot run: {error}")
        self.shell.log(f"Deployment cannot run: {error}")

    def stop(self, text: str = "Stopped") -> None:
        run, self.run = self.run, None
        if run is None:
            return
        self._stopping = True
        self._route = ("", None)
        self.relay.detach()
        self._timer.stop()
        self._tick_table(run)
        self.stop_button.setEnabled(False)

        def stopped(_result: object = None) -> None:
            self._stopping = False
            self.run_button.setEnabled(True)
            self._offer_cameras(self._draft_cameras)
            self._last = None
            self.video.clear()
            self.video.set_placeholder(text)
            self.run_state_changed.emit(False)

        submit(run.close, on_done=stopped, on_error=lambda _error: stopped(), parent=self)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop a run and wait for it (the window is closing)."""
        self._shut = True
        run, self.run = self.run, None
        self._route = ("", None)
        self.relay.detach()
        if run is not None:
            run.stop(timeout)
            run.close()

    # --- the picked camera ------------------------------------------------------------------

    def _forward(self, pair: Pair, event: EngineEvent) -> None:
        """(Engine threads.) The picked camera's events, results keyed by skill and node."""
        camera, listener = self._route
        if listener is None or pair.camera.name != camera:
            return
        if isinstance(event, FrameEvent | NodeErrorEvent | NodeWarningEvent):
            event = dataclasses.replace(event, node_id=f"{pair.skill_name}{RESULT_SEPARATOR}{event.node_id}")
        listener(event)

    def _pick_camera(self, name: str) -> None:
        run = self.run
        if run is None:
            return
        pairs = [p for p in run.pairs if p.camera.name == name]
        self._exports, self._makers = {}, {}
        for pair in pairs:
            nodes = pair.engine.plan.nodes
            exports = sorted(n for n, node in nodes.items() if node.spec.role is Role.EXPORT)
            keys = [f"{pair.skill_name}{RESULT_SEPARATOR}{n}" for n in exports]
            self._exports[pair.skill_name] = keys
            self._makers.update(zip(keys, zone_makers(nodes, exports).values(), strict=True))
        self._fill_results_picker()
        self._last = None
        self.video.clear()
        if not pairs:
            self._route = ("", None)
            self.relay.detach()
            self.video.set_placeholder(f"{name or 'The camera'} runs no skill")
            return
        self.video.set_placeholder(f"Waiting for {name}…")
        self._route = (name, self.relay.listen(name, "", run.deployment.device.name))

    def _fill_results_picker(self) -> None:
        keep = self.results_picker.currentData()
        self.results_picker.blockSignals(True)
        self.results_picker.clear()
        self.results_picker.addItem("All skills", None)
        for keys in self._exports.values():
            for key in keys:
                self.results_picker.addItem(f"Results of {key}", key)
        index = self.results_picker.findData(keep)
        self.results_picker.setCurrentIndex(max(index, 0))
        self.results_picker.blockSignals(False)

    def _show_frame(self, frame: object) -> None:
        assert isinstance(frame, PreviewFrame)
        self._last = frame
        self._redraw()

    def _redraw(self) -> None:
        frame = self._last
        if frame is None:
            return
        chosen = self.results_picker.currentData()
        if chosen is not None:
            keys = [chosen]
        else:  # each skill's first export that has results
            keys = [next((k for k in ks if k in frame.results), "") for ks in self._exports.values()]
        drawn = [k for k in keys if k in frame.results]
        image = compose(frame, drawn, self._makers) if self.overlay_box.isChecked() else frame.image
        skills = len({k.split(RESULT_SEPARATOR)[0] for k in drawn})
        caption = (
            f"{self.camera_picker.currentText()} | frame {frame.frame_id} | results of {skills} skill(s)"
        )
        self.video.set_frame(image, caption)

    # --- every second -----------------------------------------------------------------------

    def _fill_pairs(self, run: DeploymentRun) -> None:
        self.pairs_table.setRowCount(len(run.pairs))
        for row, pair in enumerate(run.pairs):
            for column, text in enumerate((pair.camera.name, pair.skill_name)):
                self.pairs_table.setItem(row, column, QTableWidgetItem(text))
        self._tick_table(run)

    def _tick(self) -> None:
        run = self.run
        if run is None:
            return
        self._tick_table(run)
        if run.wait(0):
            self.stop("The deployment ended: every camera x skill stopped")

    def _tick_table(self, run: DeploymentRun) -> None:
        rates = self._stats.rates()
        for row, pair in enumerate(run.pairs):
            results, errors = self._stats.outcomes(pair.key)
            state = pair.engine.state
            if pair.retry_at is not None:
                state_text = "reconnecting"
            else:
                state_text = str(state.value if isinstance(state, RunState) else state)
            cells = (
                state_text,
                f"{rates.get(pair.key, 0.0):.1f}",
                str(results),
                str(errors),
                str(pair.restarts),
            )
            for column, text in enumerate(cells, start=2):
                self.pairs_table.setItem(row, column, QTableWidgetItem(text))
        cameras = camera_rates(run.pairs, rates)
        self.rates_label.setText("   ".join(f"{name}: {fps:.1f} fps" for name, fps in cameras.items()))
