"""Validation: every graph and parameter rule, each broken one a located Problem.

Fast enough to run on every edit (a 500-node skill in a few milliseconds):
one pass over nodes, one over edges, one topological sort.
"""

from __future__ import annotations

import posixpath
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Protocol, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from designer.core.secrets import has_secrets, mask_secrets, url_scheme
from designer.core.skill.catalog import NodeSpec, Role, get_spec
from designer.core.skill.document import NODE_ID_RE, Edge, Skill
from designer.core.skill.fields import (
    ACCELERATIONS,
    CAMERA_URL_SCHEMES,
    PLACEHOLDER_RE,
    accepts_placeholder,
    placeholders_in,
)
from designer.core.skill.problems import Problem, error, warning

TRACKERS = {"tracker", "grpc-endpoint", "grpc-container"}  # a gRPC node may add tracking ids


class ModelSummary(Protocol):
    task: str
    accelerations: set[str]


class ModelLookup(Protocol):
    """What validation needs from the model library (injected: the core never imports it)."""

    def describe(self, model_id: str) -> ModelSummary | None: ...


def _field_name(loc: tuple) -> str | None:
    return str(loc[0]) if loc else None


def _placeholder_refused(info: FieldInfo, name: str, node_id: str) -> Problem:
    return error(
        "placeholder-not-allowed",
        f"{info.title or name} cannot be a $param(...) placeholder: set a value.",
        node_id,
        name,
    )


def _nested_placeholders_allowed(info: FieldInfo, value: object) -> bool:
    """Rows of sub-models (environment variables) may hold placeholders in their deploy fields only."""
    models = [a for a in get_args(info.annotation) if isinstance(a, type) and issubclass(a, BaseModel)]
    if len(models) != 1 or not isinstance(value, list):
        return False
    row_fields = models[0].model_fields
    for row in value:
        if not isinstance(row, dict):
            if placeholders_in(row):
                return False
            continue
        for key, item in row.items():
            if placeholders_in(item) and not (
                isinstance(item, str) and key in row_fields and accepts_placeholder(row_fields[key])
            ):
                return False
    return True


def _parse_or_none(spec: NodeSpec, concrete: dict) -> object | None:
    """The model without its placeholder values (a format check refused one), if it still parses."""
    try:
        return spec.params.model_validate(concrete)
    except ValidationError:
        return None


def check_params(spec: NodeSpec, node_id: str, params: dict) -> tuple[list[Problem], object | None]:
    """Check one node's parameters; returns the problems and the parsed model (None if invalid).

    Values holding a ``$param(...)`` placeholder are checked after substitution,
    at run time; here they only need to be in a field that accepts one.
    """
    problems: list[Problem] = []
    fields = spec.params.model_fields
    concrete, placeholders = {}, set()
    for name, value in params.items():
        if name not in fields:
            problems.append(
                warning(
                    "unknown-parameter",
                    f"{spec.title} has no parameter {name!r}; it is kept but ignored.",
                    node_id,
                    name,
                )
            )
        elif isinstance(value, str) and PLACEHOLDER_RE.search(value):
            placeholders.add(name)
            if not accepts_placeholder(fields[name]):
                problems.append(_placeholder_refused(fields[name], name, node_id))
        else:
            nested = isinstance(value, list | dict) and placeholders_in(value)
            if nested and not _nested_placeholders_allowed(fields[name], value):
                problems.append(_placeholder_refused(fields[name], name, node_id))
            concrete[name] = value
    try:
        # Placeholders included: deploy fields accept them, so the cross-field checks still run.
        parsed = spec.params.model_validate({**concrete, **{n: params[n] for n in placeholders}})
    except ValidationError as exc:
        errors = [err for err in exc.errors() if _field_name(err["loc"]) not in placeholders]
        parsed = None if errors else _parse_or_none(spec, concrete)
        for err in errors:
            name = _field_name(err["loc"])
            title = fields[name].title if name in fields else None
            if err["type"] == "missing":
                problems.append(
                    error(
                        "param-required",
                        f"{title or name} is required.",
                        node_id,
                        name,
                    )
                )
            else:
                msg = err["msg"].removeprefix("Value error, ")
                problems.append(error("param-invalid", f"{title or name}: {msg}", node_id, name))
        if parsed is None:
            return problems, None
    cross_checks = getattr(type(parsed), "cross_checks", None)  # on the class: no pydantic lookup
    for name, message in cross_checks(parsed) if cross_checks else ():
        problems.append(error("param-invalid", message, node_id, name))
    return problems, parsed


