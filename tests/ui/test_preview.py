"""The live preview on the real engine: the bundled skill and clip, real models, real gRPC servers."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from preview_helpers import CLIP, default_skill, engine_threads, pixels, shown_people, summary_label
from preview_helpers import make_window_fixture as make_window_fixture
from PySide6.QtGui import QImage

from designer.core.engine.overlay import colour_for

pytestmark = pytest.mark.timeout(90)
SHOTS = os.environ.get("PREVIEW_SHOTS")  # a folder: keep the screenshots to look at them


def box_edge_colour(image: QImage, obj) -> tuple[int, int, int]:
    """The colour on the middle of a box's left edge, as drawn on screen."""
    array = pixels(image)
    height, width = array.shape[:2]
    x = min(max(round(obj.bbox.l * width), 0), width - 1)
    y = min(max(round((obj.bbox.t + obj.bbox.h / 2) * height), 0), height - 1)
    return tuple(int(v) for v in array[y, x])


def keep_shot(widget, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        widget.grab().save(str(Path(SHOTS) / name), "PNG")


def test_default_skill_shows_boxed_people_on_the_bundled_clip(make_window, qtbot, tmp_path):
    window = make_window()
    window.preview.run_action.trigger()
    result, image = shown_people(window, qtbot, at_least=2)
    people = [o for o in result.objects if o.label == "person"]
    # Each person on screen is framed in the overlay colour of its label.
    assert all(box_edge_colour(image, obj) == colour_for("person") for obj in people)
    caption = window.preview.dock.video.caption()
    assert "results of frame" in caption and "ms old" in caption
    grabbed = window.preview.dock.video.grab()
    assert grabbed.save(str(tmp_path / "preview.png"), "PNG")
    assert QImage(str(tmp_path / "preview.png")).width() > 100
    keep_shot(window, "preview-window.png")
    keep_shot(window.preview.dock.video, "preview-video.png")
    # Nodes show their rate and latency while running; the summary sits in the status bar.
    qtbot.waitUntil(lambda: "fps" in window.canvas.statuses.get("detector", ("", ""))[0], timeout=10000)
    assert window.canvas.statuses["detector"][1] == "running"
    assert "ms" in window.canvas.statuses["detector"][0]
    assert "source" in summary_label(window).text() and "CPU" in summary_label(window).text()


def test_the_local_log_writes_by_default_and_messages_reach_the_insights_dock(make_window, qtbot, tmp_path):
    """An Insights Log sends nothing anywhere: the preview has it write its file without "Send for
    real" (network exports stay dry: test_a_network_export_stays_dry_beside_a_writing_log)."""
    window = make_window()
    assert not window.preview.dock.send_box.isChecked()
    window.preview.run_action.trigger()
    insights = window.preview.insights
    qtbot.waitUntil(lambda: len(insights.messages()) >= 5, timeout=30000)
    log_status = lambda: window.canvas.statuses.get("log", ("", ""))  # noqa: E731
    qtbot.waitUntil(lambda: "fps" in log_status()[0], timeout=10000)
    assert log_status()[1] == "running"
    message = insights.messages()[-1]
    assert set(message) >= {"image", "insights_meta", "frame_id", "skill_id", "device_id", "datetime"}
    log = tmp_path / "insights.jsonl"
    qtbot.waitUntil(lambda: log.exists() and log.read_text().count("\n") >= 3, timeout=10000)
    # Filter by label: only messages with a person in them stay.
    insights.label_filter.setText("person")
    shown = insights.messages()
    assert shown and all(
        any(o["label"] == "person" for o in m["insights_meta"]["objects_meta"]) for m in shown
    )
    insights.label_filter.setText("giraffe")
    assert insights.messages() == []
    insights.label_filter.setText("")
    # Pause holds the list; resume catches up.
    insights.pause.setChecked(True)
    held = len(insights.messages())
    qtbot.waitUntil(lambda: len(insights._paused) >= 2, timeout=20000)
    assert len(insights.messages()) == held
    insights.pause.setChecked(False)
    assert len(insights.messages()) >= held + 2
    # Save as JSON Lines: the shown messages, one per line.
    out = tmp_path / "saved.jsonl"
    with qtbot.waitSignal(insights.saved, timeout=10000):
        insights.save(out)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert lines and lines[0]["frame_id"] == insights.messages()[0]["frame_id"]


def test_a_network_export_stays_dry_beside_a_writing_log(make_window, qtbot, tmp_path):
    from designer.core.skill.build import add_node, connect

    skill = default_skill()
    parent = next(e.source.node for e in skill.edges if e.target.node == "log")
    http = add_node(skill, "http@1", node_id="web")
    http.params.update({"url": "http://127.0.0.1:9/people"})
    connect(skill, parent, "web")
    window = make_window(skill)
    window.preview.run_action.trigger()
    status = lambda node: window.canvas.statuses.get(node, ("", ""))  # noqa: E731
    qtbot.waitUntil(lambda: "not sent, last " in status("web")[0], timeout=30000)
    assert status("web")[1] == "dry"
    qtbot.waitUntil(lambda: status("log")[1] == "running", timeout=10000)
    log = tmp_path / "insights.jsonl"
    qtbot.waitUntil(lambda: log.exists() and log.read_text().count("\n") >= 2, timeout=10000)
    window.preview.dock.send_box.setChecked(True)  # on: the web export is no longer dry
    qtbot.waitUntil(lambda: status("web")[1] in ("running", "error", "warning"), timeout=20000)


def test_send_for_real_writes_the_insights_log_in_the_working_directory(make_window, qtbot, tmp_path):
    window = make_window()
    window.preview.dock.send_box.setChecked(True)
    window.preview.run_action.trigger()
    log = tmp_path / "insights.jsonl"
    qtbot.waitUntil(lambda: log.exists() and log.read_text().count("\n") >= 3, timeout=30000)
    window.preview.stop()
    qtbot.waitUntil(lambda: not engine_threads(), timeout=5000)


def test_stop_leaves_no_engine_threads(make_window, qtbot):
    window = make_window()
    window.preview.run_action.trigger()
    shown_people(window, qtbot)
    assert engine_threads()
    window.preview.stop_action.trigger()
    assert not window.preview.running
    qtbot.waitUntil(lambda: not engine_threads(), timeout=5000)
    assert window.canvas.statuses["detector"] == ("", "idle")
    assert window.preview.run_action.isEnabled()


def test_closing_the_window_while_running_stops_cleanly(make_window, qtbot):
    window = make_window()
    window.preview.run_action.trigger()
    shown_people(window, qtbot)
    window.close()
    assert not engine_threads()


def test_a_webcam_that_does_not_exist_gives_a_clear_message(make_window, qtbot):
    window = make_window()
    window.preview.dock.picker.set_source("7")
    window.preview.run_action.trigger()
    qtbot.waitUntil(lambda: any(m.startswith("Preview failed") for m in window.messages), timeout=20000)
    message = next(m for m in window.messages if m.startswith("Preview failed"))
    assert "node camera: cannot open webcam 7" in message
    assert window.canvas.statuses["camera"][1] == "error"
    qtbot.waitUntil(lambda: not window.preview.running, timeout=5000)
    assert window.preview.run_action.isEnabled()


def test_a_skill_with_errors_does_not_run_and_points_at_the_problem(make_window, qtbot):
    skill = default_skill()
    skill.node("people").params["confidence_threshold"] = 500
    window = make_window(skill)
    window.preview.run_action.trigger()
    qtbot.waitUntil(lambda: window.problems_revealed > 0, timeout=10000)
    assert window.canvas.selected == ["people"]
    assert any(m.startswith("Cannot preview: node people [confidence_threshold]") for m in window.messages)
    assert not window.preview.running and not engine_threads()


def test_a_video_file_chosen_in_the_picker_replaces_the_skill_camera(make_window, qtbot, tmp_path):
    skill = default_skill()
    skill.node("camera").params["source"] = "no-such-clip.avi"
    window = make_window(skill)
    window.preview.dock.picker.set_source(str(CLIP))
    window.preview.run_action.trigger()
    shown_people(window, qtbot)


def test_tracking_ids_and_the_zone_line_with_its_counts_are_drawn(make_window, qtbot):
    from preview_helpers import SAMPLES

    from designer.core.engine.overlay import ZONE_COLOUR
    from designer.core.skill import load_skill

    path = SAMPLES / "count-crossings.skill.json"
    window = make_window(load_skill(path), path)
    window.preview.run_action.trigger()
    dock = window.preview.dock

    def tracked() -> bool:
        result = dock._last.results.get("log") if dock._last else None
        return bool(result and any(o.tracking_info for o in result.objects))

    qtbot.waitUntil(tracked, timeout=30000)
    result = dock._last.results["log"]
    assert "zone.crossing.in_count" in result.other_meta
    array = pixels(dock.video.image())
    height, width = array.shape[:2]
    # The line runs from (0, 0.45) to (1, 0.55): its middle is on screen in the zone colour.
    assert tuple(int(v) for v in array[round(0.5 * (height - 1)), width // 2]) == ZONE_COLOUR
    keep_shot(dock.video, "preview-zone.png")


def test_pause_holds_a_file_in_the_engine_and_step_reads_one_frame(make_window, qtbot):
    window = make_window()
    preview = window.preview
    preview.run_action.trigger()
    shown_people(window, qtbot)
    engine = preview.engine
    preview.dock.pause_action.trigger()
    assert engine.paused
    qtbot.wait(300)  # a frame being read when Pause came may still arrive
    read = engine.frames_read
    qtbot.wait(500)
    assert engine.frames_read == read  # nothing read while paused: the skill is not fed either
    preview.dock.step_action.trigger()
    qtbot.waitUntil(lambda: engine.frames_read == read + 1, timeout=5000)
    qtbot.waitUntil(lambda: preview.dock._last.frame_id == str(read), timeout=5000)
    # The stepped frame's own results are drawn, not an older frame's.
    qtbot.waitUntil(lambda: f"results of frame {read}," in preview.dock.video.caption(), timeout=10000)
    preview.dock.pause_action.trigger()
    assert not engine.paused
    qtbot.waitUntil(lambda: engine.frames_read > read + 3, timeout=10000)
