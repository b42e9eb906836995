"""The node catalog: every node type, looked up by its versioned type id."""

from __future__ import annotations

from designer.core.skill.catalog import exports, privacy_mask, process, sources
from designer.core.skill.catalog.spec import FRAME, Data, Group, Need, NodeSpec, Params, Port, Role

SPECS: tuple[NodeSpec, ...] = sources.SPECS + process.SPECS + privacy_mask.SPECS + exports.SPECS
CATALOG: dict[str, NodeSpec] = {spec.type_id: spec for spec in SPECS}


def get_spec(type_id: str) -> NodeSpec | None:
    return CATALOG.get(type_id)


def newest(kind: str) -> NodeSpec | None:
    """The newest version of a node kind (``model`` -> ``model@1``)."""
    versions = [spec for spec in SPECS if spec.kind == kind]
    return max(versions, key=lambda spec: spec.version) if versions else None


def search(text: str) -> list[NodeSpec]:
    """Palette search: case-insensitive match on title, type id and keywords."""
    needle = text.strip().lower()
    return [
        spec
        for spec in SPECS
        if not needle
        or needle in spec.title.lower()
        or needle in spec.type_id
        or any(needle in word for word in spec.keywords)
    ]


__all__ = [
    "CATALOG",
    "FRAME",
    "SPECS",
    "Data",
    "Group",
    "Need",
    "NodeSpec",
    "Params",
    "Port",
    "Role",
    "get_spec",
    "newest",
    "search",
]
