"""The delivery layer every export shares: gating, the on-disk outbox, dry runs, metrics."""

from __future__ import annotations

import json

import pytest
from export_helpers import Events, context, frame, wait_until
from export_servers import HttpEndpoint, unused_port

from designer.core.engine.nodes.delivery import Outbox, OutboxBusy
from designer.core.engine.nodes.http import HttpRuntime
from designer.core.engine.nodes.mqtt import MqttRuntime
from designer.core.skill.catalog.exports import HttpParams, MqttParams


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    for runtime in (HttpRuntime, MqttRuntime):
        monkeypatch.setattr(runtime, "retry_max_s", 0.2)


def test_frames_without_objects_never_send_and_the_delay_buffer_spaces_messages(tmp_path, broker, subscribe):
    sub = subscribe(broker.port)
    params = MqttParams(broker_address=broker.address, topic="site/cam", delay_buffer_s=2.0, qos=1)
    runtime = MqttRuntime("mq", params, context(tmp_path))
    runtime.open()
    # One frame per 0.5 s of the source's clock; objects only from frame 2 on.
    for i in range(12):
        runtime.process(frame(i, objects=0 if i < 2 else 1, step=0.5))
    assert wait_until(lambda: runtime.delivery_stats()["sent"] == 3)
    runtime.close()
    received = [m for m in sub.wait_for(3) if m[0] == "site/cam"]
    # Frames 2, 6 and 10: the first with objects, then one per 2 s.
    assert [json.loads(p)["frame_id"] for _, p in received] == ["2", "6", "10"]


def test_a_full_outbox_drops_the_oldest_warns_and_counts(tmp_path, monkeypatch):
    monkeypatch.setenv("SKILL_DESIGNER_OUTBOX_LIMIT", "5")
    events = Events()
    port = unused_port()  # nothing listens there until the endpoint starts below
    params = HttpParams(url=f"http://127.0.0.1:{port}/insights")
    runtime = HttpRuntime("hook", params, context(tmp_path, events=events))
    runtime.open()
    for i in range(8):
        runtime.process(frame(i))
    stats = runtime.delivery_stats()
    runtime.close()
    assert stats["queued"] == 5 and stats["messages_dropped"] == 3 and stats["messages"] == 8
    assert any("outbox is full" in m and "dropped the oldest" in m for _, m in events.warnings)

    # What is kept is the newest five (minus the one in flight, which is never dropped), in order.
    endpoint = HttpEndpoint(port=port)
    try:
        again = HttpRuntime("hook", params, context(tmp_path))
        again.open()
        ids = [m["frame_id"] for m in endpoint.wait_for(5)]
        again.close()
    finally:
        endpoint.close()
    assert len(ids) == 5 and ids == sorted(ids, key=int) and ids[-4:] == ["4", "5", "6", "7"]


def test_the_outbox_survives_a_restart_and_is_sent_first_in_order(tmp_path):
    params = HttpParams(url=f"http://127.0.0.1:{unused_port()}/insights")
    down = HttpRuntime("hook", params, context(tmp_path))
    down.open()
    for i in range(3):
        down.process(frame(i))
    down.close()  # the runner stops with three messages undelivered

    events = Events()
    endpoint = HttpEndpoint(port=int(params.url.split(":")[2].split("/")[0]))
    try:
        up = HttpRuntime("hook", params, context(tmp_path, events=events))
        up.open()
        for i in range(3, 5):
            up.process(frame(i))
        assert [m["frame_id"] for m in endpoint.wait_for(5)] == ["0", "1", "2", "3", "4"]
        up.close()
    finally:
        endpoint.close()
    assert any("3 messages from an earlier run" in m for _, m in events.warnings)