def _check_settings(skill: Skill) -> list[Problem]:
    s = skill.settings
    problems = []
    if not s.name.strip():
        problems.append(error("name-required", "Give the skill a name.", param="name"))
    if not 1 <= s.fps <= 60:
        problems.append(error("fps-range", f"Frame rate {s.fps} must be from 1 to 60 fps.", param="fps"))
    if s.acceleration not in ACCELERATIONS:
        problems.append(
            error(
                "acceleration-unknown",
                f"Device acceleration {s.acceleration!r} is not one of: {', '.join(ACCELERATIONS)}.",
                param="acceleration",
            )
        )
    names = [t.name.strip() for t in s.tags]
    if any(not n for n in names):
        problems.append(error("tag-name-empty", "Every tag needs a name.", param="tags"))
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        problems.append(error("tag-name-duplicate", f"Tag {name!r} appears twice.", param="tags"))
    return problems


def _check_unknown_fields(skill: Skill) -> list[Problem]:
    problems = [
        warning("unknown-field", f"Unknown field {name!r} in the skill file is kept but ignored.")
        for name in skill.unknown_fields()
    ]
    problems += [
        warning("unknown-field", f"Unknown setting {name!r} is kept but ignored.", param=name)
        for name in skill.settings.unknown_fields()
    ]
    problems += [
        warning(
            "unknown-field", f"Unknown field {name!r} in tag {tag.name!r} is kept but ignored.", param="tags"
        )
        for tag in skill.settings.tags
        for name in tag.unknown_fields()
    ]
    for node in skill.nodes:
        problems += [
            warning("unknown-field", f"Unknown node field {name!r} is kept but ignored.", node.id)
            for name in node.unknown_fields()
        ]
    for edge in skill.edges:
        for name in edge.unknown_fields() + edge.source.unknown_fields() + edge.target.unknown_fields():
            label = _edge_label(edge)
            problems.append(
                warning("unknown-field", f"Unknown field {name!r} in link {label} is kept but ignored.")
            )
    problems += [
        warning("unknown-field", f"Unknown layout field {name!r} is kept but ignored.")
        for name in skill.layout.unknown_fields()
    ]
    for node_id, position in sorted(skill.layout.nodes.items()):
        problems += [
            warning(
                "unknown-field", f"Unknown layout field {name!r} of this node is kept but ignored.", node_id
            )
            for name in position.unknown_fields()
        ]
    return problems


def _edge_label(edge: Edge) -> str:
    return f"{edge.source.node}.{edge.source.port} -> {edge.target.node}.{edge.target.port}"


def _topological_order(ids: list[str], children: dict[str, list[str]]) -> tuple[list[str], set[str]]:
    """Kahn's algorithm; returns the order and the nodes left on cycles."""
    indegree = Counter({i: 0 for i in ids})
    for targets in children.values():
        for t in targets:
            indegree[t] += 1
    ready = [i for i in ids if indegree[i] == 0]
    order = []
    while ready:
        current = ready.pop()
        order.append(current)
        for t in children.get(current, ()):
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
    return order, set(ids) - set(order)


def _on_cycles(left: set[str], children: dict[str, list[str]]) -> set[str]:
    """The nodes Kahn's sort left that are on a cycle themselves, not merely downstream of one:
    those from which a path leads back to the node (strongly connected, Kosaraju)."""
    order: list[str] = []
    seen: set[str] = set()
    for start in sorted(left):
        if start in seen:
            continue
        seen.add(start)
        stack = [(start, iter(children.get(start, ())))]
        while stack:
            node, targets = stack[-1]
            for target in targets:
                if target in left and target not in seen:
                    seen.add(target)
                    stack.append((target, iter(children.get(target, ()))))
                    break
            else:
                order.append(node)
                stack.pop()
    parents: dict[str, list[str]] = defaultdict(list)
    for source in left:
        for target in children.get(source, ()):
            if target in left:
                parents[target].append(source)
    cyclic: set[str] = set()
    assigned: set[str] = set()
    for root in reversed(order):
        if root in assigned:
            continue
        component, frontier = {root}, [root]
        assigned.add(root)
        while frontier:
            for source in parents[frontier.pop()]:
                if source not in assigned:
                    assigned.add(source)
                    component.add(source)
                    frontier.append(source)
        if len(component) > 1 or root in children.get(root, ()):
            cyclic |= component
    return cyclic


