"""Export group: where insights and clips go."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from designer.core.skill.catalog import kan_codecs
from designer.core.skill.catalog.spec import Group, NodeSpec, Params, Role
from designer.core.skill.fields import PLACEHOLDER_RE, Mark, check_host_port, check_url, deploy_field

PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
MODULE_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")

DELAY_HELP = "Seconds between two messages; frames without objects never send."


class VideoSnippetParams(Params):
    filename_prefix: str = Field(
        title="Filename prefix", description="Start of each clip's file name: letters, digits, '-', '_', '.'."
    )
    duration_s: int = Field(10, ge=1, le=600, title="Snippet duration (s)")
    insights_overlay: bool = Field(True, title="Insights overlay", description="Draw boxes into the clip.")
    delay_buffer_s: float = Field(
        120.0, ge=0, title="Delay buffer (s)", description="Seconds between the starts of two clips."
    )
    output_folder: str = deploy_field(
        "snippets",
        marks=(Mark.WRITES_FOLDER,),
        min_length=1,
        title="Local folder",
        description="Where clips are written.",
    )
    blob_container: str = deploy_field(
        "", title="Blob container", description="Azure Blob container to upload to; empty = local only."
    )
    blob_connection_string: str = deploy_field(
        "",
        secret=True,
        title="Storage connection string",
        description="Never exported: use $param(...) or the AZURE_STORAGE_CONNECTION_STRING variable.",
    )

    @field_validator("filename_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        if not PREFIX_RE.match(value) or value in {".", ".."}:
            raise ValueError(
                f"{value!r} cannot be a file name prefix: use letters, digits, '-', '_' or '.', "
                "without spaces or path characters"
            )
        return value


VIDEO_SNIPPET = NodeSpec(
    kind="video-snippet",
    version=1,
    title="Video Snippet",
    group=Group.EXPORT,
    role=Role.EXPORT,
    params=VideoSnippetParams,
    description="Records MP4 clips when objects appear; uploads them to Azure Blob storage if set.",
    runtime="designer.core.engine.nodes.video_snippet:VideoSnippetRuntime",
    icon="clip",
    outputs=(),
    keywords=("mp4", "clip", "recording", "blob", "storage"),
    kan=kan_codecs.VIDEO_SNIPPET,
)


class IotHubParams(Params):
    delay_buffer_s: float = Field(30.0, gt=0, title="Delay buffer (s)", description=DELAY_HELP)
    output_name: str = Field("metrics", min_length=1, title="Module output")
    connection_string: str = deploy_field(
        "",
        secret=True,
        title="Device connection string",
        description="Empty = the IoT Edge environment. Never exported: use $param(...).",
    )
    ca_certificate: str = deploy_field(
        "",
        title="CA certificate",
        description="PEM file the hub's (or gateway's) certificate must chain to; empty = the system's.",
    )


def deploy_upstream(node) -> dict:
    """Deploy hook (see ``process.deploy_container``): an edgeHub route to IoT Hub."""
    return {"route": {"name": f"{node.id}ToUpstream", "output": node.params.output_name, "into": "$upstream"}}


IOTHUB = NodeSpec(
    kind="iothub",
    version=1,
    title="Send Insights to IoT Hub",
    group=Group.EXPORT,
    role=Role.EXPORT,
    params=IotHubParams,
    description="Sends insight messages upstream to Azure IoT Hub.",
    runtime="designer.core.engine.nodes.iothub:IotHubRuntime",
    icon="cloud",
    outputs=(),
    keywords=("azure", "iot", "hub", "telemetry"),
    deploy=deploy_upstream,
    kan=kan_codecs.IOTHUB,
)


class IotEdgeParams(Params):
    module_name: str = deploy_field(min_length=1, title="IoT Edge module name")
    module_input: str = deploy_field(min_length=1, title="IoT Edge module input")
    delay_buffer_s: float = Field(10.0, gt=0, title="Delay buffer (s)", description=DELAY_HELP)

    @field_validator("module_name", "module_input")
    @classmethod
    def _name(cls, value: str) -> str:
        # The text around a $param(...) is checked now; the filled-in value when the skill runs.
        if not MODULE_NAME_RE.match(PLACEHOLDER_RE.sub("x", value)):
            raise ValueError(f"{value!r}: use letters, digits, '-', '_' or '.'")
        return value


def edge_output_name(module_name: str, module_input: str) -> str:
    """The module output an IoT Edge Module export sends on.

    The runtime sends on it and the package exporter routes it
    (``FROM /messages/modules/<this>/outputs/<output> INTO
    BrokeredEndpoint("/modules/<module>/inputs/<input>")``): one rule for both.
    """
    return f"to-{module_name}-{module_input}"


def deploy_module(node) -> dict:
    """Deploy hook (see ``process.deploy_container``): an edgeHub route to another module's input."""
    p = node.params
    into = f'BrokeredEndpoint("/modules/{p.module_name}/inputs/{p.module_input}")'
    output = edge_output_name(p.module_name, p.module_input)
    return {"route": {"name": f"{node.id}ToModule", "output": output, "into": into}}


