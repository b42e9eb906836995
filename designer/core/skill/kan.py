"""POSS/KAN ``Skill`` custom resources (``ai.symphony/v1``) in and out.

Import maps each KAN node to ours and keeps anything it cannot map as a
visible unknown node; export writes what KAN can express and reports the rest.
Labels are parsed as data (JSON, then Python literals), never evaluated.
"""

from __future__ import annotations

import ast
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from designer.core.secrets import has_secrets
from designer.core.skill.build import auto_layout
from designer.core.skill.catalog import get_spec
from designer.core.skill.document import Edge, Node, PortRef, Settings, Skill, Tag
from designer.core.skill.fields import ACCELERATIONS, PLACEHOLDER_RE, placeholders_in

API_VERSION = "ai.symphony/v1"
KAN_ROUTE = "f"
UNKNOWN_PREFIX = "kan:"
MAX_RESOURCE_CHARS = 5 * 1024 * 1024


class KanError(ValueError):
    """A file that is not a usable KAN Skill resource; the message says where."""


@dataclass
class KanReport:
    """What a conversion could not carry over, in words a user can act on."""

    notes: list[str] = field(default_factory=list)

    def note(self, text: str) -> None:
        self.notes.append(text)


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


def _number(value: Any, default: float) -> float:
    """A finite number from a KAN string, else ``default`` (KAN stored numbers as free text)."""
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return default
    return number if math.isfinite(number) else default


def _text(value: Any) -> str:
    """A configuration value as the string KAN meant (hand-written YAML may hold other types)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, allow_nan=False)
    return str(value)


def _bool(value: Any) -> bool:
    return str(value).strip().lower() in {"true", "yes", "1"}


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases: KAN never wrote them, and nested aliases can expand
    a small file into billions of values ("billion laughs")."""

    def compose_node(self, parent, index):  # type: ignore[no-untyped-def]
        if self.check_event(yaml.AliasEvent):
            mark = self.peek_event().start_mark
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not supported", mark)
        return super().compose_node(parent, index)


