"""Insights Log: one POSS-shaped JSON message per frame, readable while the run goes on."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from designer.core.engine.frame import Attribute, BBox, EventMeta, Frame, ObjectMeta, TrackingInfo
from designer.core.engine.nodes.insights_log import InsightsLogRuntime
from designer.core.engine.runtime import NodeError, RunContext
from designer.core.skill.catalog.exports import InsightsLogParams

T0 = 1_764_000_000.25


def context(tmp_path: Path) -> RunContext:
    return RunContext(
        skill_dir=tmp_path / "skill",
        output_dir=tmp_path / "out",
        skill_id="people-counter",
        instance_id="instance-1",
        device_id="edge-7",
    )


def make_frame(index: int) -> Frame:
    person = ObjectMeta(
        label="person",
        confidence=0.91,
        bbox=BBox(0.1, 0.2, 0.3, 0.4),
        timestamp=T0 + index,
        inference_id="inf-1",
        attributes=[Attribute(name="helmet", label="yes", confidence=0.8)],
        tracking_info=TrackingInfo("5", speed=0.1, direction=(1.0, 0.0)),
    )
    crossing = EventMeta(
        type="line_crossing",
        event_id="e1",
        related_ids=["5"],
        properties={"zone": "door", "direction": "in", "in_count": "1", "out_count": "0"},
    )
    return Frame(
        image=np.zeros((48, 64, 3), dtype=np.uint8),
        frame_id=f"frame-{index}",
        timestamp=T0 + index,
        objects=[person],
        events=[crossing],
    )


def read_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_each_frame_is_one_json_line_in_the_poss_shape(tmp_path: Path) -> None:
    log = InsightsLogRuntime("log1", InsightsLogParams(path="logs/today/insights.jsonl"), context(tmp_path))
    log.open()
    for i in range(3):
        assert log.process(make_frame(i)) is None  # an export ends the branch
    log.close()

    messages = read_lines(tmp_path / "out" / "logs" / "today" / "insights.jsonl")
    assert [m["frame_id"] for m in messages] == ["frame-0", "frame-1", "frame-2"]
    message = messages[1]
    assert message["image"]["properties"] == {"height": 48, "width": 64, "color_format": "BGR"}
    assert message["timestamp"] == T0 + 1
    assert (message["instance_id"], message["skill_id"], message["device_id"]) == (
        "instance-1",
        "people-counter",
        "edge-7",
    )
    when = datetime.fromisoformat(message["datetime"])
    assert when.utcoffset().total_seconds() == 0
    assert when == datetime.fromtimestamp(T0 + 1, UTC)

    (obj,) = message["insights_meta"]["objects_meta"]
    assert obj["timestamp"] == T0 + 1
    assert (obj["label"], obj["confidence"], obj["inference_id"]) == ("person", 0.91, "inf-1")
    assert obj["attributes"] == [{"name": "helmet", "label": "yes", "confidence": 0.8}]
    assert obj["bbox"] == {"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4}
    assert obj["tracking_info"]["tracking_id"] == "5"
    (event,) = message["insights_meta"]["events_meta"]
    assert event["type"] == "line_crossing" and event["related_ids"] == ["5"]
    assert event["properties"]["zone"] == "door"


def test_lines_are_on_disk_before_the_log_is_closed(tmp_path: Path) -> None:
    log = InsightsLogRuntime("log1", InsightsLogParams(path="insights.jsonl"), context(tmp_path))
    log.open()
    log.process(make_frame(0))
    assert len(read_lines(tmp_path / "out" / "insights.jsonl")) == 1  # a crash now loses nothing
    log.process(make_frame(1))
    assert len(read_lines(tmp_path / "out" / "insights.jsonl")) == 2
    log.close()
    log.close()  # closing twice is harmless


def test_each_run_starts_the_file_afresh(tmp_path: Path) -> None:
    path = tmp_path / "run.jsonl"
    for run in range(2):
        log = InsightsLogRuntime("log1", InsightsLogParams(path=str(path)), context(tmp_path))
        log.open()
        log.process(make_frame(run))
        log.close()
    assert [m["frame_id"] for m in read_lines(path)] == ["frame-1"]


def test_a_path_that_cannot_be_opened_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "out" / "not-a-folder"
    blocker.parent.mkdir()
    blocker.write_text("a file where a folder should be")
    log = InsightsLogRuntime("log9", InsightsLogParams(path="not-a-folder/insights.jsonl"), context(tmp_path))
    with pytest.raises(NodeError) as caught:
        log.open()
    assert caught.value.node_id == "log9"
    assert "not-a-folder" in str(caught.value) and "'path'" in str(caught.value)
    log.close()  # safe after a failed open


def test_changing_the_path_while_running_moves_the_log(tmp_path: Path) -> None:
    log = InsightsLogRuntime("log1", InsightsLogParams(path="first.jsonl"), context(tmp_path))
    log.open()
    log.process(make_frame(0))
    assert log.update(InsightsLogParams(path="first.jsonl")) is True  # same path: keeps writing
    log.process(make_frame(1))
    second = InsightsLogParams(path="second/next.jsonl")
    assert log.update(second) is False  # a new file: the engine closes this log, opens the next
    log.close()
    reopened = InsightsLogRuntime("log1", second, context(tmp_path))
    reopened.open()
    reopened.process(make_frame(2))
    reopened.close()
    first_ids = [m["frame_id"] for m in read_lines(tmp_path / "out" / "first.jsonl")]
    assert first_ids == ["frame-0", "frame-1"]
    second_ids = [m["frame_id"] for m in read_lines(tmp_path / "out" / "second" / "next.jsonl")]
    assert second_ids == ["frame-2"]