IOTEDGE = NodeSpec(
    kind="iotedge",
    version=1,
    title="Send Insights to IoT Edge Module",
    group=Group.EXPORT,
    role=Role.EXPORT,
    params=IotEdgeParams,
    description="Sends insight messages to another module on the device through an edgeHub route.",
    runtime="designer.core.engine.nodes.iotedge:IotEdgeRuntime",
    icon="edge",
    outputs=(),
    keywords=("azure", "iot", "edge", "module", "route"),
    deploy=deploy_module,
    kan=kan_codecs.IOTEDGE,
)


class MqttParams(Params):
    broker_address: str = deploy_field(
        "localhost:1883", min_length=1, title="Broker address", description="host:port of the broker."
    )
    topic: str = deploy_field("mqttmessage", min_length=1, title="Topic")
    delay_buffer_s: float = Field(30.0, gt=0, title="Delay buffer (s)", description=DELAY_HELP)
    qos: int = Field(0, ge=0, le=2, title="QoS")
    tls: bool = Field(False, title="TLS")
    username: str = deploy_field("", title="User name")
    password: str = deploy_field("", secret=True, title="Password")
    ca_certificate: str = deploy_field(
        "",
        title="CA certificate",
        description="PEM file the broker's certificate must chain to (TLS); empty = the system's.",
    )

    @field_validator("broker_address")
    @classmethod
    def _broker(cls, value: str) -> str:
        return check_host_port(value)

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if "#" in value or "+" in value:
            raise ValueError("a topic to publish to cannot contain the wildcards '#' or '+'")
        return value


MQTT = NodeSpec(
    kind="mqtt",
    version=1,
    title="Send Insights to MQTT Endpoint",
    group=Group.EXPORT,
    role=Role.EXPORT,
    params=MqttParams,
    description="Publishes insight messages to an MQTT broker.",
    runtime="designer.core.engine.nodes.mqtt:MqttRuntime",
    icon="broadcast",
    outputs=(),
    keywords=("mqtt", "broker", "publish", "mosquitto"),
    kan=kan_codecs.MQTT,
)


class HttpParams(Params):
    url: str = deploy_field(
        min_length=1, title="Endpoint URL", description="Receives one JSON body per frame (POST)."
    )
    timeout_s: float = Field(5.0, gt=0, le=600, title="Timeout (s)")
    bearer_token: str = deploy_field(
        "",
        secret=True,
        title="Bearer token",
        description="Sent as 'Authorization: Bearer ...'. Never exported: $param(...) or HTTP_BEARER_TOKEN.",
    )

    _url = field_validator("url")(check_url)


HTTP = NodeSpec(
    kind="http",
    version=1,
    title="Send Insights to HTTP Endpoint",
    group=Group.EXPORT,
    role=Role.EXPORT,
    params=HttpParams,
    description="POSTs every frame's insight message as a JSON body.",
    runtime="designer.core.engine.nodes.http:HttpRuntime",
    icon="globe",
    outputs=(),
    keywords=("http", "webhook", "post", "rest"),
    kan=kan_codecs.HTTP,
)


class InsightsLogParams(Params):
    path: str = deploy_field(
        "insights.jsonl",
        marks=(Mark.WRITES,),
        min_length=1,
        title="File",
        description="JSON Lines file, one message per frame.",
    )


INSIGHTS_LOG = NodeSpec(
    kind="insights-log",
    version=1,
    title="Insights Log",
    group=Group.EXPORT,
    role=Role.EXPORT,
    params=InsightsLogParams,
    description="Writes every frame's insight message to a local JSON Lines file.",
    runtime="designer.core.engine.nodes.insights_log:InsightsLogRuntime",
    icon="document",
    outputs=(),
    keywords=("log", "jsonl", "file", "debug"),
)

SPECS = (VIDEO_SNIPPET, IOTHUB, IOTEDGE, MQTT, HTTP, INSIGHTS_LOG)
