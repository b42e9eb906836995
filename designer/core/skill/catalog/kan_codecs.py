"""How a node type reads and writes one node of a POSS/KAN ``Skill`` resource: its KAN codec.

A spec's ``kan`` is a :class:`KanCodec`; the walk over a whole resource (parsing, edges,
credentials, the rules KAN's portal enforces, nodes nothing can express) is generic and lives in
``designer.core.skill.kan``. KAN's own vocabulary (node names, configuration keys, its units)
lives here, next to the codec of each node type KAN can express.

A KAN node's ``type`` (source / model / transform / export) is the spec's ``Role``: the two
vocabularies are the same words, so a codec does not restate it. This module imports nothing
from the catalog, so the catalog modules can import it.
"""

from __future__ import annotations

import ast
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.skill.fields import PLACEHOLDER_RE


@dataclass
class KanReport:
    """What a conversion could not carry over, in words a user can act on.

    ``notes`` holds every entry, in order; ``warnings`` are the entries among them that mean the
    converted skill behaves differently or that KAN will refuse it.
    """

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    """Why KAN would refuse or fail to run the exported resource (also in ``warnings``): a caller
    that writes a resource for KAN to run refuses to write it while any is left."""

    def note(self, text: str) -> None:
        self.notes.append(text)

    def warn(self, text: str) -> None:
        self.notes.append(text)
        self.warnings.append(text)

    def refuse(self, text: str) -> None:
        self.warn(text)
        self.refusals.append(text)


# --- KAN's values: every configuration is a string ----------------------------------------------


def parse_kan_labels(text: str) -> list[str]:
    """KAN stored labels as a JSON array string; older ones as Python lists or plain text."""
    text = (text or "").strip()
    if not text:
        return []
    for parse in (json.loads, ast.literal_eval):
        try:
            value = parse(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            return [v.strip() for v in value if v.strip()]
        if isinstance(value, str):
            return [value.strip()] if value.strip() else []
    return [part.strip() for part in text.split(",") if part.strip()]


def kan_number(value: Any, default: float) -> float:
    """A finite number from a KAN string, else ``default`` (KAN stored numbers as free text)."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def kan_text(value: Any) -> str:
    """A configuration value as the string KAN meant (hand-written YAML may hold other types)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, allow_nan=False)
    return str(value)


def kan_bool(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "yes", "1"}


def kan_str(value: Any) -> str:
    """One of our parameter values as a KAN configuration string."""
    return "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


# --- the codec ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KanIn:
    """One KAN node being imported, as a codec's ``from_kan`` sees it."""

    node_id: str
    name: str  # the KAN node's name (for a model node, the model's id)
    config: Mapping[str, str]  # its configurations, as text
    acceleration: str  # the skill's
    defaults: Mapping[str, Any]  # the node type's parameter defaults
    report: KanReport

    def get(self, key: str, default: str = "") -> str:
        return self.config.get(key, default)

    def note(self, text: str) -> None:
        self.report.note(f"node {self.node_id}: {text}")

    def finite(self, raw: Any, value: float, default: float, what: str) -> float:
        """``value`` when it is a finite number; else ``default``, with a note naming the node."""
        if math.isfinite(value):
            return value
        self.note(f"the {what} {raw!r} is not a usable number; it is {default:g} now: check it.")
        return default


@dataclass(frozen=True, slots=True)
class KanOut:
    """One of our nodes being exported, as a codec's ``to_kan`` sees it.

    ``params`` are the node's parameters as written, over its type's defaults: export also takes
    skills that do not validate (the designer exports what is on the canvas), so values may be
    of any type and a codec converts them defensively.
    """

    node_id: str
    params: Mapping[str, Any]
    defaults: Mapping[str, Any]
    report: KanReport

    def text(self, key: str) -> str:
        return kan_str(self.params.get(key))

    def note(self, text: str) -> None:
        self.report.note(f"node {self.node_id}: {text}")


@dataclass(frozen=True, slots=True)
class KanBody:
    """A KAN node as a codec writes it: its ``name`` and its ``configurations`` (all strings)."""

    name: str
    configurations: dict[str, str]


@dataclass(frozen=True, slots=True)
class KanCodec:
    """A node type's conversion to and from KAN (a NodeSpec's ``kan``).

    ``name`` is the KAN node name the type imports from, or None when KAN's name is data (a
    model node's name is its model id) and any name will do. ``claims`` picks, among the types
    sharing one KAN type and name, the one a node's configurations belong to (KAN's
    ``grpc_transform`` is our endpoint or container node). ``from_kan`` returns only the
    parameters KAN stated: the rest keep the spec's defaults.
    """

    name: str | None
    to_kan: Callable[[KanOut], KanBody]
    from_kan: Callable[[KanIn], dict[str, Any]]
    claims: Callable[[Mapping[str, str]], bool] | None = None

    def reads(self, name: str, config: Mapping[str, str]) -> bool:
        """Whether a KAN node of this type's role with this name and configuration is ours."""
        return (self.name is None or self.name == name) and (self.claims is None or self.claims(config))