def test_outbox_files_are_whole_messages_named_in_order(tmp_path):
    box = Outbox(tmp_path / "box", limit=3)
    for i in range(4):
        box.put(f"m{i}".encode())
    assert sorted(p.name for p in (tmp_path / "box").glob("*.msg")) == [
        "0000000000000002.msg",
        "0000000000000003.msg",
        "0000000000000004.msg",
    ]
    (tmp_path / "box" / "0000000000000009.tmp").write_bytes(b"half a mess")  # a crash mid-write
    with pytest.raises(OutboxBusy):  # one run at a time per outbox
        Outbox(tmp_path / "box", limit=3)
    box.release()
    reopened = Outbox(tmp_path / "box", limit=3)
    assert len(reopened) == 3
    seq, payload = reopened.head()
    assert payload == b"m1"  # the entry's header is not part of the message
    reopened.remove(seq)
    reopened.put(b"m4")
    assert reopened.head()[1] == b"m2"
    assert not (tmp_path / "box" / "0000000000000009.tmp").exists()


def test_a_dry_run_builds_counts_and_keeps_the_last_message_but_sends_nothing(tmp_path, http_endpoint):
    runtime = HttpRuntime("hook", HttpParams(url=http_endpoint.url), context(tmp_path, dry_run=True))
    runtime.open()
    for i in range(4):
        runtime.process(frame(i))
    stats = runtime.delivery_stats()
    runtime.close()
    assert (stats["messages"], stats["sent"], stats["queued"]) == (4, 0, 0)
    assert json.loads(stats["last_message"])["frame_id"] == "3"
    assert http_endpoint.requests == 0
    assert not (tmp_path / "out" / ".outbox").exists()


def test_a_dry_run_needs_no_credentials(tmp_path):
    from designer.core.engine.nodes.iothub import IotHubRuntime
    from designer.core.skill.catalog.exports import IotHubParams

    runtime = IotHubRuntime("hub", IotHubParams(), context(tmp_path, dry_run=True))
    runtime.open()  # no connection string and no IoT Edge: fine when nothing is sent
    runtime.process(frame(0))
    assert runtime.delivery_stats()["messages"] == 1
    runtime.close()


def test_the_engine_reports_export_counts_and_a_dry_run_sends_nothing(tmp_path, http_endpoint):
    """What the designer's preview relies on: a dry run through the real engine shows, per
    export node, how many messages it would have sent and the last one."""
    from engine_helpers import Recorder, skill_of
    from video_factory import write_video

    from designer.core.engine.events import MetricsEvent, RunState
    from designer.core.engine.executor import Engine
    from designer.core.engine.runtime import RunContext

    write_video(tmp_path / "clip.avi", frames=10)
    skill = skill_of(
        ("cam", "camera@1", {"source": "clip.avi", "loop": False}),
        ("keep", "filter@1", {}),
        ("hook", "http@1", {"url": http_endpoint.url}),
        links=[("cam", "keep"), ("keep", "hook")],
    )
    for dry in (True, False):
        context = RunContext(skill_dir=tmp_path, output_dir=tmp_path / f"out-{dry}", dry_run=dry)
        engine = Engine(skill, realtime=False, context=context)
        recorder = Recorder()
        engine.subscribe(recorder)
        assert engine.start().wait(60) is RunState.FINISHED
        stats = [e for e in recorder.events if isinstance(e, MetricsEvent)][-1].nodes["hook"]
        assert stats.messages == 10
        assert json.loads(stats.last_message)["frame_id"] == "9"
        if dry:
            assert (stats.sent, stats.queued, http_endpoint.requests) == (0, 0, 0)
        else:
            assert (stats.sent, stats.queued, stats.messages_dropped) == (10, 0, 0)
    assert len(http_endpoint.accepted) == 10


def test_a_message_with_nan_is_refused_naming_the_node_and_counted(tmp_path, http_endpoint):
    from designer.core.engine.runtime import NodeError

    runtime = HttpRuntime("hook", HttpParams(url=http_endpoint.url), context(tmp_path))
    runtime.open()
    bad = frame(0)
    bad.objects[0].confidence = float("nan")
    with pytest.raises(NodeError, match=r"node hook: frame 0: .*not finite"):
        runtime.process(bad)
    runtime.process(frame(1))
    assert [m["frame_id"] for m in http_endpoint.wait_for(1)] == ["1"]
    runtime.close()
    assert runtime.delivery_stats()["messages_dropped"] == 1
