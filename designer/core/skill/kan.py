"""POSS/KAN ``Skill`` custom resources (``ai.symphony/v1``) in and out.

Import maps each KAN node to ours and keeps anything it cannot map as a
visible unknown node; export writes what KAN can express and warns about the rest.
Labels are parsed as data (JSON, then Python literals), never evaluated.

This module is the generic walk only: each node type converts itself through the
``KanCodec`` on its spec (``designer.core.skill.catalog.kan_codecs``), and a KAN
node's type is the spec's role.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

import yaml

from designer.core.secrets import has_secrets
from designer.core.skill.build import auto_layout
from designer.core.skill.catalog import SPECS, NodeSpec, Role, get_spec
from designer.core.skill.catalog.kan_codecs import (
    KanIn,
    KanOut,
    KanReport,
    kan_number,
    kan_text,
    parse_kan_labels,
)
from designer.core.skill.document import Edge, Node, PortRef, Settings, Skill, Tag
from designer.core.skill.fields import ACCELERATIONS, Mark, placeholders_in

__all__ = [
    "API_VERSION",
    "KanError",
    "KanReport",
    "dump_kan",
    "export_kan",
    "import_kan",
    "kan_label",
    "kan_resource_name",
    "load_kan_text",
    "parse_kan_labels",
]

API_VERSION = "ai.symphony/v1"
KAN_ROUTE = "f"
UNKNOWN_PREFIX = "kan:"
MAX_RESOURCE_CHARS = 5 * 1024 * 1024
CRD_SPEC_FIELDS = frozenset({"bindings", "displayName", "edges", "nodes", "parameters", "properties"})
# metadata.labels as the API server takes them: a name of [A-Za-z0-9_.-] (a DNS prefix and "/"
# allowed) and a value of at most 63 such characters, alphanumeric at both ends.
_LABEL_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


class KanError(ValueError):
    """A file that is not a usable KAN Skill resource; the message says where."""


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors/aliases: KAN never wrote them, and nested aliases can expand
    a small file into billions of values ("billion laughs")."""

    def compose_node(self, parent, index):
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
    _check_crd(data["spec"], source)
    return data


def _check_crd(spec: dict, source: str) -> None:
    """What the Skill CRD (skills.ai.symphony) refuses: a spec without ``nodes`` and ``edges``
    (older KAN releases wrote ``models:`` lists), or fields it does not have."""
    unknown = sorted(set(spec) - CRD_SPEC_FIELDS)
    if "models" in unknown:
        raise KanError(
            f"{source}: spec.models is the format of older KAN releases, which the Skill CRD "
            "(ai.symphony/v1) refuses; export the skill again from a current KAN (spec.nodes and spec.edges)"
        )
    if unknown:
        raise KanError(
            f"{source}: spec.{unknown[0]} is not a field of the Skill CRD (ai.symphony/v1 has "
            f"{', '.join(sorted(CRD_SPEC_FIELDS))})"
        )
    missing = [key for key in ("nodes", "edges") if key not in spec]
    if missing:
        raise KanError(
            f"{source}: spec.{missing[0]} is missing; the Skill CRD requires spec.nodes and spec.edges"
        )
    for index, node in enumerate(spec["nodes"] if isinstance(spec["nodes"], list) else []):
        absent = [key for key in ("id", "type", "name") if not isinstance(node, dict) or key not in node]
        if absent:
            raise KanError(
                f"{source}: spec.nodes[{index}] has no {absent[0]}; the Skill CRD requires id, type, name"
            )


def _reader(kind: str, name: str, config: dict[str, str]) -> NodeSpec | None:
    """The node type a KAN node belongs to: its role is KAN's type, its codec claims the rest."""
    return next(
        (s for s in SPECS if s.kan is not None and s.role == kind and s.kan.reads(name, config)),
        None,
    )


