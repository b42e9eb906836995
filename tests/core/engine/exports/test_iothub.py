"""IoT Hub and IoT Edge Module exports with the real azure-iot-device library over MQTT/TLS,
against a local mosquitto on 127.0.0.1:8883 with a test CA (no cloud)."""

from __future__ import annotations

import base64
import json
import time
from urllib.parse import unquote

import pytest
from export_helpers import Events, context, frame, frame_ids, wait_until

from designer.core.engine.nodes.iotedge import IotEdgeRuntime
from designer.core.engine.nodes.iothub import IotHubRuntime
from designer.core.engine.runtime import NodeError
from designer.core.skill.catalog.exports import IotEdgeParams, IotHubParams, edge_output_name

KEY = base64.b64encode(b"skill-designer-test-key-32-bytes").decode()
DEVICE = f"HostName=localhost;DeviceId=dev1;SharedAccessKey={KEY}"
MODULE = (
    f"HostName=hub.example.net;DeviceId=dev1;ModuleId=mod1;SharedAccessKey={KEY};GatewayHostName=localhost"
)
EDGE_VARIABLES = (
    "IOTEDGE_WORKLOADURI",
    "IOTEDGE_MODULEID",
    "EdgeHubConnectionString",
    "EdgeModuleCACertificateFile",
)


@pytest.fixture(autouse=True)
def no_edge_environment(monkeypatch):
    for name in (*EDGE_VARIABLES, "IOTHUB_DEVICE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(IotHubRuntime, "retry_max_s", 0.5)
    monkeypatch.setattr(IotEdgeRuntime, "retry_max_s", 0.5)


@pytest.fixture
def edge_environment(monkeypatch, certificates):
    """The IoT Edge local-debug variables the library reads in create_from_edge_environment."""
    monkeypatch.setenv("EdgeHubConnectionString", MODULE)
    monkeypatch.setenv("EdgeModuleCACertificateFile", str(certificates.ca))


def received(sub, prefix: str, count: int) -> list[tuple[str, bytes]]:
    def mine():
        return [(t, p) for t, p in sub.wait_for(0, 0) if t.startswith(prefix)]

    wait_until(lambda: len({json.loads(p)["frame_id"] for _, p in mine()}) >= count, 30)
    return mine()


def test_device_messages_are_json_with_content_type_and_survive_a_broker_restart(
    tmp_path, tls_broker, certificates, subscribe
):
    sub = subscribe(tls_broker.port, tls=certificates)
    params = IotHubParams(connection_string=DEVICE, ca_certificate=str(certificates.ca), delay_buffer_s=0.5)
    runtime = IotHubRuntime("hub", params, context(tmp_path))
    runtime.open()
    for i in range(3):
        runtime.process(frame(i))
    assert len(received(sub, "devices/dev1/messages/events/", 3)) >= 3

    tls_broker.stop()
    for i in range(3, 6):
        runtime.process(frame(i))
    assert wait_until(lambda: runtime.delivery_stats()["queued"] == 3, 10)
    tls_broker.start()
    assert sub.resubscribed(15)
    messages = received(sub, "devices/dev1/messages/events/", 6)
    runtime.close()

    assert frame_ids(p for _, p in messages) == ["0", "1", "2", "3", "4", "5"]
    topic, payload = messages[0]
    properties = unquote(topic.rsplit("/", 1)[1])
    assert "$.ct=application/json" in properties and "$.ce=utf-8" in properties
    assert json.loads(payload)["insights_meta"]["objects_meta"][0]["label"] == "person"
    assert runtime.delivery_stats()["messages_dropped"] == 0


def test_edge_module_sends_on_the_output_named_for_the_target_module(
    tmp_path, tls_broker, certificates, subscribe, edge_environment
):
    sub = subscribe(tls_broker.port, tls=certificates)
    params = IotEdgeParams(module_name="counter", module_input="insights", delay_buffer_s=1)
    runtime = IotEdgeRuntime("edge", params, context(tmp_path))
    runtime.open()
    for i in range(2):
        runtime.process(frame(i))
    messages = received(sub, "devices/dev1/modules/mod1/messages/events/", 2)
    runtime.close()

    assert frame_ids(p for _, p in messages) == ["0", "1"]
    output = edge_output_name("counter", "insights")
    assert unquote(messages[0][0]).split("/events/", 1)[1].startswith(f"$.on={output}&")


def test_iothub_inside_iot_edge_sends_to_its_module_output(
    tmp_path, tls_broker, certificates, subscribe, edge_environment
):
    sub = subscribe(tls_broker.port, tls=certificates)
    runtime = IotHubRuntime("hub", IotHubParams(output_name="metrics", delay_buffer_s=1), context(tmp_path))
    runtime.open()
    runtime.process(frame(0))
    messages = received(sub, "devices/dev1/modules/mod1/messages/events/", 1)
    runtime.close()
    assert unquote(messages[0][0]).split("/events/", 1)[1].startswith("$.on=metrics&")


def test_no_connection_string_and_no_iot_edge_is_a_clear_error(tmp_path):
    with pytest.raises(NodeError, match=r"node hub: no connection string: set parameter 'connection_string'"):
        IotHubRuntime("hub", IotHubParams(), context(tmp_path)).open()
    with pytest.raises(NodeError, match=r"node edge: not running as an IoT Edge module"):
        IotEdgeRuntime("edge", IotEdgeParams(module_name="m", module_input="i"), context(tmp_path)).open()


@pytest.mark.parametrize(
    "broken, reason",
    [
        (f"HostName=localhost;SharedAccessKey={KEY}", "it has no DeviceId"),
        ("HostName=localhost;DeviceId=dev1", "it has no SharedAccessKey"),
        (f"DeviceId=dev1;SharedAccessKey={KEY}", "it has no HostName"),
    ],
)
def test_a_malformed_connection_string_names_the_parameter_says_why_and_hides_the_key(
    tmp_path, broken, reason
):
    from designer.core.secrets import mask_secrets

    with pytest.raises(NodeError) as caught:
        IotHubRuntime("hub", IotHubParams(connection_string=broken), context(tmp_path)).open()
    shown = mask_secrets(str(caught.value))  # what the console and the designer show
    assert shown == (
        f"node hub: parameter 'connection_string' is not an IoT Hub connection string: {reason}; "
        "the form is HostName=<hub>;DeviceId=<device>;SharedAccessKey=***"
    )
    assert KEY not in str(caught.value)


def test_refused_credentials_are_one_error_naming_the_node_and_nothing_is_lost(
    tmp_path, tls_broker_factory, certificates, monkeypatch
):
    monkeypatch.setattr(IotHubRuntime, "refused_retry_s", 0.5)
    tls_broker_factory(passwords={"someone-else": "x"})  # a hub that does not know dev1's token
    events = Events()
    params = IotHubParams(connection_string=DEVICE, ca_certificate=str(certificates.ca))
    runtime = IotHubRuntime("hub", params, context(tmp_path, events=events))
    runtime.open()
    for i in range(3):
        runtime.process(frame(i, step=60))  # a minute apart: each one passes the delay buffer
    assert wait_until(lambda: events.errors, 20), events.text()
    time.sleep(1.0)
    stats = runtime.delivery_stats()
    runtime.close()
    assert (stats["sent"], stats["queued"], stats["messages_dropped"]) == (0, 3, 0)
    assert len(events.errors) == 1
    node, message = events.errors[0]
    assert node == "hub" and "refused the credentials" in message
    assert KEY not in events.text()
