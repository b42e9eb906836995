"""MQTT export against a real mosquitto, checked by a real paho subscriber."""

from __future__ import annotations

import json
import time

import pytest
from export_helpers import Events, context, frame, frame_ids, wait_until

from designer.core.engine.nodes.mqtt import MqttRuntime
from designer.core.engine.runtime import NodeError
from designer.core.skill.catalog.exports import MqttParams


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    monkeypatch.setattr(MqttRuntime, "retry_max_s", 0.3)
    monkeypatch.setattr(MqttRuntime, "refused_retry_s", 0.5)


def mqtt(tmp_path, events: Events | None = None, **params) -> MqttRuntime:
    params.setdefault("delay_buffer_s", 0.5)
    runtime = MqttRuntime("mq", MqttParams(**params), context(tmp_path, events=events))
    runtime.open()
    return runtime


def payloads(sub, topic: str, count: int) -> list[bytes]:
    wait_until(lambda: len({json.loads(p)["frame_id"] for t, p in sub.wait_for(0, 0) if t == topic}) >= count)
    return [p for t, p in sub.wait_for(0, 0) if t == topic]


def test_every_message_arrives_in_order_across_a_broker_restart(tmp_path, broker, subscribe):
    sub = subscribe(broker.port)
    runtime = mqtt(tmp_path, broker_address=broker.address, topic="site/cam1", qos=1)
    for i in range(5):
        runtime.process(frame(i))
    assert len(payloads(sub, "site/cam1", 5)) >= 5

    broker.stop()
    for i in range(5, 10):  # sent while the broker is down: kept in the outbox
        runtime.process(frame(i))
    assert wait_until(lambda: runtime.delivery_stats()["queued"] >= 4, 5)
    broker.start()
    assert sub.resubscribed(), "the test subscriber did not come back"
    for i in range(10, 13):
        runtime.process(frame(i))
    received = payloads(sub, "site/cam1", 13)
    runtime.close()

    assert frame_ids(received) == [str(i) for i in range(13)]
    stats = runtime.delivery_stats()
    assert (stats["sent"], stats["queued"], stats["messages_dropped"]) == (13, 0, 0)
    assert json.loads(received[0])["device_id"] == "edge-7"


def test_tls_with_a_user_name_and_password(tmp_path, broker_factory, certificates, subscribe):
    secure = broker_factory(tls=certificates, passwords={"cam": "pa55word"})
    sub = subscribe(secure.port, tls=certificates, auth=("cam", "pa55word"))
    runtime = mqtt(
        tmp_path,
        broker_address=f"localhost:{secure.port}",
        topic="secure/insights",
        tls=True,
        ca_certificate=str(certificates.ca),
        username="cam",
        password="pa55word",
        qos=1,
    )
    for i in range(3):
        runtime.process(frame(i))
    received = payloads(sub, "secure/insights", 3)
    runtime.close()
    assert frame_ids(received) == ["0", "1", "2"]


def test_a_wrong_password_is_one_clear_error_and_nothing_is_lost(tmp_path, broker_factory):
    guarded = broker_factory(passwords={"cam": "right"})
    events = Events()
    credentials = {"username": "cam", "password": "wrong-pw"}
    runtime = mqtt(tmp_path, events, broker_address=guarded.address, topic="t", qos=1, **credentials)
    for i in range(3):
        runtime.process(frame(i))
    assert wait_until(lambda: events.errors, 10)
    time.sleep(1.0)
    stats = runtime.delivery_stats()
    runtime.close()
    assert stats["queued"] == 3 and stats["sent"] == 0 and stats["messages_dropped"] == 0
    assert len(events.errors) == 1
    node, message = events.errors[0]
    assert node == "mq" and "refused the connection" in message and "'password'" in message
    assert "wrong-pw" not in events.text()


def test_a_broker_down_at_start_gets_everything_once_it_is_up(tmp_path, broker_factory, subscribe):
    from export_servers import free_port

    port = free_port()
    runtime = mqtt(tmp_path, broker_address=f"127.0.0.1:{port}", topic="late", qos=1)
    for i in range(3):
        runtime.process(frame(i))
    time.sleep(0.5)
    assert runtime.delivery_stats()["queued"] == 3
    late = broker_factory(port=port)
    sub = subscribe(late.port)
    received = payloads(sub, "late", 3)
    runtime.close()
    assert frame_ids(received) == ["0", "1", "2"]


def test_a_missing_ca_file_names_the_parameter(tmp_path, broker):
    with pytest.raises(NodeError, match=r"node mq: parameter 'ca_certificate': no such file"):
        mqtt(tmp_path, broker_address=broker.address, tls=True, ca_certificate="missing-ca.pem")


@pytest.mark.parametrize("qos", [0, 1, 2])
def test_the_qos_parameter_is_the_qos_on_the_wire(tmp_path, broker, subscribe, qos):
    sub = subscribe(broker.port, qos=2)  # the broker then delivers at the publisher's own QoS
    runtime = mqtt(tmp_path, broker_address=broker.address, topic=f"site/q{qos}", qos=qos)
    for i in range(3):
        runtime.process(frame(i))
    received = payloads(sub, f"site/q{qos}", 3)
    runtime.close()
    assert frame_ids(received) == ["0", "1", "2"]
    with sub.lock:
        assert set(sub.qos_seen) == {qos}