def _convert_node(raw: dict, report: KanReport, acceleration: str) -> Node:
    node_id = str(raw.get("id", "")).strip()
    kind, name = str(raw.get("type", "")), str(raw.get("name", ""))
    config = {str(k): kan_text(v) for k, v in (raw.get("configurations") or {}).items()}
    spec = _reader(kind, name, config)
    if spec is None or spec.kan is None:
        report.note(f"node {node_id}: KAN node {kind}/{name} has no equivalent; kept as an unknown node.")
        return Node(id=node_id, type=f"{UNKNOWN_PREFIX}{kind}/{name}", name=name, params=config)
    defaults = spec.defaults()
    params = spec.kan.from_kan(KanIn(node_id, name, config, acceleration, defaults, report))
    for key, value in params.items():  # an export URL with a token: a per-device value instead
        if isinstance(value, str) and has_secrets(value):
            param = _param_name(node_id, key)
            params[key] = f"$param({param})"
            report.note(
                f"node {node_id}: '{key}' held credentials; it is now the deployment parameter {param}."
            )
    return Node(id=node_id, type=spec.type_id, name=spec.title, params={**defaults, **params})


def _param_name(node_id: str, key: str) -> str:
    """A ``$param`` name for one node's parameter (letters, digits, ``_ . -``)."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{node_id}_{key}")
    return name if re.match(r"^[A-Za-z_]", name) else f"p_{name}"


def import_kan(data: dict) -> tuple[Skill, KanReport]:
    """A KAN Skill resource (already parsed) as our skill, plus what did not carry over."""
    report = KanReport()
    spec = data["spec"]
    parameters = {str(k): str(v) for k, v in (spec.get("parameters") or {}).items()}
    fps = int(kan_number(parameters.get("fpsRetrieve"), 15))
    acceleration = _import_acceleration(parameters, report)
    settings = _import_settings(data, fps, acceleration)
    raw_nodes = [raw for raw in spec.get("nodes") or [] if isinstance(raw, dict)]
    nodes = [_convert_node(raw, report, acceleration) for raw in raw_nodes]
    edges = _import_edges(spec.get("edges") or [], {node.id for node in nodes}, report)
    _note_deploy_parameters(parameters, report)
    return auto_layout(Skill(settings=settings, nodes=nodes, edges=edges)), report


def _import_acceleration(parameters: dict[str, str], report: KanReport) -> str:
    """KAN's ``accelerationRetrieve``, or CPU (with a note) when it names none of ours."""
    acceleration = parameters.get("accelerationRetrieve", "CPU")
    if acceleration not in ACCELERATIONS:
        report.note(f"acceleration {acceleration!r} is unknown; using CPU.")
        acceleration = "CPU"
    return acceleration


def _import_settings(data: dict, fps: int, acceleration: str) -> Settings:
    """The skill's settings: its name from ``displayName`` (else ``metadata.name``), labels as tags."""
    metadata = data.get("metadata") or {}
    labels = metadata.get("labels") or {}
    return Settings(
        name=str(data["spec"].get("displayName") or metadata.get("name") or "Imported skill"),
        fps=fps,
        acceleration=acceleration,
        tags=[Tag(name=str(k), value=str(v)) for k, v in labels.items()],
    )


def _import_edges(raw_edges: list, node_ids: set[str], report: KanReport) -> list[Edge]:
    """KAN's edges as ours (KAN has one route per node: ``out`` to ``in``); a malformed one is
    skipped and one naming a missing node kept, both with a note, so nothing vanishes silently."""
    edges = []
    for raw in raw_edges:
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
            if end not in node_ids:
                report.note(f"edge {source} -> {target} names a missing node {end}.")
    return edges


def _note_deploy_parameters(parameters: dict[str, str], report: KanReport) -> None:
    """KAN's per-deployment parameters have no place in the skill: say how a run supplies them."""
    deploy = sorted(k for k in parameters if k not in {"fpsRetrieve", "accelerationRetrieve"})
    if deploy:
        report.note(
            "deployment parameters " + ", ".join(deploy) + " are filled per run: "
            "pass them with --param NAME=VALUE."
        )


# --- export -------------------------------------------------------------------------------


def kan_resource_name(skill: Skill) -> str:
    """The Skill resource's ``metadata.name``: the skill's package id (``designer.core.package``
    names its files and modules the same way), so ``export-kan`` and a package agree."""
    return re.sub(r"[^a-z0-9]+", "-", skill.settings.name.lower()).strip("-")[:50].strip("-") or "skill"


