"""Send Insights to IoT Hub: azure-iot-device over MQTT/TLS, one JSON message per gated frame.

The client comes from the device connection string (parameter, ``${NAME}`` or
``$IOTHUB_DEVICE_CONNECTION_STRING``), else, inside IoT Edge, from the module's
environment (then messages go to the module output ``output_name``). A module
connection string (with ``ModuleId``) also sends to that output.

The library does not queue while it is disconnected: a send fails at once and it
reconnects every ``connection_retry_interval`` seconds. The outbox keeps messages
meanwhile.

One identity (a connection string, or the IoT Edge environment) is one client per process,
shared by every IoT export of the skill and counted: the hub keeps one MQTT session per
identity and drops the older one when a second client connects with it, so two clients
would knock each other off forever. The first export to open creates the client, the last
to close shuts it down; each export keeps its own outbox and output, and every one of them
sees the shared client's failures and reconnects in its own sends.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

from designer.core.engine.nodes.delivery import ExportRuntime, Refused, Transient, scrub, secret_value
from designer.core.engine.runtime import P
from designer.core.skill.catalog.exports import IotHubParams

if TYPE_CHECKING:  # the SDK loads only when an IoT export connects
    from azure.iot.device import IoTHubDeviceClient, IoTHubModuleClient

CONNECTION_STRING_ENV = "IOTHUB_DEVICE_CONNECTION_STRING"
EDGE_ENV = ("IOTEDGE_WORKLOADURI", "IOTEDGE_MODULEID")  # set by the IoT Edge runtime
EDGE_DEBUG_ENV = ("EdgeHubConnectionString", "EdgeModuleCACertificateFile")  # the local debug pair
RETRY_INTERVAL_S = 2
CLOSE_TIMEOUT_S = 3.0
EDGE_IDENTITY_ENV = (*EDGE_ENV, "IOTEDGE_DEVICEID", "IOTEDGE_IOTHUBHOSTNAME", "IOTEDGE_GATEWAYHOSTNAME")

Client = Union["IoTHubModuleClient", "IoTHubDeviceClient"]
ClientKey = tuple[str, ...]


@dataclass
class SharedClient:
    """One client and how many exports hold it."""

    client: Client
    users: int = 0


_clients: dict[ClientKey, SharedClient] = {}
_clients_lock = threading.Lock()


def acquire_client(key: ClientKey, create: Callable[[], Client]) -> Client:
    """The process's client for the identity ``key``, created by ``create`` for the first user.
    Each call must be matched by one ``release_client(key)``; a failing ``create`` holds nothing."""
    with _clients_lock:
        shared = _clients.get(key)
        if shared is None:
            shared = _clients[key] = SharedClient(create())
        shared.users += 1
        return shared.client


def release_client(key: ClientKey, node_id: str) -> None:
    """One user less of ``key``'s client; the last one shuts it down (never waiting long on a dead
    connection)."""
    with _clients_lock:
        shared = _clients.get(key)
        if shared is None:
            return
        shared.users -= 1
        if shared.users > 0:
            return
        del _clients[key]
    done = threading.Thread(target=shared.client.shutdown, name=f"node-{node_id}-close", daemon=True)
    done.start()
    done.join(CLOSE_TIMEOUT_S)


def quiet_library_logs() -> None:
    """The library logs every dropped connection from its background threads; the export
    already reports an outage once, with what it keeps, so those lines are only noise."""
    logging.getLogger("azure.iot.device.common.handle_exceptions").setLevel(logging.ERROR)


def in_edge_environment() -> bool:
    return all(os.environ.get(k) for k in EDGE_ENV) or all(os.environ.get(k) for k in EDGE_DEBUG_ENV)


def parse_connection_string(text: str) -> dict[str, str]:
    fields = {}
    for part in text.split(";"):
        if "=" in part:
            key, value = part.split("=", 1)
            fields[key.strip()] = value.strip()
    return fields


class IotClientExport(ExportRuntime[P]):
    """What the IoT Hub and IoT Edge Module exports share: the process's azure-iot-device client
    for their identity (see the module's docstring)."""

    client: IoTHubModuleClient | IoTHubDeviceClient | None = None
    client_key: ClientKey | None = None  # the identity whose shared client this export holds
    output: str | None = None  # a module output to send on; None for a device's telemetry

    def use_client(self, key: ClientKey, create: Callable[[], Client]) -> None:
        """Hold the shared client for ``key`` (created by ``create`` when no export holds it yet)."""
        self.disconnect()  # a second connect() never holds two
        self.client = acquire_client(key, create)
        self.client_key = key

    def client_kwargs(self) -> dict:
        quiet_library_logs()
        return {"connection_retry": True, "connection_retry_interval": RETRY_INTERVAL_S, "keep_alive": 60}

    def from_edge_environment(self) -> None:
        from azure.iot.device import IoTHubModuleClient

        key = ("edge", *(os.environ.get(k, "") for k in (*EDGE_IDENTITY_ENV, *EDGE_DEBUG_ENV)))
        try:
            self.use_client(
                key, lambda: IoTHubModuleClient.create_from_edge_environment(**self.client_kwargs())
            )
        except (OSError, ValueError, TypeError) as exc:
            raise self.fail(f"cannot create the IoT Edge module client from its environment: {exc}") from None
        self.endpoint = "the IoT Edge hub"

    def send(self, payload: bytes) -> None:
        from azure.iot.device import IoTHubModuleClient, Message
        from azure.iot.device.exceptions import CredentialError

        message = Message(payload.decode("utf-8"), content_encoding="utf-8", content_type="application/json")
        client = self.client
        if client is None:  # disconnected meanwhile: retried like any failure of the client
            raise Transient("not connected")
        try:
            if self.output is not None:
                assert isinstance(client, IoTHubModuleClient), "an output is named only for a module client"
                client.send_message_to_output(message, self.output)
            else:
                client.send_message(message)
        except CredentialError as exc:
            raise Refused(f"{self.endpoint} refused the credentials: {exc}") from None
        except Exception as exc:  # ConnectionFailedError, ConnectionDroppedError, OperationTimeout...
            raise Transient(f"{type(exc).__name__}: {exc}") from None

    def disconnect(self) -> None:
        key, self.client_key, self.client = self.client_key, None, None
        if key is not None:  # the client closes with the last export that holds it
            release_client(key, self.node_id)


class IotHubRuntime(IotClientExport[IotHubParams]):
    def connect(self) -> None:
        from azure.iot.device import IoTHubDeviceClient, IoTHubModuleClient

        p = self.params
        text = secret_value(
            p.connection_string, CONNECTION_STRING_ENV, node_id=self.node_id, param="connection_string"
        )
        fields = parse_connection_string(text)
        self.secrets = (text, fields.get("SharedAccessKey", ""), fields.get("SharedAccessSignature", ""))
        if not text:
            if not in_edge_environment():
                raise self.fail(
                    "no connection string: set parameter 'connection_string' (as $param(...)) or the "
                    f"{CONNECTION_STRING_ENV} variable, or run the skill as an IoT Edge module"
                )
            self.from_edge_environment()
            self.output = p.output_name
            return
        kwargs = self.client_kwargs()
        if p.ca_certificate.strip():
            path = self.context.resolve_path(p.ca_certificate.strip())
            try:
                kwargs["server_verification_cert"] = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise self.fail(f"parameter 'ca_certificate': cannot read '{path}': {exc.strerror}") from None
        module = "ModuleId" in fields
        cls = IoTHubModuleClient if module else IoTHubDeviceClient
        missing = [k for k in ("HostName", "DeviceId") if not fields.get(k)]
        if not (fields.get("SharedAccessKey") or fields.get("SharedAccessSignature") or fields.get("x509")):
            missing.append("SharedAccessKey")
        try:
            if missing:
                raise ValueError(f"it has no {' and no '.join(missing)}")
            self.use_client(
                ("connection string", text), lambda: cls.create_from_connection_string(text, **kwargs)
            )
        except (ValueError, TypeError) as exc:
            # The reason first and the template last: masking hides what follows "SharedAccessKey=".
            why = scrub(str(exc), text)
            raise self.fail(
                f"parameter 'connection_string' is not an IoT Hub connection string: {why}; "
                "the form is HostName=<hub>;DeviceId=<device>;SharedAccessKey=<key>"
            ) from None
        host = fields.get("GatewayHostName") or fields.get("HostName", "?")
        self.endpoint = f"IoT Hub {host} (device {fields.get('DeviceId', '?')})"
        self.output = p.output_name if module else None

    def update(self, params: IotHubParams) -> bool:
        if params.model_copy(update={"delay_buffer_s": self.params.delay_buffer_s}) != self.params:
            return False
        self.params = params
        return True