def validate_skill(skill: Skill, models: ModelLookup | None = None, *, target: bool = False) -> list[Problem]:
    """Every problem of a skill, errors and warnings, in a stable order.

    By default the skill is checked for this machine's preview: an acceleration the model
    library cannot use here is a warning (the preview falls back to the CPU). With ``target``
    the skill is checked for its device instead, where this machine's providers do not matter
    (the package exporter adds the target's operator checks).
    """
    # The saved file's order (nodes by id, links by endpoints): a skill lists the same problems
    # in the same order however its nodes were added, before and after a save.
    skill = skill.canonical()
    problems = _check_settings(skill) + _check_unknown_fields(skill)

    specs: dict[str, NodeSpec] = {}
    parsed: dict[str, object] = {}
    id_counts = Counter(n.id for n in skill.nodes)
    seen_ids: set[str] = set()
    for node in skill.nodes:
        if node.id in seen_ids:
            continue
        seen_ids.add(node.id)
        if id_counts[node.id] > 1:
            problems.append(
                error(
                    "duplicate-node-id",
                    f"{id_counts[node.id]} nodes share the id {node.id!r}; ids must be unique.",
                    node.id,
                )
            )
        if not NODE_ID_RE.match(node.id):
            problems.append(
                error(
                    "node-id-invalid",
                    f"Node id {node.id!r} must be 1-64 letters, digits, '.', '_' or '-'.",
                    node.id,
                )
            )
        spec = get_spec(node.type)
        if spec is None:
            problems.append(
                error(
                    "unknown-node-type",
                    f"Unknown node type {node.type!r}: it is kept as a placeholder and cannot run. "
                    "Replace it, or update Skill Designer.",
                    node.id,
                )
            )
            continue
        specs[node.id] = spec
        node_problems, model = check_params(spec, node.id, node.params)
        problems += node_problems
        if model is not None:
            parsed[node.id] = model

    # Edges: endpoints exist, ports exist, no fan-in, no duplicates.
    children: dict[str, list[str]] = defaultdict(list)
    parents: dict[str, list[str]] = defaultdict(list)
    known = {n.id for n in skill.nodes}
    seen_edges: set[tuple] = set()
    for edge in skill.edges:
        src, dst = edge.source, edge.target
        label = _edge_label(edge)
        missing = [ref.node for ref in (src, dst) if ref.node not in known]
        if missing:
            problems.append(
                error(
                    "edge-dangling",
                    f"Link {label} points to missing node {missing[0]!r}; delete the link.",
                    src.node if src.node in known else dst.node if dst.node in known else None,
                )
            )
            continue
        if src.node in specs and specs[src.node].output_port(src.port) is None:
            problems.append(
                error(
                    "edge-bad-port",
                    f"{specs[src.node].title} has no output port {src.port!r} ({label}).",
                    src.node,
                )
            )
            continue
        if dst.node in specs and specs[dst.node].input_port(dst.port) is None:
            problems.append(
                error(
                    "edge-bad-port",
                    f"{specs[dst.node].title} has no input port {dst.port!r} ({label}).",
                    dst.node,
                )
            )
            continue
        if edge.key() in seen_edges:
            problems.append(warning("edge-duplicate", f"Link {label} appears twice.", dst.node))
            continue
        seen_edges.add(edge.key())
        if src.node == dst.node:
            problems.append(error("cycle", f"Node {src.node!r} is linked to itself.", src.node))
            continue
        children[src.node].append(dst.node)
        parents[dst.node].append(src.node)

    for node_id, sources in parents.items():
        if len(sources) > 1:
            problems.append(
                error(
                    "fan-in",
                    f"Node {node_id!r} has {len(sources)} input links (from {', '.join(sorted(sources))}); "
                    "a node takes one input: remove all but one.",
                    node_id,
                )
            )

    unique_ids = list(dict.fromkeys(n.id for n in skill.nodes))
    order, left = _topological_order(unique_ids, children)
    for node_id in sorted(_on_cycles(left, children)):
        problems.append(error("cycle", f"Node {node_id!r} is on a cycle; frames must flow one way.", node_id))

    problems += _check_roles(skill, specs, parents, children)
    problems += _check_models(skill, specs, parsed, parents, order, models, target)
    problems += _check_shared_outputs(specs, parsed)
    problems += _check_camera_sources(specs, parsed)
    # A message may quote a value a user typed: a URL's password never reaches a screen.
    return [replace(p, message=mask_secrets(p.message)) if has_secrets(p.message) else p for p in problems]


