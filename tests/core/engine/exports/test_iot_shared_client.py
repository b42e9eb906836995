"""Two IoT exports of one skill with the same identity share one azure-iot-device client and one
MQTT connection (the hub drops the older session of an identity that connects twice), against a
local mosquitto on 127.0.0.1:8883 with a test CA."""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from azure.iot.device import IoTHubModuleClient
from export_helpers import context, frame, frame_ids, wait_until
from export_servers import TLS_PORT
from test_iothub import EDGE_VARIABLES, MODULE

from designer.core.engine.nodes.iotedge import IotEdgeRuntime
from designer.core.engine.nodes.iothub import IotHubRuntime
from designer.core.skill.catalog.exports import IotEdgeParams, IotHubParams, edge_output_name

EVENTS = "devices/dev1/modules/mod1/messages/events/"


def connections_to_the_hub() -> int:
    """Established TCP connections from this process to port 8883 (read from /proc)."""
    inodes = set()
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    count = 0
    for table in ("/proc/self/net/tcp", "/proc/self/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            if remote_port == TLS_PORT and fields[3] == "01" and fields[9] in inodes:
                count += 1
    return count


@pytest.fixture
def made_clients(monkeypatch, certificates) -> list:
    """The IoT Edge environment, and every client the library creates from it."""
    for name in (*EDGE_VARIABLES, "IOTHUB_DEVICE_CONNECTION_STRING"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("EdgeHubConnectionString", MODULE)
    monkeypatch.setenv("EdgeModuleCACertificateFile", str(certificates.ca))
    monkeypatch.setattr(IotHubRuntime, "retry_max_s", 0.5)
    monkeypatch.setattr(IotEdgeRuntime, "retry_max_s", 0.5)
    made: list = []
    create = IoTHubModuleClient.create_from_edge_environment

    def spy(**kwargs):
        made.append(create(**kwargs))
        return made[-1]

    monkeypatch.setattr(IoTHubModuleClient, "create_from_edge_environment", staticmethod(spy))
    return made


def by_output(sub) -> dict[str, list[str]]:
    """Frame ids received so far per module output, each once, in arrival order."""
    found: dict[str, list[bytes]] = {}
    for topic, payload in sub.wait_for(0, 0):
        if topic.startswith(EVENTS):
            properties = dict(p.split("=", 1) for p in unquote(topic[len(EVENTS) :]).split("&") if "=" in p)
            found.setdefault(properties.get("$.on", ""), []).append(payload)
    return {output: frame_ids(payloads) for output, payloads in found.items()}


def delivered(sub, expected: dict[str, list[str]]) -> dict[str, list[str]]:
    """What arrived per output, once it is ``expected`` (or after 30 s)."""
    wait_until(lambda: by_output(sub) == expected, 30)
    return by_output(sub)


def test_two_iot_exports_share_one_client_and_one_connection_and_both_deliver_everything(
    tmp_path, tls_broker, certificates, subscribe, made_clients
):
    sub = subscribe(tls_broker.port, tls=certificates)
    assert connections_to_the_hub() == 1  # the test's subscriber
    hub = IotHubRuntime("hub", IotHubParams(output_name="metrics", delay_buffer_s=0.5), context(tmp_path))
    edge_params = IotEdgeParams(module_name="counter", module_input="insights", delay_buffer_s=0.5)
    edge = IotEdgeRuntime("edge", edge_params, context(tmp_path))
    edge_output = edge_output_name("counter", "insights")
    hub.open()
    edge.open()
    assert len(made_clients) == 1 and hub.client is edge.client is made_clients[0]
    for i in range(3):
        hub.process(frame(i))
        edge.process(frame(i))
    sent = {"metrics": ["0", "1", "2"], edge_output: ["0", "1", "2"]}
    assert delivered(sub, sent) == sent
    assert connections_to_the_hub() == 2  # the subscriber and the one shared client

    tls_broker.stop()  # the shared client's outage: both exports keep their messages
    for i in range(3, 5):
        hub.process(frame(i))
        edge.process(frame(i))
    assert wait_until(lambda: hub.delivery_stats()["queued"] == edge.delivery_stats()["queued"] == 2, 10)
    tls_broker.start()
    assert sub.resubscribed(15)
    sent = {"metrics": ["0", "1", "2", "3", "4"], edge_output: ["0", "1", "2", "3", "4"]}
    assert delivered(sub, sent) == sent
    assert wait_until(lambda: connections_to_the_hub() == 2, 5)

    hub.close()  # the client stays open for the export still using it
    edge.process(frame(5))
    sent[edge_output].append("5")
    assert delivered(sub, sent) == sent
    assert connections_to_the_hub() == 2
    edge.close()  # the last one closes it
    assert wait_until(lambda: connections_to_the_hub() == 1, 5)
    assert len(made_clients) == 1
    for runtime in (hub, edge):
        assert runtime.delivery_stats()["messages_dropped"] == 0
    assert {json.loads(p)["frame_id"] for _, p in sub.wait_for(0, 0)} == {str(i) for i in range(6)}
