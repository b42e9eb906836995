"""The node reference, generated from the catalog: every type and every parameter.

``skill-designer nodes`` prints it and docs/nodes.md is written from it, so the reference a
custom-node author reads cannot drift from what the validator and the engine accept.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt, MaxLen, MinLen
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined, to_jsonable_python

from designer.core.skill.catalog import SPECS, Group, NodeSpec, get_spec, newest
from designer.core.skill.fields import accepts_placeholder, is_secret

MARKDOWN_COMMAND = "skill-designer nodes --markdown > docs/nodes.md"


def _type_name(annotation: Any) -> tuple[str, list[Any] | None]:
    """A short type name for people, and the choices of a Literal."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Literal:
        return "choice", list(args)
    if origin in (typing.Union, types.UnionType):
        named = [_type_name(a)[0] for a in args if a is not type(None)]
        choices = next((_type_name(a)[1] for a in args if typing.get_origin(a) is Literal), None)
        suffix = " or empty" if type(None) in args else ""
        return " or ".join(named) + suffix, choices
    if origin is list:
        inner = _type_name(args[0])[0] if args else "value"
        return f"list of {inner}", None
    if isinstance(annotation, type):
        return {"str": "text", "int": "integer", "float": "number", "bool": "true/false"}.get(
            annotation.__name__, annotation.__name__
        ), None
    return str(annotation), None


def _range(info: FieldInfo) -> str:
    """``0..100``, ``> 0``, ``<= 600``, ``length >= 1``: the constraints the validator applies."""
    bounds = {type(item): item for item in info.metadata}
    low = {Ge: lambda m: f">= {m.ge}", Gt: lambda m: f"> {m.gt}"}
    high = {Le: lambda m: f"<= {m.le}", Lt: lambda m: f"< {m.lt}"}
    texts = [show(bounds[kind]) for kind, show in (low | high).items() if kind in bounds]
    if Ge in bounds and Le in bounds:
        texts = [f"{bounds[Ge].ge}..{bounds[Le].le}"]
    if MinLen in bounds and bounds[MinLen].min_length > 0:
        texts.append(f"at least {bounds[MinLen].min_length} long")
    if MaxLen in bounds:
        texts.append(f"at most {bounds[MaxLen].max_length} long")
    return ", ".join(texts)


def parameter_reference(spec: NodeSpec) -> list[dict[str, Any]]:
    """Every parameter of a node type, as the reference shows it."""
    rows = []
    for name, info in spec.params.model_fields.items():
        type_name, choices = _type_name(info.annotation)
        required = info.is_required()
        default = None if required else to_jsonable_python(info.get_default(call_default_factory=True))
        rows.append(
            {
                "name": name,
                "title": info.title or name,
                "type": type_name,
                "required": required,
                "default": default if default is not PydanticUndefined else None,
                "range": _range(info),
                "choices": choices,
                "help": info.description or "",
                "secret": is_secret(info),
                "per_device": accepts_placeholder(info),
            }
        )
    return rows


def node_reference(spec: NodeSpec, *, with_params: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {
        "type": spec.type_id,
        "title": spec.title,
        "group": spec.group.value,
        "role": spec.role.value,
        "description": spec.description,
    }
    if with_params:
        data["parameters"] = parameter_reference(spec)
    return data


def find_spec(name: str) -> NodeSpec | None:
    """A node type by its type id (``model@1``) or its kind (``model``), the newest version."""
    return get_spec(name) or newest(name.strip().lower())


def _default_text(row: dict[str, Any]) -> str:
    if row["required"]:
        return "required"
    value = row["default"]
    if value in ("", None, []):
        return "empty"
    return f"`{value}`"


def _notes(row: dict[str, Any]) -> str:
    notes = []
    if row["choices"]:
        notes.append("one of " + ", ".join(f"`{c}`" for c in row["choices"]))
    if row["range"]:
        notes.append(row["range"])
    if row["per_device"]:
        notes.append("may be `$param(NAME)` (per device)")
    if row["secret"]:
        notes.append("**secret**: never exported")
    return "; ".join(notes)


def reference_markdown() -> str:
    """docs/nodes.md: every node type, grouped, with every parameter."""
    lines = [
        "# Node reference",
        "",
        f"Generated from the node catalog (`{MARKDOWN_COMMAND}`); a test checks it is current.",
        "The same reference is printed by `skill-designer nodes` and `skill-designer nodes TYPE`",
        "(add `--json` for machines). Parameters marked *per device* may be written",
        "`$param(NAME)` and filled with `run --param NAME=VALUE`; *secret* ones are never",
        "written into exported files.",
        "",
    ]
    for group in Group:
        lines += [f"## {group.value}", ""]
        for spec in (s for s in SPECS if s.group is group):
            lines += [f"### {spec.title} (`{spec.type_id}`)", "", spec.description, ""]
            lines += ["| parameter | type | default | allowed | help |", "|---|---|---|---|---|"]
            for row in parameter_reference(spec):
                cells = [
                    f"`{row['name']}`",
                    row["type"],
                    _default_text(row),
                    _notes(row),
                    f"{row['title']}. {row['help']}".strip().replace("|", "\\|"),
                ]
                lines.append("| " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)