def _check_camera_sources(specs, parsed) -> list[Problem]:
    """A URL with a scheme OpenCV would take for a file name (htp://, file://, udp://) is named."""
    problems = []
    for node_id, spec in specs.items():
        source = getattr(parsed.get(node_id), "source", None)
        if spec.kind != "camera" or not isinstance(source, str) or PLACEHOLDER_RE.search(source):
            continue
        scheme = url_scheme(source)
        if scheme is not None and scheme not in CAMERA_URL_SCHEMES:
            allowed = ", ".join(f"{s}://" for s in CAMERA_URL_SCHEMES)
            problems.append(
                error(
                    "camera-scheme-unsupported",
                    f"The camera source {mask_secrets(source)!r} uses {scheme}://, which is not "
                    f"supported: use {allowed}, a webcam index or a video file path.",
                    node_id,
                    "source",
                )
            )
    return problems


def _check_shared_outputs(specs, parsed) -> list[Problem]:
    """Two Insights Logs on one file interleave their lines into invalid JSON."""
    problems = []
    first: dict[str, str] = {}
    for node_id, spec in specs.items():
        path = getattr(parsed.get(node_id), "path", None)
        if spec.kind != "insights-log" or not isinstance(path, str) or PLACEHOLDER_RE.search(path):
            continue
        key = posixpath.normpath(path.replace("\\", "/"))
        if key in first:
            problems.append(
                error(
                    "output-file-shared",
                    f"Insights Log {first[key]!r} already writes {path!r}; two writers on one file "
                    "corrupt it: choose another file.",
                    node_id,
                    "path",
                )
            )
        else:
            first[key] = node_id
    return problems


def _check_roles(skill, specs, parents, children) -> list[Problem]:
    problems = []
    by_role = defaultdict(list)
    for node_id, spec in specs.items():
        by_role[spec.role].append(node_id)
    cameras = by_role[Role.SOURCE]
    if not cameras:
        problems.append(error("no-camera", "Add a Camera Input: every skill starts with one."))
    for extra in sorted(cameras)[1:]:
        problems.append(
            error(
                "multiple-cameras",
                "A skill has exactly one Camera Input; remove this one.",
                extra,
            )
        )
    process = by_role[Role.MODEL] + by_role[Role.TRANSFORM]
    if not process:
        problems.append(
            error("no-process-node", "Add at least one Process node (a model, filter or gRPC node).")
        )
    if not by_role[Role.EXPORT]:
        problems.append(error("no-export-node", "Add at least one Export node, such as an Insights Log."))
    for node_id in cameras:
        if not children.get(node_id):
            problems.append(error("camera-unconnected", "Link the Camera Input to a Process node.", node_id))
    for node_id in sorted(process):
        if not parents.get(node_id):
            problems.append(
                error(
                    "input-unconnected",
                    f"{specs[node_id].title} {node_id!r} has no input link.",
                    node_id,
                )
            )
        if not children.get(node_id):
            problems.append(
                error(
                    "output-unconnected",
                    f"{specs[node_id].title} {node_id!r} leads nowhere: link its output to another node.",
                    node_id,
                )
            )
    for node_id in sorted(by_role[Role.EXPORT]):
        if not parents.get(node_id):
            problems.append(
                error(
                    "input-unconnected",
                    f"{specs[node_id].title} {node_id!r} has no input link.",
                    node_id,
                )
            )
    return problems