def kan_label(text: str, fallback: str) -> str:
    """``text`` as a Kubernetes label name or value: at most 63 of ``[A-Za-z0-9_.-]``,
    alphanumeric at both ends (``fallback`` when nothing is left)."""
    value = _LABEL_UNSAFE.sub("-", text)[:63]
    value = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", value)
    return value or fallback


def _labels(skill: Skill, report: KanReport) -> dict[str, str]:
    labels: dict[str, str] = {}
    for tag in skill.settings.tags:
        name, value = kan_label(tag.name, "tag"), kan_label(tag.value, "") if tag.value else ""
        if (name, value) != (tag.name, tag.value):
            report.note(
                f"tag {tag.name!r}: {tag.value!r} is the label {name}: {value!r} (the API server refuses "
                "label names and values outside [A-Za-z0-9_.-], 63 characters)"
            )
        labels[name] = value
    return labels


def _same(a: Any, b: Any) -> bool:
    """Equal as KAN would store them (``30`` and ``30.0`` are one number)."""
    if kan_text(a) == kan_text(b):
        return True
    x, y = kan_number(a, math.nan), kan_number(b, math.nan)
    return not isinstance(a, bool) and not isinstance(b, bool) and x == y


def _lost(spec: NodeSpec, node: Node, body: dict, acceleration: str) -> list[str]:
    """The parameters of ``node`` KAN cannot express: those set away from their default that do
    not come back from KAN's configurations (the codec's own import, run on what it wrote)."""
    assert spec.kan is not None
    defaults = spec.defaults()
    scratch = KanReport()
    back = spec.kan.from_kan(
        KanIn(node.id, body["name"], body["configurations"], acceleration, defaults, scratch)
    )
    lost = []
    secret = set(spec.fields_marked("secret"))
    for name, info in spec.params.model_fields.items():
        value = node.params.get(name, defaults.get(name))
        if value in (None, "", [], {}) or _same(value, defaults.get(name)):
            continue
        if name in back and _same(back[name], value):
            continue
        shown = "(set)" if name in secret or has_secrets(kan_text(value)) else repr(kan_text(value))[:60]
        lost.append(f"{info.title or name} ({name} = {shown})")
    return lost


def _kan_node(
    node: Node, report: KanReport, models: Mapping[str, str] | None = None, acceleration: str = "CPU"
) -> dict | None:
    """A node as KAN's ``{type, name, configurations}``, or None (with a warning) when KAN has none."""
    if node.type.startswith(UNKNOWN_PREFIX) and "/" in node.type:  # imported from KAN, kept as it was
        kan_type, _, kan_name = node.type.removeprefix(UNKNOWN_PREFIX).partition("/")
        config = {str(k): kan_text(v) for k, v in node.params.items()}
        return {"type": kan_type, "name": kan_name, "configurations": config}
    spec = get_spec(node.type)
    if spec is None or spec.kan is None:
        report.warn(
            f"node {node.id} ({node.type}) cannot be expressed in KAN; it was left out and its "
            "input linked straight to its outputs."
        )
        return None
    defaults = spec.defaults()
    body = spec.kan.to_kan(KanOut(node.id, {**defaults, **node.params}, defaults, report))
    data = {"type": str(spec.role), "name": body.name, "configurations": body.configurations}
    lost = _lost(spec, node, data, acceleration)
    if lost:
        report.warn(f"node {node.id}: KAN cannot express {'; '.join(lost)}; left out of the resource.")
    if spec.role is Role.MODEL:
        # KAN's edge runtime loads a model node from the KAN Model resource its name gives: a
        # model id (a library id, or KAN's own model name on an imported skill) is taken as one;
        # a model named by its file is not one, so it needs the user's mapping.
        mapped = (models or {}).get(node.id)
        by_id = any(str(node.params.get(name) or "").strip() for name in spec.fields_marked(Mark.MODEL))
        if mapped:
            data["name"] = mapped
        elif not by_id:
            report.refuse(
                f"node {node.id}: KAN runs a model node from a KAN Model resource (ai.symphony/v1 Model), "
                f"and {body.name!r} is not one: create the model in KAN and give its resource name "
                f"(skill-designer export-kan --kan-model {node.id}=MODEL_NAME)"
            )
    return data


