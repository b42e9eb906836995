"""Edits while the preview runs, and node metrics from a real gRPC server that goes away."""

from __future__ import annotations

import json

import pytest
from engine_helpers import skill_of
from preview_helpers import CLIP, default_skill, shown_people
from preview_helpers import make_window_fixture as make_window_fixture

from designer.core.engine.events import RunState
from designer.core.skill.build import connect
from designer.customnode.samples import FakeDetection
from designer.customnode.server import CustomNodeServer

pytestmark = pytest.mark.timeout(120)


def frame_number(message: dict) -> int:
    return int(message["frame_id"])


def test_a_threshold_change_while_running_changes_the_next_results(make_window, qtbot):
    window = make_window()
    preview = window.preview
    preview.run_action.trigger()
    insights = preview.insights

    def people_confidences(after: int) -> list[float]:
        return [
            o["confidence"]
            for m in insights.messages()
            if frame_number(m) > after
            for o in m["insights_meta"]["objects_meta"]
        ]

    qtbot.waitUntil(lambda: any(c < 0.8 for c in people_confidences(-1)), timeout=30000)
    engine = preview.engine
    skill = default_skill()
    skill.node("people").params["confidence_threshold"] = 80
    changed_at = max(frame_number(m) for m in insights.messages())
    window.canvas.edit(skill)
    assert preview.engine is engine  # a parameter change does not restart
    settle = changed_at + 5  # frames already past the filter keep the old threshold
    qtbot.waitUntil(lambda: len(people_confidences(settle)) >= 10, timeout=30000)
    assert all(c >= 0.8 for c in people_confidences(settle))
    assert any(m.startswith("Preview updated: people") for m in window.messages)


def test_a_structural_change_restarts_the_run_and_says_so(make_window, qtbot):
    window = make_window()
    preview = window.preview
    preview.run_action.trigger()
    shown_people(window, qtbot)
    first = preview.engine
    skill = default_skill()
    skill.nodes.append(skill.node("log").model_copy(update={"id": "log2", "params": {"path": "two.jsonl"}}))
    connect(skill, "people", "log2")
    window.canvas.edit(skill)
    qtbot.waitUntil(lambda: preview.engine is not None and preview.engine is not first, timeout=10000)
    assert any(m.startswith("Preview restarted: nodes were added") for m in window.messages)
    assert set(preview.engine.plan.nodes) == {"detector", "people", "log", "log2"}
    branches = [preview.dock.branch.itemData(i) for i in range(preview.dock.branch.count())]
    assert branches == ["log", "log2"]
    preview.dock.branch.setCurrentIndex(1)
    shown_people(window, qtbot)
    qtbot.waitUntil(lambda: first.state is RunState.STOPPED, timeout=5000)


@pytest.fixture
def fake_server():
    servers = []

    def start(port: int = 0) -> CustomNodeServer:
        server = CustomNodeServer(port, FakeDetection(), host="127.0.0.1").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop(None)


def test_grpc_node_turns_red_when_its_server_stops_and_recovers_when_it_returns(
    make_window, qtbot, fake_server
):
    server = fake_server()
    port = server.port
    skill = skill_of(
        ("camera", "camera@1", {"source": str(CLIP), "loop": True}),
        ("fake", "grpc-endpoint@1", {"endpoint_url": f"127.0.0.1:{port}"}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("camera", "fake"), ("fake", "log")],
        fps=15,
    )
    window = make_window(skill, path=None)
    window.preview.run_action.trigger()
    status = lambda: window.canvas.statuses.get("fake", ("", ""))  # noqa: E731
    qtbot.waitUntil(lambda: status()[1] == "running" and "fps" in status()[0], timeout=30000)
    server.stop(None)
    qtbot.waitUntil(lambda: status()[1] == "error", timeout=20000)
    assert "127.0.0.1" in status()[0] or "server" in status()[0].lower()
    fake_server(port)
    qtbot.waitUntil(lambda: status()[1] == "running" and "fps" in status()[0], timeout=30000)
    # Results flow again: the fake server's car reaches the insights dock.
    count = len(window.preview.insights.messages())
    qtbot.waitUntil(lambda: len(window.preview.insights.messages()) > count + 3, timeout=10000)
    last = window.preview.insights.messages()[-1]
    assert [o["label"] for o in last["insights_meta"]["objects_meta"]] == ["car"], json.dumps(last)


def test_a_sending_export_runs_dry_shows_what_it_would_send_and_sends_nothing(
    make_window, qtbot, fake_server
):
    server = fake_server()
    skill = skill_of(
        ("camera", "camera@1", {"source": str(CLIP), "loop": True}),
        ("fake", "grpc-endpoint@1", {"endpoint_url": f"127.0.0.1:{server.port}"}),
        ("mqtt", "mqtt@1", {"broker_address": "127.0.0.1:9", "topic": "people", "delay_buffer_s": 0.1}),
        links=[("camera", "fake"), ("fake", "mqtt")],
        fps=15,
    )
    window = make_window(skill, path=None)
    window.preview.run_action.trigger()
    status = lambda: window.canvas.statuses.get("mqtt", ("", ""))  # noqa: E731
    # Nothing listens on port 9: a real send would fail; dry, the node counts what it would send.
    qtbot.waitUntil(lambda: "not sent, last 1 car" in status()[0], timeout=30000)
    assert status()[1] == "dry"
    assert not any(e for e in window.canvas.history if e[0] == "mqtt" and e[2] == "error")
