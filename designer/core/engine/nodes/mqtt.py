"""Send Insights to MQTT Endpoint: paho-mqtt (1.6 API: azure-iot-device 2.x needs paho < 2).

paho reconnects by itself with backoff; the outbox keeps what arrives meanwhile.
A QoS 1/2 message published just before the broker went away stays with paho and
is re-sent when it reconnects: this export then waits for that same message
instead of publishing it twice. QoS 0 has no acknowledgement: a message written
to a connection that is dying can be lost (use QoS 1 for at-least-once).
"""

from __future__ import annotations

import ssl
import threading
import time

import paho.mqtt.client as mqtt

from designer.core.engine.nodes.delivery import ExportRuntime, Refused, Transient, safe_name, secret_value
from designer.core.skill.catalog.exports import MqttParams
from designer.core.skill.fields import split_host_port

PASSWORD_ENV = "MQTT_PASSWORD"
ACK_TIMEOUT_S = 10.0
_REFUSALS = {
    mqtt.CONNACK_REFUSED_BAD_USERNAME_PASSWORD,
    mqtt.CONNACK_REFUSED_NOT_AUTHORIZED,
    mqtt.CONNACK_REFUSED_IDENTIFIER_REJECTED,
    mqtt.CONNACK_REFUSED_PROTOCOL_VERSION,
}


class MqttRuntime(ExportRuntime[MqttParams]):
    client: mqtt.Client | None = None  # built by connect(), stopped by disconnect()

    def connect(self) -> None:
        p = self.params
        try:
            _, host, port = split_host_port(p.broker_address)
        except ValueError as exc:
            raise self.fail(f"parameter 'broker_address': {exc}") from None
        host = host.strip("[]")
        self.endpoint = f"mqtt{'s' if p.tls else ''}://{host}:{port}/{p.topic}"
        password = secret_value(p.password, PASSWORD_ENV, node_id=self.node_id, param="password")
        self.secrets = (password,)
        client_id = safe_name(f"{self.context.device_id or 'device'}-{self.node_id}")
        client = mqtt.Client(client_id=client_id, clean_session=True)
        if p.username or password:
            # paho 1.6 takes None (no user name on the wire); types-paho-mqtt says str only
            client.username_pw_set(p.username or None, password or None)  # type: ignore[arg-type]
        if p.tls:
            ca = p.ca_certificate.strip()
            if ca and not self.context.resolve_path(ca).is_file():
                raise self.fail(f"parameter 'ca_certificate': no such file '{self.context.resolve_path(ca)}'")
            try:
                cafile = str(self.context.resolve_path(ca)) if ca else None
                client.tls_set_context(ssl.create_default_context(cafile=cafile))
            except (ssl.SSLError, OSError) as exc:
                raise self.fail(f"parameter 'ca_certificate': cannot load '{ca}': {exc}") from None
        # paho takes seconds as a float (it only computes with them); its stub says int
        client.reconnect_delay_set(min_delay=0.5, max_delay=30)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_connect_fail = self._on_connect_fail
        self._state_lock = threading.Lock()
        self._down = "not connected to the broker yet"
        self._refusal: str | None = None
        self._pending: tuple[bytes, mqtt.MQTTMessageInfo] | None = None
        client.connect_async(host, port, keepalive=30)
        client.loop_start()
        self.client = client

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: dict, rc: int) -> None:
        with self._state_lock:
            if rc == mqtt.CONNACK_ACCEPTED:
                self._down, self._refusal = "", None
            elif rc in _REFUSALS:
                reason = mqtt.connack_string(rc)
                self._refusal = f"the broker {self.endpoint} refused the connection: {reason}"
                if rc in (mqtt.CONNACK_REFUSED_BAD_USERNAME_PASSWORD, mqtt.CONNACK_REFUSED_NOT_AUTHORIZED):
                    self._refusal += " (check 'username' and 'password')"
            else:
                self._down = mqtt.connack_string(rc)

    def _on_connect_fail(self, client: mqtt.Client, userdata: object) -> None:
        with self._state_lock:
            if not self._refusal:
                self._down = "cannot reach the broker: is it running, and is 'broker_address' right?"

    def _on_disconnect(self, client: mqtt.Client, userdata: object, rc: int) -> None:
        with self._state_lock:
            if not self._refusal:
                self._down = "the broker closed the connection" if rc else "disconnected"

    def send(self, payload: bytes) -> None:
        with self._state_lock:
            refusal, down = self._refusal, self._down
        if refusal:
            raise Refused(refusal)
        client = self.client
        if client is None:  # disconnected meanwhile: retried like any failure of the client
            raise Transient(down or "not connected to the broker")
        if self._pending is not None and self._pending[0] == payload:
            info = self._pending[1]  # paho still holds it and re-sends it on reconnect
        else:
            if not client.is_connected():
                raise Transient(down or "not connected to the broker")
            info = client.publish(self.params.topic, payload, qos=self.params.qos)
            if info.rc == mqtt.MQTT_ERR_NO_CONN and self.params.qos > 0:
                self._pending = (payload, info)
            elif info.rc != mqtt.MQTT_ERR_SUCCESS:
                raise Transient(f"publish failed: {mqtt.error_string(info.rc)}")
            else:
                self._pending = (payload, info)
        if not _wait_published(info, ACK_TIMEOUT_S, client):
            raise Transient("the broker did not acknowledge the message")
        self._pending = None

    def disconnect(self) -> None:
        client = self.client
        if client is not None:
            self.client = None
            client.disconnect()
            client.loop_stop()

    def update(self, params: MqttParams) -> bool:
        if params.model_copy(update={"delay_buffer_s": self.params.delay_buffer_s}) != self.params:
            return False  # a new broker, topic or credential: reopen
        self.params = params
        return True


def _wait_published(info: mqtt.MQTTMessageInfo, timeout: float, client: mqtt.Client) -> bool:
    """paho's own wait raises for a message queued while disconnected; this one waits for it,
    giving up early when the connection is gone (paho re-sends it after reconnecting)."""
    deadline = time.monotonic() + timeout
    # paho's private state (its is_published() raises for a message queued while disconnected
    # too); types-paho-mqtt declares only the public attributes.
    condition: threading.Condition = info._condition  # type: ignore[attr-defined]
    with condition:
        while not info._published:  # type: ignore[attr-defined]
            if time.monotonic() >= deadline or not client.is_connected():
                return False
            condition.wait(0.05)
    return True


__all__ = ["MqttRuntime"]
