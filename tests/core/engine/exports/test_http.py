"""HTTP export against a real local HTTP server: JSON bodies, retries, refusals, credentials."""

from __future__ import annotations

import json
import socket
import time

import pytest
from export_helpers import Events, context, frame, wait_until
from export_servers import HttpEndpoint

from designer.core.engine.nodes.http import HttpRuntime
from designer.core.engine.runtime import NodeError
from designer.core.skill.catalog.exports import HttpParams


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(HttpRuntime, "retry_max_s", 0.2)
    monkeypatch.setattr(HttpRuntime, "refused_retry_s", 0.5)


def http(tmp_path, url: str, events: Events | None = None, **params) -> HttpRuntime:
    runtime = HttpRuntime("hook", HttpParams(url=url, **params), context(tmp_path, events=events))
    runtime.open()
    return runtime


def test_every_frame_is_posted_as_a_json_object_in_order_after_503s(tmp_path, http_endpoint):
    http_endpoint.refuse_first = 3
    events = Events()
    runtime = http(tmp_path, http_endpoint.url, events)
    for i in range(6):
        runtime.process(frame(i, objects=i % 2))  # HTTP posts frames without objects too
    bodies = http_endpoint.wait_for(6)
    runtime.close()

    assert [b["frame_id"] for b in bodies] == ["0", "1", "2", "3", "4", "5"]
    assert http_endpoint.requests == 9  # three refusals, each retried
    content_type, raw = http_endpoint.raw[-1]
    assert content_type == "application/json"
    assert isinstance(json.loads(raw), dict)  # an object, not a JSON string inside JSON
    assert bodies[1]["insights_meta"]["objects_meta"][0]["label"] == "person"
    assert runtime.delivery_stats() | {"last_message": None} == {
        "messages": 6,
        "sent": 6,
        "queued": 0,
        "messages_dropped": 0,
        "last_message": None,
    }
    assert any("reachable again" in m for _, m in events.warnings)


def test_a_4xx_is_not_retried_and_is_reported_with_status_and_first_body_line(tmp_path, http_endpoint):
    http_endpoint.reject = lambda message: message["frame_id"] == "1"
    events = Events()
    runtime = http(tmp_path, http_endpoint.url + "?token=s3cret", events)
    for i in range(3):
        runtime.process(frame(i))
    assert [b["frame_id"] for b in http_endpoint.wait_for(2)] == ["0", "2"]
    runtime.close()

    assert http_endpoint.requests == 3
    assert runtime.delivery_stats()["messages_dropped"] == 1
    (node, message), *_ = events.errors
    assert node == "hook"
    assert "HTTP 400: frame_id not allowed here" in message
    assert "more detail" not in message and "s3cret" not in message


def test_wrong_token_keeps_messages_reports_once_no_retry_storm(tmp_path, http_endpoint, monkeypatch):
    http_endpoint.token = "right"
    events = Events()
    runtime = http(tmp_path, http_endpoint.url, events, bearer_token="wrong-token")
    for i in range(4):
        runtime.process(frame(i))
    time.sleep(1.2)
    stats = runtime.delivery_stats()
    runtime.close()

    assert stats["sent"] == 0 and stats["queued"] == 4 and stats["messages_dropped"] == 0
    assert http_endpoint.requests <= 4  # one try per refused_retry_s, not one per frame or per ms
    assert len(events.errors) == 1
    node, message = events.errors[0]
    assert node == "hook" and "HTTP 401" in message and "bearer_token" in message
    assert "wrong-token" not in events.text()

    # The next run, with the right token from the environment, sends what was kept, in order.
    monkeypatch.setenv("HOOK_TOKEN", "right")
    again = http(tmp_path, http_endpoint.url, bearer_token="${HOOK_TOKEN}")
    assert [b["frame_id"] for b in http_endpoint.wait_for(4)] == ["0", "1", "2", "3"]
    again.close()


def test_token_from_the_documented_variable(tmp_path, http_endpoint, monkeypatch):
    http_endpoint.token = "from-env"
    monkeypatch.setenv("HTTP_BEARER_TOKEN", "from-env")
    runtime = http(tmp_path, http_endpoint.url)
    runtime.process(frame(0))
    assert len(http_endpoint.wait_for(1)) == 1
    runtime.close()


def test_a_missing_token_variable_is_a_clear_error(tmp_path, http_endpoint):
    with pytest.raises(NodeError, match=r"node hook: parameter 'bearer_token' .* NOT_SET_ANYWHERE"):
        http(tmp_path, http_endpoint.url, bearer_token="${NOT_SET_ANYWHERE}")


def test_an_endpoint_down_at_start_gets_everything_once_it_listens(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events = Events()
    runtime = http(tmp_path, f"http://127.0.0.1:{port}/insights", events)
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: any("cannot deliver" in m for _, m in events.warnings), 5)
    assert runtime.delivery_stats()["queued"] == 3

    endpoint = HttpEndpoint(port=port)
    try:
        assert [b["frame_id"] for b in endpoint.wait_for(3)] == ["0", "1", "2"]
    finally:
        runtime.close()
        endpoint.close()


def test_a_hanging_endpoint_never_holds_up_the_run_or_the_other_branches(
    tmp_path, http_endpoint, monkeypatch
):
    import threading

    from engine_helpers import run_skill, skill_of
    from video_factory import write_video

    from designer.core.engine.events import RunState

    monkeypatch.setattr(HttpRuntime, "flush_timeout_s", 0.5)
    http_endpoint.hang = threading.Event()
    write_video(tmp_path / "clip.avi", frames=40)
    skill = skill_of(
        ("cam", "camera@1", {"source": "clip.avi", "loop": False}),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        ("hook", "http@1", {"url": http_endpoint.url, "timeout_s": 30}),
        links=[("cam", "keep"), ("keep", "log"), ("keep", "hook")],
    )
    try:
        engine, recorder, state = run_skill(skill, tmp_path)  # every frame, as fast as it goes
        assert state is RunState.FINISHED, recorder.errors
        assert len((tmp_path / "log.jsonl").read_text().splitlines()) == 40  # the other branch
        stats = engine.metrics().nodes["hook"]
        assert stats.messages == 40 and stats.sent == 0 and stats.queued >= 39  # kept, not lost
    finally:
        http_endpoint.hang.set()