def export_kan(
    skill: Skill, resource_name: str | None = None, models: Mapping[str, str] | None = None
) -> tuple[dict, KanReport]:
    """Our skill as a KAN Skill resource, plus what it had to leave out.

    ``models`` maps a model node's id to the KAN Model resource it runs; a model node without
    one is a refusal in the report (``report.refusals``), as is a graph KAN's portal refuses.
    """
    report = KanReport()
    unknown = sorted(set(models or {}) - {n.id for n in skill.nodes})
    if unknown:
        report.refuse(f"--kan-model {unknown[0]}: the skill has no node {unknown[0]}")
    acceleration = skill.settings.acceleration
    converted = {node.id: _kan_node(node, report, models, acceleration) for node in skill.nodes}
    if skill.settings.description.strip():
        report.warn("the description: a KAN Skill resource has no description; left out.")
    _parametrize_secrets(converted, report)
    nodes = [{"id": node_id, **data} for node_id, data in converted.items() if data is not None]
    edges = _kan_edges(skill, converted)
    _check_kan_rules(nodes, edges, report)
    resource = {
        "apiVersion": API_VERSION,
        "kind": "Skill",
        "metadata": {
            "name": resource_name or kan_resource_name(skill),
            "labels": _labels(skill, report),
        },
        "spec": {
            "displayName": skill.settings.name,
            "nodes": nodes,
            "edges": edges,
            "parameters": _kan_parameters(skill, nodes),
        },
    }
    return resource, report


def _parametrize_secrets(converted: Mapping[str, dict | None], report: KanReport) -> None:
    """Never write a credential into an exported file: each becomes a deployment parameter."""
    for node_id, data in converted.items():
        config = (data or {}).get("configurations") or {}
        for key, value in config.items():
            if isinstance(value, str) and has_secrets(value):
                name = _param_name(node_id, key)
                config[key] = f"$param({name})"
                report.note(
                    f"node {node_id}: '{key}' holds credentials, which are not exported; it is the "
                    f"deployment parameter {name}: set it on the device."
                )


def _kan_edges(skill: Skill, converted: Mapping[str, dict | None]) -> list[dict]:
    """KAN's edges: each kept node linked from its nearest kept ancestor, so a node KAN cannot
    express is bridged over (its input linked straight to its outputs) rather than cutting the graph."""
    parent = {e.target.node: e.source.node for e in skill.edges}

    def kept_parent(node_id: str) -> str | None:
        seen = set()
        current = parent.get(node_id)
        while current is not None and converted.get(current) is None and current not in seen:
            seen.add(current)
            current = parent.get(current)
        return current if current is not None and converted.get(current) is not None else None

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
    return edges


def _kan_parameters(skill: Skill, nodes: list[dict]) -> dict[str, str]:
    """``spec.parameters``: the ones KAN's deployment always fills, each ``$param`` the nodes use
    (``invalid`` until deployed, as KAN writes them), then the skill's fps and acceleration."""
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
    return parameters


def _check_kan_rules(nodes: list[dict], edges: list[dict], report: KanReport) -> None:
    """The rules KAN's portal enforces before it accepts a skill, reported in its own words.

    A KAN node's type is one of our roles (``Role``'s values are KAN's words)."""
    if not any(n["type"] == Role.MODEL for n in nodes):
        titles = " or ".join(s.title for s in SPECS if s.role is Role.MODEL and s.kan is not None)
        report.refuse(f'KAN refuses this skill: "At least one model node" (KAN needs a {titles} node).')
    if not any(n["type"] == Role.EXPORT for n in nodes):
        report.refuse('KAN refuses this skill: "At least one Export Node needed".')
    sources = {e["source"]["node"] for e in edges}
    targets = {e["target"]["node"] for e in edges}
    for node in nodes:
        needs_input = node["type"] != Role.SOURCE
        needs_output = node["type"] != Role.EXPORT
        if (needs_input and node["id"] not in targets) or (needs_output and node["id"] not in sources):
            report.refuse(f'KAN refuses this skill: "Graph should be connected" (node {node["id"]}).')


def dump_kan(resource: dict) -> str:
    return yaml.safe_dump(resource, sort_keys=False, allow_unicode=True)
