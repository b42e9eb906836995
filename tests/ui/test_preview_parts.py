"""The preview's parts on their own: relay, video dock, source picker, and what an edit means."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest
from preview_helpers import DEFAULT_SKILL, pixels
from PySide6.QtGui import QImage

from designer.core.engine.events import (
    FrameEvent,
    MetricsEvent,
    NodeErrorEvent,
    NodeStats,
    SourceFrameEvent,
)
from designer.core.engine.frame import BBox, Frame, ObjectMeta
from designer.core.skill import load_skill
from designer.core.skill.build import connect
from designer.ui.preview.changes import classify
from designer.ui.preview.panel import PreviewDock
from designer.ui.preview.relay import EngineRelay
from designer.ui.preview.sources import SourcePicker, probe_webcams


def image(value: int, width: int = 320, height: int = 240) -> np.ndarray:
    array = np.full((height, width, 3), value, np.uint8)
    array.flags.writeable = False
    return array


def person(left: float = 0.25) -> ObjectMeta:
    return ObjectMeta("person", 0.9, BBox(left, 0.25, 0.5, 0.5))


# --- the relay -----------------------------------------------------------------------------


class Subscribable:
    """The part of an Engine the relay uses: its context and subscribe()."""

    def __init__(self) -> None:
        from designer.core.engine.runtime import RunContext

        self.context = RunContext(skill_id="s", instance_id="i", device_id="d")
        self.callbacks = []

    def subscribe(self, callback):
        self.callbacks.append(callback)
        return lambda: self.callbacks.remove(callback)

    def emit(self, event) -> None:
        for callback in self.callbacks:
            callback(event)


def test_relay_hands_over_only_the_newest_frame_and_every_message_in_order(qtbot):
    relay = EngineRelay(interval_ms=10_000)  # ticks by hand here
    engine = Subscribable()
    relay.attach(engine)
    frames, batches = [], []
    relay.frame_ready.connect(frames.append)
    relay.messages_ready.connect(batches.append)

    def produce() -> None:  # an engine thread, far faster than any display
        for index in range(500):
            shown = image(index % 250)
            engine.emit(SourceFrameEvent(str(index), time.time(), shown))
            engine.emit(FrameEvent("log", Frame(shown, str(index), time.time(), [person()])))
        engine.emit(MetricsEvent({"cam": NodeStats(fps=1.0)}))
        engine.emit(MetricsEvent({"cam": NodeStats(fps=2.0)}))

    thread = threading.Thread(target=produce)
    thread.start()
    thread.join()
    metrics = []
    relay.metrics_ready.connect(metrics.append)
    relay.flush()
    relay.flush()  # nothing new: nothing emitted
    assert len(frames) == 1 and frames[0].frame_id == "499"
    assert frames[0].results["log"].frame_id == "499"
    assert [m.nodes["cam"].fps for m in metrics] == [2.0]
    records = [r for batch in batches for r in batch]
    assert [r.frame_id for r in records] == [str(i) for i in range(500)]
    assert records[0].labels == ("person",) and '"skill_id":"s"' in records[0].text


def test_relay_ignores_an_engine_it_was_detached_from(qtbot):
    relay = EngineRelay(interval_ms=10_000)
    old = Subscribable()
    relay.attach(old)
    new = Subscribable()
    relay.attach(new)
    errors = []
    relay.node_error.connect(lambda node, message, fatal: errors.append((node, message)))
    old.emit(NodeErrorEvent("cam", "from the old run"))
    new.emit(NodeErrorEvent("cam", "from the new run"))
    relay.flush()
    assert errors == [("cam", "from the new run")]


def test_the_preview_keeps_the_newest_camera_frame_when_results_lag(qtbot):
    """Results two seconds behind the camera: the video shows the newest camera frame, with the
    lagging results drawn on it, and never steps back to the old frame those results came from."""
    relay = EngineRelay(interval_ms=10_000)
    engine = Subscribable()
    relay.attach(engine)
    frames = []
    relay.frame_ready.connect(frames.append)
    shown = {index: image(6 * index) for index in range(40)}
    for index in range(40):  # the camera runs ahead...
        engine.emit(SourceFrameEvent(str(index), time.time(), shown[index]))
    # ...and the model passes frame 35's picture through, untouched, late
    engine.emit(FrameEvent("log", Frame(shown[35], "35", time.time() - 2.0, [person()])))
    relay.flush()
    frame = frames[-1]
    assert frame.frame_id == "39" and frame.image is shown[39]
    assert frame.results["log"].frame_id == "35"
    assert "log" not in frame.own_pixels  # the same picture: nothing of the old frame to show
    # a result later still, with no new camera frame: the newest camera frame stays
    engine.emit(FrameEvent("log", Frame(shown[36], "36", time.time() - 2.0, [person()])))
    relay.flush()
    assert frames[-1].frame_id == "39" and frames[-1].image is shown[39]
    assert frames[-1].results["log"].frame_id == "36" and not frames[-1].own_pixels
    # a node that draws its own picture is shown as drawn
    drawn = image(7)
    engine.emit(FrameEvent("log", Frame(drawn, "37", time.time(), [person()])))
    relay.flush()
    assert frames[-1].frame_id == "39" and frames[-1].own_pixels == {"log"}
    # and the dock paints the newest camera frame for the pass-through results
    dock = PreviewDock(probe_webcams=False)
    qtbot.addWidget(dock)
    dock.set_branches(["log"], {})
    dock.overlay_box.setChecked(False)
    dock.show_frame(frames[1])
    assert tuple(pixels(dock.video.image())[5, 5]) == (6 * 39,) * 3


# --- the video dock ------------------------------------------------------------------------


def preview_frame(relay_value: int, frame_id: str, objects=None):
    from designer.ui.preview.relay import PreviewFrame

    shown = image(relay_value)
    result = Frame(shown, frame_id, time.time() - 0.25, objects if objects is not None else [person()])
    return PreviewFrame(frame_id, time.time(), shown, {"log": result})


@pytest.fixture
def dock(qtbot):
    dock = PreviewDock(probe_webcams=False)
    qtbot.addWidget(dock)
    dock.set_branches(["log", "log2"], {})
    dock.resize(640, 480)
    dock.show()
    return dock


def centre_and_edge(dock) -> tuple[tuple, tuple]:
    array = pixels(dock.video.image())
    height, width = array.shape[:2]
    return tuple(array[height // 2, width // 2]), tuple(array[height // 2, width // 4])


def test_the_dock_draws_the_chosen_branch_with_its_age_and_can_hide_the_overlay(dock):
    dock.show_frame(preview_frame(40, "1"))
    centre, edge = centre_and_edge(dock)
    assert centre == (40, 40, 40) and edge != (40, 40, 40)  # the person's box edge is drawn
    assert "results of frame 1" in dock.video.caption() and "250 ms old" in dock.video.caption()
    dock.overlay_box.setChecked(False)
    assert centre_and_edge(dock)[1] == (40, 40, 40)
    dock.overlay_box.setChecked(True)
    dock.branch.setCurrentIndex(1)  # log2 has no results yet
    assert "no results yet" in dock.video.caption()
    assert centre_and_edge(dock)[1] == (40, 40, 40)


def test_pause_holds_the_picture_and_step_shows_one_more_frame(dock):
    dock.show_frame(preview_frame(10, "1"))
    dock.pause_action.setChecked(True)
    assert dock.step_action.isEnabled()
    dock.show_frame(preview_frame(20, "2"))
    assert dock.video.caption().startswith("frame 1")
    dock.step_action.trigger()
    dock.show_frame(preview_frame(30, "3"))
    dock.show_frame(preview_frame(40, "4"))
    assert dock.video.caption().startswith("frame 3")
    dock.pause_action.setChecked(False)
    dock.show_frame(preview_frame(50, "5"))
    assert dock.video.caption().startswith("frame 5")


def test_snapshot_saves_the_picture_with_its_overlay_as_png(dock, qtbot, tmp_path):
    dock.show_frame(preview_frame(60, "1"))
    task = dock.snapshot(tmp_path / "shot.png")
    with qtbot.waitSignal(task.finished, timeout=5000):
        pass
    saved = QImage(str(tmp_path / "shot.png"))
    assert (saved.width(), saved.height()) == (320, 240)
    assert pixels(saved)[120, 80].tolist() != [60, 60, 60]  # the box edge is in the file


def test_video_keeps_the_aspect_ratio_when_scaled(dock, qtbot):
    dock.show_frame(preview_frame(200, "1"))
    dock.video.resize(800, 300)
    grabbed = pixels(dock.video.grab().toImage())
    height, width = grabbed.shape[:2]
    middle = grabbed[height // 2]
    lit = np.flatnonzero(middle.sum(axis=1) > 300)
    # A 4:3 picture in a wide area: bars left and right, picture width = 4/3 of the height.
    assert lit[0] > 0 and lit[-1] < width - 1
    assert abs((lit[-1] - lit[0] + 1) - height * 4 / 3) <= 3


# --- the source picker ---------------------------------------------------------------------


def test_webcam_probe_runs_off_the_gui_thread_and_lists_what_opens(qtbot):
    picker = SourcePicker(probe=False)
    qtbot.addWidget(picker)
    with qtbot.waitSignal(picker.probed, timeout=30000) as blocker:
        task = picker.probe()
        assert task.running  # the GUI thread goes on while cameras are tried
    found = blocker.args[0]
    labels = [picker.itemText(i) for i in range(picker.count())]
    assert labels[0] == "Skill's Camera Input"
    assert len([text for text in labels if text.startswith("Webcam ")]) == len(found)
    assert found == probe_webcams()


def test_picker_sources_are_what_the_engine_takes(qtbot, tmp_path):
    picker = SourcePicker(probe=False)
    qtbot.addWidget(picker)
    assert picker.source() is None
    with qtbot.waitSignal(picker.source_changed):
        picker.set_source("2")
    assert picker.source() == "2" and picker.currentText() == "Webcam 2"
    picker.set_source("rtsp://user:secret@10.0.0.7/live")
    assert "secret" not in picker.currentText()
    picker.set_source("clip.mp4")
    assert picker.source() == str(tmp_path.cwd() / "clip.mp4")
    picker.set_source(None)
    assert picker.currentText() == "Skill's Camera Input"


# --- what an edit means for a running preview ------------------------------------------------


def test_parameter_edits_go_to_the_engine_and_graph_edits_restart():
    skill = load_skill(DEFAULT_SKILL)
    same = skill.model_copy(deep=True)
    same.layout.nodes["camera"].x = 500.0
    assert classify(skill, same).empty  # moving a node changes nothing for the run

    threshold = skill.model_copy(deep=True)
    threshold.node("people").params["confidence_threshold"] = 70
    threshold.node("detector").params["nms_iou"] = 0.3
    change = classify(skill, threshold)
    assert not change.restart
    assert change.params == {"people": {"confidence_threshold": 70}, "detector": {"nms_iou": 0.3}}

    model = skill.model_copy(deep=True)
    model.node("detector").params["model_path"] = "other.onnx"
    assert "must reopen" in classify(skill, model).restart

    camera = skill.model_copy(deep=True)
    camera.node("camera").params["source"] = "1"
    assert "camera" in classify(skill, camera).restart

    added = skill.model_copy(deep=True)
    added.nodes.append(added.node("log").model_copy(update={"id": "log2"}))
    connect(added, "people", "log2")
    assert "added" in classify(skill, added).restart

    relinked = skill.model_copy(deep=True)
    relinked.edges = [e for e in relinked.edges if e.target.node != "people"]
    connect(relinked, "detector", "log")
    assert classify(skill, relinked).restart


# --- the Qt binding under a long preview ------------------------------------------------------


def test_hours_of_repaints_keep_python_s_none_and_true_alive(qtbot):
    """PySide6 6.12.0 dropped a reference to None on every void call and to True on every
    Python-side emit; under Python 3.11 the designer crashed after minutes of preview."""
    dock = PreviewDock(probe_webcams=False)
    qtbot.addWidget(dock)
    relay = EngineRelay(interval_ms=10_000)
    relay.frame_ready.connect(lambda frame: None)
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for _ in range(2000):
        dock.video.update()
        dock.overlay_box.setToolTip("Draw the results on the video")
        dock.message.emit("x")
    assert sys.getrefcount(None) > none_before - 100
    assert sys.getrefcount(True) > true_before - 100