# --- Camera Input: KAN's `source`/`rtsp`, always filled per deployment ----------------------------

RTSP = "rtsp"


def _camera_from_kan(kan: KanIn) -> dict:
    from designer.core.secrets import has_secrets

    source = str(kan.get("ip") or f"$param({RTSP})")
    if has_secrets(source):
        # A resolved camera URL with credentials (user info or a password in its query): never
        # copy a password into the skill file.
        kan.report.note(f"the camera URL held credentials; it is now the deployment parameter {RTSP}.")
        source = f"$param({RTSP})"
    return {"source": source, "loop": False}


def _camera_to_kan(out: KanOut) -> KanBody:
    source = str(out.params.get("source", ""))
    ip = source if PLACEHOLDER_RE.fullmatch(source) else f"$param({RTSP})"
    if ip != source:
        out.note(f"the camera source becomes the deployment parameter {RTSP}.")
    return KanBody(RTSP, {"ip": ip, "fps": "$param(fps)", "device_name": "$param(device_id)"})


CAMERA = KanCodec(name=None, to_kan=_camera_to_kan, from_kan=_camera_from_kan)


# --- Run ML Model: KAN names the node by the model's id -------------------------------------------

RETRAINING_KEYS = ("confidence_lower", "confidence_upper", "max_images")


def _model_from_kan(kan: KanIn) -> dict:
    if any(str(kan.get(k, "0")) not in ("", "0") for k in RETRAINING_KEYS):
        kan.note(
            "retraining-data capture (confidence_lower/upper, max_images) belongs to "
            "the KAN portal and is not carried over."
        )
    return {"model_id": kan.name}


def _model_to_kan(out: KanOut) -> KanBody:
    name = out.params.get("model_id") or ""
    if not name:
        name = Path(str(out.params.get("model_path") or "model")).stem
        out.note(f"KAN models are ids; the file becomes model {name!r}.")
    return KanBody(str(name), dict.fromkeys(RETRAINING_KEYS, "0"))


MODEL = KanCodec(name=None, to_kan=_model_to_kan, from_kan=_model_from_kan)


# --- Filter ---------------------------------------------------------------------------------------


def _filter_from_kan(kan: KanIn) -> dict:
    params: dict[str, Any] = {"labels": parse_kan_labels(kan.get("labels"))}
    raw = kan.get("confidence_threshold").strip()
    if raw:
        number = kan_number(raw, math.nan)
        # Kept as written when it is not a whole number, so validation points at it instead of a guess.
        params["confidence_threshold"] = int(number) if number.is_integer() else raw
    return params


def _filter_to_kan(out: KanOut) -> KanBody:
    return KanBody(
        "filter_transform",
        {
            "labels": json.dumps(out.params.get("labels"), allow_nan=False),
            "confidence_threshold": out.text("confidence_threshold"),
        },
    )


FILTER = KanCodec(name="filter_transform", to_kan=_filter_to_kan, from_kan=_filter_from_kan)


# --- gRPC: one KAN name, `type: endpoint` or `type: container` ------------------------------------

GRPC = "grpc_transform"
CONTAINER_KEYS = ("container_name", "container_image", "create_options", "restart_policy", "port", "route")


def _is_container(config: Mapping[str, str]) -> bool:
    return config.get("type") == "container"


def _endpoint_from_kan(kan: KanIn) -> dict:
    return {"endpoint_url": kan.get("endpoint_url")}


def _endpoint_to_kan(out: KanOut) -> KanBody:
    return KanBody(GRPC, {"type": "endpoint", "endpoint_url": out.text("endpoint_url")})


def _container_from_kan(kan: KanIn) -> dict:
    port = kan.get("port")
    params: dict[str, Any] = {
        "architecture": "ARM64" if "Jetson" in kan.acceleration else "X64",
        "acceleration": kan.acceleration,
        "container_name": kan.get("container_name"),
        "container_image": kan.get("container_image"),
        "create_options": kan.get("create_options"),
        # ASCII digits only: "²".isdigit() is True but int() refuses it; validation points
        # at whatever is kept as written
        "port": int(port) if re.fullmatch(r"[0-9]{1,9}", str(port)) else port,
        "route": kan.get("route"),
    }
    if kan.get("restart_policy"):
        params["restart_policy"] = kan.get("restart_policy")
    kan.note(
        "KAN did not store the container's environment variables or constraints; they are set "
        f"to the skill's acceleration ({kan.acceleration}): check them."
    )
    return params


