"""The rules a skill is checked against, each broken one a located Problem.

``compile_skill`` (``compiled.py``) applies them in one pass; the canvas applies
``edge_problem`` to a link being drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol, get_args

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from designer.core.secrets import mask_secrets, url_scheme
from designer.core.skill.catalog import NodeSpec, Params, get_spec
from designer.core.skill.document import Edge, Skill
from designer.core.skill.fields import (
    ACCELERATIONS,
    PLACEHOLDER_RE,
    Mark,
    accepts_placeholder,
    placeholders_in,
)
from designer.core.skill.problems import Problem, error, warning


class ModelSummary(Protocol):
    """Read-only members: the library answers with frozen dataclasses."""

    @property
    def task(self) -> str: ...
    @property
    def accelerations(self) -> set[str]: ...
    @property
    def labels(self) -> tuple[str, ...]: ...  # the model's classes, in class order; empty when none


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


def _parse_or_none(spec: NodeSpec, concrete: dict) -> Params | None:
    """The model without its placeholder values (a format check refused one), if it still parses."""
    try:
        return spec.params.model_validate(concrete)
    except ValidationError:
        return None


def check_params(spec: NodeSpec, node_id: str, params: dict) -> tuple[list[Problem], Params | None]:
    """Check one node's parameters; returns the problems and the parsed model (None if invalid).

    Values holding a ``$param(...)`` placeholder are checked after substitution,
    at run time; here they only need to be in a field that accepts one.
    """
    problems, concrete, placeholders = _sort_values(spec, node_id, params)
    parsed: Params | None
    try:
        # Placeholders included: deploy fields accept them, so the cross-field checks still run.
        parsed = spec.params.model_validate({**concrete, **{n: params[n] for n in placeholders}})
    except ValidationError as exc:
        errors = [err for err in exc.errors() if _field_name(err["loc"]) not in placeholders]
        parsed = None if errors else _parse_or_none(spec, concrete)
        if parsed is None:
            # Nothing parses without the placeholder values either: their own shape is refused.
            problems += [_value_problem(spec, node_id, err) for err in errors or exc.errors()]
            return problems, None
    cross_checks = getattr(type(parsed), "cross_checks", None)  # on the class: no pydantic lookup
    for name, message, *code in cross_checks(parsed) if cross_checks else ():
        problems.append(error(code[0] if code else "param-invalid", message, node_id, name))
    return problems, parsed


def _sort_values(spec: NodeSpec, node_id: str, params: dict) -> tuple[list[Problem], dict, set[str]]:
    """Unknown names and misplaced placeholders as problems; the concrete values apart from the
    names holding a placeholder."""
    problems: list[Problem] = []
    fields = spec.params.model_fields
    concrete, placeholders = {}, set()
    for name, value in params.items():
        if name not in fields:
            message = f"{spec.title} has no parameter {name!r}; it is kept but ignored."
            problems.append(warning("unknown-parameter", message, node_id, name))
        elif isinstance(value, str) and PLACEHOLDER_RE.search(value):
            placeholders.add(name)
            if not accepts_placeholder(fields[name]):
                problems.append(_placeholder_refused(fields[name], name, node_id))
        else:
            nested = isinstance(value, list | dict) and placeholders_in(value)
            if nested and not _nested_placeholders_allowed(fields[name], value):
                problems.append(_placeholder_refused(fields[name], name, node_id))
            concrete[name] = value
    return problems, concrete, placeholders


def _value_problem(spec: NodeSpec, node_id: str, err: Any) -> Problem:
    name = _field_name(err["loc"])
    fields = spec.params.model_fields
    title = (fields[name].title if name in fields else None) or name
    if err["type"] == "missing":
        return error("param-required", f"{title} is required.", node_id, name)
    message = err["msg"].removeprefix("Value error, ")
    return error("param-invalid", f"{title}: {message}", node_id, name)


def check_settings(skill: Skill) -> list[Problem]:
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


def check_unknown_fields(skill: Skill) -> list[Problem]:
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
            label = edge_label(edge)
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


def edge_label(edge: Edge) -> str:
    return f"{edge.source.node}.{edge.source.port} -> {edge.target.node}.{edge.target.port}"


def edge_problem(
    edge: Edge, nodes: Mapping[str, NodeSpec | None], name: Callable[[str], str]
) -> Problem | None:
    """The first rule one link breaks on its own (its ends, its ports, its direction): the one
    check the validator runs on every link and the canvas runs on a link being drawn."""
    src, dst = edge.source, edge.target
    label = edge_label(edge)
    missing = [ref.node for ref in (src, dst) if ref.node not in nodes]
    if missing:
        known_end = src.node if src.node in nodes else dst.node if dst.node in nodes else None
        return error(
            "edge-dangling",
            f"Link {label} points to missing node {missing[0]!r}; delete the link.",
            known_end,
        )
    if src.node == dst.node:
        return error("cycle", f"{name(src.node)} cannot feed itself: frames must flow one way.", src.node)
    source, target = nodes[src.node], nodes[dst.node]
    if source is not None and source.output_port(src.port) is None:
        hint = " Links run from an output (bottom) to an input (top)." if source.input_port(src.port) else ""
        return error(
            "edge-bad-port", f"{name(src.node)} has no output {src.port!r} ({label}).{hint}", src.node
        )
    if target is not None and target.input_port(dst.port) is None:
        hint = " It is a source: nothing can feed it." if not target.inputs else ""
        return error(
            "edge-bad-port", f"{name(dst.node)} has no input {dst.port!r} ({label}).{hint}", dst.node
        )
    return None


def has_errors(problems: list[Problem]) -> bool:
    return any(p.is_error for p in problems)


def path_escape(value: str) -> str | None:
    """Why a path a skill reads or writes is not confined to its folder (the package it came in,
    the run's output folder); None when it stays inside: relative, no ``..``, no ``~``. The one
    rule the validator warns with and packages are refused by."""
    text = value.strip()
    if "\x00" in text:
        return "holds a NUL character"
    parts = text.replace("\\", "/").split("/")
    if text.startswith(("/", "\\")) or (len(text) > 1 and text[1] == ":" and text[0].isalpha()):
        return "is an absolute path"
    if text.startswith("~"):
        return "starts with '~' (a home folder)"
    if ".." in parts:
        return "climbs out with '..'"
    return None


def check_files(skill: Skill, skill_dir: Path) -> list[Problem]:
    """The files a skill reads (parameters marked READS: models, labels, the camera's video file)
    exist, found the way the engine finds them: relative to the skill file's folder.

    A missing file in a field that takes ``$param(...)`` (the camera source) is a warning: a
    device may fill it; elsewhere it is an error, since ``run`` would fail on it.
    """
    problems = []
    for node in skill.nodes:
        spec = get_spec(node.type)
        if spec is None:
            continue
        for name in spec.fields_marked(Mark.READS):
            value = node.params.get(name)
            if not isinstance(value, str) or not value.strip() or PLACEHOLDER_RE.search(value):
                continue
            if value.strip().isdigit() or url_scheme(value) is not None:
                continue  # a webcam or a URL, not a file
            problem = _file_problem(spec.params.model_fields[name], name, value, skill_dir, node.id)
            if problem is not None:
                problems.append(problem)
    return problems


def _file_problem(info: FieldInfo, name: str, value: str, skill_dir: Path, node_id: str) -> Problem | None:
    path = Path(value).expanduser()
    path = path if path.is_absolute() else skill_dir / path
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
        return None
    return (warning if per_device else error)(code, mask_secrets(message), node_id, name)
