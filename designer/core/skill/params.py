"""``$param(name)`` placeholders: values that differ per deployment, filled at run time."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from designer.core.skill.document import Skill
from designer.core.skill.fields import PARAM_NAME_RE, PLACEHOLDER_RE, placeholders_in


class ParamError(ValueError):
    """A missing or unknown deployment parameter; the message lists them and where they are used."""


def find_placeholders(skill: Skill) -> dict[str, list[str]]:
    """Each placeholder name with the ids of the nodes that use it."""
    used: dict[str, list[str]] = {}
    for node in skill.nodes:
        for name in placeholders_in(node.params):
            users = used.setdefault(name, [])
            if node.id not in users:
                users.append(node.id)
    return dict(sorted(used.items()))


def parse_assignments(items: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` strings (from ``--param``) into a map, with a clear error for bad ones."""
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not PARAM_NAME_RE.match(name):
            raise ParamError(f"--param {item!r}: write NAME=VALUE, e.g. --param rtsp=rtsp://cam/1")
        values[name] = value
    return values


def _fill(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        match = PLACEHOLDER_RE.fullmatch(value)
        if match:
            return values[match.group(1)]
        return PLACEHOLDER_RE.sub(lambda m: values[m.group(1)], value)
    if isinstance(value, list):
        return [_fill(item, values) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, values) for key, item in value.items()}
    return value


def substitute(skill: Skill, values: Mapping[str, str], *, allow_unused: bool = False) -> Skill:
    """A copy of the skill with every placeholder replaced.

    Every placeholder must get a value, and (unless ``allow_unused``) every
    value must be used: a misspelt ``--param`` should not pass silently.
    """
    used = find_placeholders(skill)
    missing = [name for name in used if name not in values]
    unknown = sorted(set(values) - set(used))
    messages = [
        f"missing parameter {name!r} (used by node {', '.join(used[name])}): pass --param {name}=VALUE"
        for name in missing
    ]
    if unknown and not allow_unused:
        known = ", ".join(used) or "none"
        messages += [f"unknown parameter {name!r}: this skill's parameters are {known}" for name in unknown]
    if messages:
        raise ParamError("; ".join(messages))
    nodes = [node.model_copy(update={"params": _fill(node.params, values)}) for node in skill.nodes]
    return skill.model_copy(update={"nodes": nodes})