def _container_to_kan(out: KanOut) -> KanBody:
    p = out.params
    if p.get("env") or any(p.get(k) != out.defaults.get(k) for k in ("architecture", "acceleration")):
        out.note("KAN cannot deploy environment variables or constraints.")
    config = {key: out.text(key) for key in CONTAINER_KEYS}
    config["endpoint_url"] = f"{config['container_name']}:{config['port']}{config['route']}"
    return KanBody(GRPC, {"type": "container", **config})


GRPC_ENDPOINT = KanCodec(
    name=GRPC,
    to_kan=_endpoint_to_kan,
    from_kan=_endpoint_from_kan,
    claims=lambda config: not _is_container(config),
)
GRPC_CONTAINER = KanCodec(
    name=GRPC, to_kan=_container_to_kan, from_kan=_container_from_kan, claims=_is_container
)


# --- exports --------------------------------------------------------------------------------------

#: KAN's edge default for a snippet's delay buffer, in minutes
KAN_SNIPPET_DELAY_MIN = 1.0
#: Written into every snippet node by KAN's portal; filled per deployment (the blob path).
SNIPPET_DISPLAY_NAMES = ("instance_displayname", "device_displayname", "skill_displayname")


def _delay_from_kan(kan: KanIn) -> dict:
    """``delay_buffer`` (seconds) when KAN stated one; an unusable one falls back with a note."""
    raw = kan.config.get("delay_buffer")
    if raw in (None, ""):
        return {}
    default = kan.defaults["delay_buffer_s"]
    return {"delay_buffer_s": kan.finite(raw, kan_number(raw, math.nan), default, "delay buffer")}


def _snippet_from_kan(kan: KanIn) -> dict:
    raw = kan.config.get("delay_buffer")
    minutes = kan_number(raw, KAN_SNIPPET_DELAY_MIN)
    kan.note(f"the snippet delay buffer was {minutes:g} min in KAN; it is now in seconds.")
    params: dict[str, Any] = {
        "filename_prefix": kan.get("filename_prefix"),
        "duration_s": int(kan_number(kan.config.get("recording_duration"), kan.defaults["duration_s"])),
        "delay_buffer_s": kan.finite(raw, minutes * 60, KAN_SNIPPET_DELAY_MIN * 60, "delay buffer (s)"),
    }
    if "insights_overlay" in kan.config:
        params["insights_overlay"] = kan_bool(kan.config["insights_overlay"])
    return params


def _snippet_to_kan(out: KanOut) -> KanBody:
    delay_s = kan_number(out.params.get("delay_buffer_s"), out.defaults["delay_buffer_s"])
    return KanBody(
        "video_snippet_export",
        {
            "filename_prefix": out.text("filename_prefix"),
            "recording_duration": out.text("duration_s"),
            "insights_overlay": kan_str(bool(out.params.get("insights_overlay"))),
            "delay_buffer": f"{max(1.0, delay_s / 60):g}",
            **{key: f"$param({key})" for key in SNIPPET_DISPLAY_NAMES},
        },
    )


VIDEO_SNIPPET = KanCodec(name="video_snippet_export", to_kan=_snippet_to_kan, from_kan=_snippet_from_kan)

IOTHUB = KanCodec(
    name="iothub_export",
    to_kan=lambda out: KanBody("iothub_export", {"delay_buffer": out.text("delay_buffer_s")}),
    from_kan=_delay_from_kan,
)

MQTT = KanCodec(
    name="mqtt_export",
    to_kan=lambda out: KanBody(
        "mqtt_export",
        {"broker_address": out.text("broker_address"), "delay_buffer": out.text("delay_buffer_s")},
    ),
    from_kan=lambda kan: {"broker_address": kan.get("broker_address"), **_delay_from_kan(kan)},
)

IOTEDGE = KanCodec(
    name="iotedge_export",
    to_kan=lambda out: KanBody(
        "iotedge_export",
        {
            "module_name": out.text("module_name"),
            "module_input": out.text("module_input"),
            "delay_buffer": out.text("delay_buffer_s"),
        },
    ),
    from_kan=lambda kan: {
        "module_name": kan.get("module_name"),
        "module_input": kan.get("module_input"),
        **_delay_from_kan(kan),
    },
)

HTTP = KanCodec(
    name="http_export",
    to_kan=lambda out: KanBody("http_export", {"url": out.text("url")}),
    from_kan=lambda kan: {"url": kan.get("url")},
)
