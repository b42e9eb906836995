"""Which nodes of a skill use a model, and a skill switched from one library model to another
(an original and its optimized forms). Plain skill data: the designer applies the same change
to its canvas as one undo step."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from designer.core.skill.catalog import get_spec
from designer.core.skill.document import Skill
from designer.core.skill.fields import Mark


@dataclass(frozen=True)
class ModelUse:
    """One model reference in a skill: the node, its parameter (marked MODEL) and the model id."""

    node_id: str
    param: str
    model_id: str


def model_uses(skill: Skill, model_ids: Collection[str] | None = None) -> list[ModelUse]:
    """Every parameter marked MODEL naming one of ``model_ids`` (None: any model)."""
    uses = []
    for node in skill.nodes:
        spec = get_spec(node.type)
        if spec is None:
            continue
        for name in spec.fields_marked(Mark.MODEL):
            value = node.params.get(name)
            if isinstance(value, str) and value and (model_ids is None or value in model_ids):
                uses.append(ModelUse(node.id, name, value))
    return uses


def switched_params(skill: Skill, to_id: str, from_ids: Collection[str]) -> dict[str, dict[str, Any]]:
    """node id -> its new parameters, for each node naming one of ``from_ids`` (now ``to_id``)."""
    changed: dict[str, dict[str, Any]] = {}
    nodes = {node.id: node for node in skill.nodes}
    for use in model_uses(skill, set(from_ids) - {to_id}):
        params = changed.setdefault(use.node_id, dict(nodes[use.node_id].params))
        params[use.param] = to_id
    return changed


def switch_model(skill: Skill, to_id: str, from_ids: Collection[str]) -> Skill:
    """A copy of ``skill`` whose nodes naming one of ``from_ids`` name ``to_id`` instead."""
    changed = switched_params(skill, to_id, from_ids)
    nodes = [
        node.model_copy(update={"params": changed[node.id]}) if node.id in changed else node
        for node in skill.nodes
    ]
    return skill.model_copy(update={"nodes": nodes})