def _parse_text(text: str, source: str) -> Any:
    """JSON when it looks like JSON (YAML refuses the tabs JSON allows), else YAML."""
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise KanError(f"{source}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
        except RecursionError:
            raise KanError(f"{source}: not valid JSON: nested too deeply") from None
    try:
        return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader: builds plain data only
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark else ""
        raise KanError(f"{source}{where}: not valid YAML or JSON: {getattr(exc, 'problem', exc)}") from None
    except RecursionError:
        raise KanError(f"{source}: not valid YAML: nested too deeply") from None


def _check_shape(data: dict, source: str) -> None:
    """Refuse, with the place named, the parts import walks that have the wrong type."""
    spec, metadata = data["spec"], data.get("metadata")
    expected = [
        ("metadata", metadata, dict),
        ("metadata.labels", metadata.get("labels") if isinstance(metadata, dict) else None, dict),
        ("spec.nodes", spec.get("nodes"), list),
        ("spec.edges", spec.get("edges"), list),
        ("spec.parameters", spec.get("parameters"), dict),
    ]
    nodes = spec.get("nodes") if isinstance(spec.get("nodes"), list) else []
    for index, node in enumerate(nodes):
        if not isinstance(node, dict):
            raise KanError(f"{source}: spec.nodes[{index}] must be a mapping with id, type, name")
        expected.append((f"spec.nodes[{index}].configurations", node.get("configurations"), dict))
    for where, value, kind in expected:
        if value is not None and not isinstance(value, kind):
            what = "a mapping" if kind is dict else "a list"
            raise KanError(f"{source}: {where} must be {what}, not {type(value).__name__}")


def load_kan_text(text: str, source: str = "<kan>") -> dict:
    """Parse and shape-check a KAN Skill resource; KanError names the file and the place."""
    if len(text) > MAX_RESOURCE_CHARS:
        raise KanError(f"{source}: {len(text):,} characters is too large for a KAN Skill resource")
    data = _parse_text(text, source)
    if not isinstance(data, dict) or data.get("kind") != "Skill":
        raise KanError(f"{source}: not a KAN Skill resource (expected kind: Skill)")
    if data.get("apiVersion") != API_VERSION:
        raise KanError(f"{source}: apiVersion {data.get('apiVersion')!r} is not {API_VERSION}")
    if not isinstance(data.get("spec"), dict):
        raise KanError(f"{source}: the resource has no spec")
    _check_shape(data, source)
    return data


def _camera(config: dict, report: KanReport) -> dict:
    source = str(config.get("ip") or "$param(rtsp)")
    if has_secrets(source):
        # A resolved camera URL with credentials (user info or a password in its query): never
        # copy a password into the skill file.
        report.note("the camera URL held credentials; it is now the deployment parameter rtsp.")
        source = "$param(rtsp)"
    return {"source": source, "loop": False}


def _model(name: str, config: dict, report: KanReport, node_id: str) -> dict:
    if any(
        str(config.get(k, "0")) not in ("", "0")
        for k in ("confidence_lower", "confidence_upper", "max_images")
    ):
        report.note(
            f"node {node_id}: retraining-data capture (confidence_lower/upper, max_images) belongs to "
            "the KAN portal and is not carried over."
        )
    return {"model_id": name}


def _filter(config: dict, report: KanReport, node_id: str) -> dict:
    raw = config.get("confidence_threshold", "").strip()
    number = _number(raw, math.nan) if raw else 0.0
    # Kept as written when it is not a whole number, so validation points at it instead of a guess.
    threshold = int(number) if number.is_integer() else raw
    return {"labels": parse_kan_labels(config.get("labels", "")), "confidence_threshold": threshold}


def _grpc(config: dict, report: KanReport, node_id: str, acceleration: str) -> tuple[str, dict]:
    if config.get("type") == "container":
        port = config.get("port", "")
        params = {
            "architecture": "ARM64" if "Jetson" in acceleration else "X64",
            "acceleration": acceleration,
            "container_name": config.get("container_name", ""),
            "container_image": config.get("container_image", ""),
            "create_options": config.get("create_options", ""),
            "restart_policy": config.get("restart_policy") or "always",
            # ASCII digits only: "²".isdigit() is True but int() refuses it; validation points
            # at whatever is kept as written
            "port": int(port) if re.fullmatch(r"[0-9]{1,9}", str(port)) else port,
            "route": config.get("route", ""),
        }
        report.note(
            f"node {node_id}: KAN did not store the container's environment variables or "
            f"constraints; they are set to the skill's acceleration ({acceleration}): check them."
        )
        return "grpc-container@1", params
    return "grpc-endpoint@1", {"endpoint_url": config.get("endpoint_url", "")}


def _finite(raw: Any, value: float, default: float, report: KanReport, node_id: str, what: str) -> float:
    """``value`` when it is a finite number; else ``default``, with a note naming the node."""
    if math.isfinite(value):
        return value
    report.note(
        f"node {node_id}: the {what} {raw!r} is not a usable number; it is {default:g} now: check it."
    )
    return default


def _snippet(config: dict, report: KanReport, node_id: str) -> dict:
    raw = config.get("delay_buffer")
    minutes = _number(raw, 1.0)
    report.note(f"node {node_id}: the snippet delay buffer was {minutes:g} min in KAN; it is now in seconds.")
    return {
        "filename_prefix": config.get("filename_prefix", ""),
        "duration_s": int(_number(config.get("recording_duration"), 10)),
        "insights_overlay": _bool(config.get("insights_overlay", "true")),
        "delay_buffer_s": _finite(raw, minutes * 60, 60.0, report, node_id, "delay buffer (s)"),
    }


def _delay(config: dict, default: float, report: KanReport, node_id: str) -> dict:
    raw = config.get("delay_buffer")
    value = _number(raw, math.nan) if raw not in (None, "") else default
    return {"delay_buffer_s": _finite(raw, value, default, report, node_id, "delay buffer")}


def _convert_node(raw: dict, report: KanReport, acceleration: str) -> Node:
    node_id = str(raw.get("id", "")).strip()
    kind, name = str(raw.get("type", "")), str(raw.get("name", ""))
    config = {str(k): _text(v) for k, v in (raw.get("configurations") or {}).items()}
    if kind == "source":
        type_id, params = "camera@1", _camera(config, report)
    elif kind == "model":
        type_id, params = "model@1", _model(name, config, report, node_id)
    elif kind == "transform" and name == "filter_transform":
        type_id, params = "filter@1", _filter(config, report, node_id)
    elif kind == "transform" and name == "grpc_transform":
        type_id, params = _grpc(config, report, node_id, acceleration)
    elif kind == "export" and name == "video_snippet_export":
        type_id, params = "video-snippet@1", _snippet(config, report, node_id)
    elif kind == "export" and name == "iothub_export":
        type_id, params = "iothub@1", _delay(config, 30, report, node_id)
    elif kind == "export" and name == "mqtt_export":
        type_id = "mqtt@1"
        params = {"broker_address": config.get("broker_address", ""), **_delay(config, 30, report, node_id)}
    elif kind == "export" and name == "iotedge_export":
        type_id = "iotedge@1"
        params = {
            "module_name": config.get("module_name", ""),
            "module_input": config.get("module_input", ""),
            **_delay(config, 10, report, node_id),
        }
    elif kind == "export" and name == "http_export":
        type_id, params = "http@1", {"url": config.get("url", "")}
    else:
        report.note(f"node {node_id}: KAN node {kind}/{name} has no equivalent; kept as an unknown node.")
        return Node(id=node_id, type=f"{UNKNOWN_PREFIX}{kind}/{name}", name=name, params=config)
    spec = get_spec(type_id)
    for key, value in params.items():  # an export URL with a token: a per-device value instead
        if isinstance(value, str) and has_secrets(value):
            name = _param_name(node_id, key)
            params[key] = f"$param({name})"
            report.note(
                f"node {node_id}: '{key}' held credentials; it is now the deployment parameter {name}."
            )
    return Node(id=node_id, type=type_id, name=spec.title, params={**spec.defaults(), **params})


def _param_name(node_id: str, key: str) -> str:
    """A ``$param`` name for one node's parameter (letters, digits, ``_ . -``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{node_id}_{key}")
    return name if re.match(r"^[A-Za-z_]", name) else f"p_{name}"


def import_kan(data: dict) -> tuple[Skill, KanReport]:
    """A KAN Skill resource (already parsed) as our skill, plus what did not carry over."""
    report = KanReport()
    spec = data["spec"]
    parameters = {str(k): str(v) for k, v in (spec.get("parameters") or {}).items()}
    fps = int(_number(parameters.get("fpsRetrieve"), 15))
    acceleration = parameters.get("accelerationRetrieve", "CPU")
    if acceleration not in ACCELERATIONS:
        report.note(f"acceleration {acceleration!r} is unknown; using CPU.")
        acceleration = "CPU"
    labels = (data.get("metadata") or {}).get("labels") or {}
    settings = Settings(
        name=str(spec.get("displayName") or (data.get("metadata") or {}).get("name") or "Imported skill"),
        fps=fps,
        acceleration=acceleration,
        tags=[Tag(name=str(k), value=str(v)) for k, v in labels.items()],
    )
    raw_nodes = [raw for raw in spec.get("nodes") or [] if isinstance(raw, dict)]
    nodes = [_convert_node(raw, report, acceleration) for raw in raw_nodes]
    kinds = {node.id: node.type for node in nodes}
    edges = []
    for raw in spec.get("edges") or []:
        try:
            source, target = str(raw["source"]["node"]), str(raw["target"]["node"])
        except (KeyError, TypeError):
            report.note(f"edge {raw!r} has no source/target node; skipped.")
            continue
        edges.append(
            Edge(
                source=PortRef(node=source, port="out"),
                target=PortRef(node=target, port="in"),
            )
        )
        for end in (source, target):
            if end not in kinds:
                report.note(f"edge {source} -> {target} names a missing node {end}.")
    deploy = sorted(k for k in parameters if k not in {"fpsRetrieve", "accelerationRetrieve"})
    if deploy:
        report.note(
            "deployment parameters " + ", ".join(deploy) + " are filled per run: "
            "pass them with --param NAME=VALUE."
        )
    return auto_layout(Skill(settings=settings, nodes=nodes, edges=edges)), report


# --- export -------------------------------------------------------------------------------


def _kan_node(node: Node, report: KanReport) -> dict | None:
    p, kind = node.params, node.type.split("@")[0]
    if node.type.startswith(UNKNOWN_PREFIX) and "/" in node.type:
        kan_type, _, kan_name = node.type.removeprefix(UNKNOWN_PREFIX).partition("/")
        config = {str(k): _text(v) for k, v in p.items()}
        return {"type": kan_type, "name": kan_name, "configurations": config}

    def s(v: Any) -> str:
        return "" if v is None else str(v).lower() if isinstance(v, bool) else str(v)

    if kind == "camera":
        source = str(p.get("source", ""))
        ip = source if PLACEHOLDER_RE.fullmatch(source) else "$param(rtsp)"
        if ip != source:
            report.note(f"node {node.id}: the camera source becomes the deployment parameter rtsp.")
        return {
            "type": "source",
            "name": "rtsp",
            "configurations": {"ip": ip, "fps": "$param(fps)", "device_name": "$param(device_id)"},
        }
    if kind == "model":
        name = p.get("model_id") or ""
        if not name:
            from pathlib import Path

            name = Path(str(p.get("model_path", "model"))).stem
            report.note(f"node {node.id}: KAN models are ids; the file becomes model {name!r}.")
        return {
            "type": "model",
            "name": name,
            "configurations": {"confidence_lower": "0", "confidence_upper": "0", "max_images": "0"},
        }
    if kind == "filter":
        return {
            "type": "transform",
            "name": "filter_transform",
            "configurations": {
                "labels": json.dumps(p.get("labels", []), allow_nan=False),
                "confidence_threshold": s(p.get("confidence_threshold", 0)),
            },
        }
    if kind == "grpc-endpoint":
        return {
            "type": "transform",
            "name": "grpc_transform",
            "configurations": {"type": "endpoint", "endpoint_url": s(p.get("endpoint_url"))},
        }
    if kind == "grpc-container":
        if p.get("env") or p.get("architecture", "X64") != "X64" or p.get("acceleration", "CPU") != "CPU":
            report.note(f"node {node.id}: KAN cannot deploy environment variables or constraints.")
        config = {
            k: s(p.get(k, ""))
            for k in (
                "container_name",
                "container_image",
                "create_options",
                "restart_policy",
                "port",
                "route",
            )
        }
        config["endpoint_url"] = f"{config['container_name']}:{config['port']}{config['route']}"
        return {
            "type": "transform",
            "name": "grpc_transform",
            "configurations": {"type": "container", **config},
        }
    if kind == "video-snippet":
        return {
            "type": "export",
            "name": "video_snippet_export",
            "configurations": {
                "filename_prefix": s(p.get("filename_prefix")),
                "recording_duration": s(p.get("duration_s", 10)),
                "insights_overlay": s(bool(p.get("insights_overlay", True))),
                "delay_buffer": f"{max(1.0, _number(p.get('delay_buffer_s'), 120) / 60):g}",
                "instance_displayname": "$param(instance_displayname)",
                "device_displayname": "$param(device_displayname)",
                "skill_displayname": "$param(skill_displayname)",
            },
        }
    if kind == "iothub":
        return {
            "type": "export",
            "name": "iothub_export",
            "configurations": {"delay_buffer": s(p.get("delay_buffer_s", 30))},
        }
    if kind == "mqtt":
        return {
            "type": "export",
            "name": "mqtt_export",
            "configurations": {
                "broker_address": s(p.get("broker_address")),
                "delay_buffer": s(p.get("delay_buffer_s", 30)),
            },
        }
    if kind == "iotedge":
        return {
            "type": "export",
            "name": "iotedge_export",
            "configurations": {
                "module_name": s(p.get("module_name")),
                "module_input": s(p.get("module_input")),
                "delay_buffer": s(p.get("delay_buffer_s", 10)),
            },
        }
    if kind == "http":
        return {"type": "export", "name": "http_export", "configurations": {"url": s(p.get("url"))}}
    report.note(
        f"node {node.id} ({node.type}) cannot be expressed in KAN; it was left out and its "
        "input linked straight to its outputs."
    )
    return None


def export_kan(skill: Skill, resource_name: str | None = None) -> tuple[dict, KanReport]:
    """Our skill as a KAN Skill resource, plus what it had to leave out."""
    report = KanReport()
    converted = {node.id: _kan_node(node, report) for node in skill.nodes}
    for node_id, data in converted.items():  # never write a credential into an exported file
        config = (data or {}).get("configurations") or {}
        for key, value in config.items():
            if isinstance(value, str) and has_secrets(value):
                name = _param_name(node_id, key)
                config[key] = f"$param({name})"
                report.note(
                    f"node {node_id}: '{key}' holds credentials, which are not exported; it is the "
                    f"deployment parameter {name}: set it on the device."
                )
    parent = {e.target.node: e.source.node for e in skill.edges}

    def kept_parent(node_id: str) -> str | None:
        seen = set()
        current = parent.get(node_id)
        while current is not None and converted.get(current) is None and current not in seen:
            seen.add(current)
            current = parent.get(current)
        return current if current is not None and converted.get(current) is not None else None

    nodes = [{"id": node_id, **data} for node_id, data in converted.items() if data is not None]
    edges = []
    for node_id, data in converted.items():
        source = kept_parent(node_id) if data is not None else None
        if source is not None:
            edges.append(
                {
                    "source": {"node": source, "route": KAN_ROUTE},
                    "target": {"node": node_id, "route": KAN_ROUTE},
                }
            )
    _check_kan_rules(nodes, edges, report)
    parameters = {
        key: "invalid"
        for key in (
            "rtsp",
            "fps",
            "instance_displayname",
            "skill_displayname",
            "device_displayname",
            "device_id",
        )
    }
    for node in nodes:
        for name in placeholders_in(node["configurations"]):
            parameters.setdefault(name, "invalid")
    parameters["fpsRetrieve"] = str(skill.settings.fps)
    parameters["accelerationRetrieve"] = skill.settings.acceleration
    # A Kubernetes name: lower-case ASCII letters, digits and single dashes, at most 63 characters.
    slug = re.sub(r"[^a-z0-9]+", "-", skill.settings.name.lower()).strip("-")[:57].strip("-") or "skill"
    resource = {
        "apiVersion": API_VERSION,
        "kind": "Skill",
        "metadata": {
            "name": resource_name or f"skill-{slug}",
            "labels": {t.name: t.value for t in skill.settings.tags},
        },
        "spec": {
            "displayName": skill.settings.name,
            "nodes": nodes,
            "edges": edges,
            "parameters": parameters,
        },
    }
    return resource, report


def _check_kan_rules(nodes: list[dict], edges: list[dict], report: KanReport) -> None:
    """The rules KAN's portal enforces before it accepts a skill, reported in its own words."""
    if not any(n["type"] == "model" for n in nodes):
        report.note('KAN refuses this skill: "At least one model node" (KAN needs a Run ML Model node).')
    if not any(n["type"] == "export" for n in nodes):
        report.note('KAN refuses this skill: "At least one Export Node needed".')
    sources = {e["source"]["node"] for e in edges}
    targets = {e["target"]["node"] for e in edges}
    for node in nodes:
        needs_input = node["type"] != "source"
        needs_output = node["type"] != "export"
        if (needs_input and node["id"] not in targets) or (needs_output and node["id"] not in sources):
            report.note(f'KAN refuses this skill: "Graph should be connected" (node {node["id"]}).')


def dump_kan(resource: dict) -> str:
    return yaml.safe_dump(resource, sort_keys=False, allow_unicode=True)