def _check_models(skill, specs, parsed, parents, order, models, target=False) -> list[Problem]:
    """Model tasks, cascades and the device acceleration."""
    problems = []
    acceleration = skill.settings.acceleration
    task: dict[str, str] = {}
    for node_id in order:
        spec, params = specs.get(node_id), parsed.get(node_id)
        if spec is None or params is None:
            continue
        if spec.kind == "model":
            node_task = params.model_type
            if params.model_id and models is not None:
                try:
                    summary = models.describe(params.model_id)
                except Exception as exc:  # a broken library is a problem to show, not a crash
                    problems.append(
                        error(
                            "model-library-error",
                            f"Cannot look up model {params.model_id!r} in the model library: {exc}",
                            node_id,
                            "model_id",
                        )
                    )
                    continue
                if summary is None:
                    problems.append(
                        error(
                            "model-missing",
                            f"Model {params.model_id!r} is not in the model library "
                            f"({_known_models(models)}): add it with `skill-designer models add`, "
                            "or choose another.",
                            node_id,
                            "model_id",
                        )
                    )
                else:
                    node_task = summary.task if node_task == "auto" else node_task
                    if not summary.accelerations:
                        problems.append(
                            error(
                                "acceleration-unsupported",
                                f"Model {params.model_id!r} cannot run on {acceleration} "
                                "(it runs on nothing here).",
                                node_id,
                                "model_id",
                            )
                        )
                    elif acceleration not in summary.accelerations and not target:
                        problems.append(
                            warning(
                                "preview-on-cpu",
                                f"This machine cannot run model {params.model_id!r} on {acceleration} "
                                f"(here: {', '.join(sorted(summary.accelerations))}): the preview runs it "
                                "on the CPU. Export checks it for the device.",
                                node_id,
                                "model_id",
                            )
                        )
            task[node_id] = node_task
            if node_task == "classification" and not _has_box_producer(node_id, parents, specs, task):
                problems.append(
                    warning(
                        "classifier-on-whole-frame",
                        "No detector or gRPC node runs before this classifier, so it classifies the "
                        "whole frame.",
                        node_id,
                    )
                )
        elif (
            spec.kind == "zone"
            and params.roi_type == "LINE"
            and not _has_ancestor(
                node_id,
                parents,
                lambda parent: specs.get(parent) is not None and specs[parent].kind in TRACKERS,
            )
        ):
            problems.append(
                warning(
                    "zone-needs-tracker",
                    "A line counts objects with tracking ids: add an Object Tracker before it, or no "
                    "crossing will be counted.",
                    node_id,
                )
            )
        elif spec.kind == "grpc-container" and params.acceleration != acceleration:
            problems.append(
                error(
                    "acceleration-unsupported",
                    f"Container {params.container_name!r} is built for {params.acceleration}, but the "
                    f"skill runs on {acceleration}.",
                    node_id,
                    "acceleration",
                )
            )
    return problems


def _known_models(models: ModelLookup) -> str:
    """The ids a library holds, for a message about one that is missing."""
    try:
        ids = sorted(entry.id for entry in models.list())  # type: ignore[attr-defined]
    except Exception:  # a lookup without list(), or a library that cannot be read now
        return "its models cannot be listed"
    return "it has " + ", ".join(ids) if ids else "it is empty"


def _has_ancestor(node_id, parents, predicate) -> bool:
    """Whether any node upstream of ``node_id`` (one input each) satisfies ``predicate``."""
    seen = set()
    current = parents.get(node_id, [])
    while current and current[0] not in seen:
        parent = current[0]
        if predicate(parent):
            return True
        seen.add(parent)
        current = parents.get(parent, [])
    return False


def _has_box_producer(node_id, parents, specs, task) -> bool:
    def produces_boxes(parent: str) -> bool:
        spec = specs.get(parent)
        if spec is None:
            return False
        return spec.kind.startswith("grpc") or (spec.kind == "model" and task.get(parent) != "classification")

    return _has_ancestor(node_id, parents, produces_boxes)


def has_errors(problems: list[Problem]) -> bool:
    return any(p.is_error for p in problems)


_READ_FILES = {"model": ("model_path", "labels_path"), "camera": ("source",)}  # parameters naming files


def check_files(skill: Skill, skill_dir: Path) -> list[Problem]:
    """The files a skill reads (model, labels, the camera's video file) exist, found the way the
    engine finds them: relative to the skill file's folder.

    A missing file in a field that takes ``$param(...)`` (the camera source) is a warning: a
    device may fill it; elsewhere it is an error, since ``run`` would fail on it.
    """
    problems = []
    for node in skill.nodes:
        spec = get_spec(node.type)
        kind = spec.kind if spec is not None else ""
        for name in _READ_FILES.get(kind, ()):
            value = node.params.get(name)
            if not isinstance(value, str) or not value.strip() or PLACEHOLDER_RE.search(value):
                continue
            if name == "source" and (value.strip().isdigit() or url_scheme(value) is not None):
                continue  # a webcam or a URL, not a file
            path = Path(value).expanduser()
            path = path if path.is_absolute() else skill_dir / path
            info = spec.params.model_fields[name]
            title = info.title or name
            per_device = accepts_placeholder(info)
            hint = "; on devices that have it elsewhere, use $param(...)" if per_device else ""
            if path.is_dir():
                message = f"{title} {value!r} is a folder, not a file ({path}); name the file in it{hint}."
                code = "file-is-folder"
            elif not path.exists():
                message = f"{title} {value!r} does not exist (looked for {path}){hint}."
                code = "file-missing"
            elif not path.is_file():
                message = f"{title} {value!r} is not a regular file ({path}){hint}."
                code = "file-not-regular"
            else:
                continue
            problems.append((warning if per_device else error)(code, mask_secrets(message), node.id, name))
    return problems
