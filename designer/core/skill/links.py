"""Whether one more link may join a skill: the graph rules an editor checks before connecting.

The validator reports what is wrong with a whole skill; this answers the
narrower question an editor asks while the user drags a link, with one
reason per broken rule, so the refusal can be shown as it happens.
"""

from __future__ import annotations

from designer.core.skill.catalog import Role, get_spec
from designer.core.skill.document import Edge, Skill


def link_refusal(skill: Skill, edge: Edge) -> str | None:
    """Why ``edge`` cannot be added to ``skill``, or None when it may."""
    src, dst = edge.source, edge.target
    source_node, target_node = skill.node(src.node), skill.node(dst.node)
    if source_node is None or target_node is None:
        return "Both ends of a link must be nodes of this skill."
    if src.node == dst.node:
        return f"{_name(source_node)} cannot feed itself."
    source_spec, target_spec = get_spec(source_node.type), get_spec(target_node.type)
    if source_spec is not None:
        if source_spec.output_port(src.port) is None:
            if source_spec.input_port(src.port) is not None:
                return "Links run from an output (bottom) to an input (top)."
            return f"{_name(source_node)} has no output {src.port!r}."
    if target_spec is not None:
        if target_spec.role is Role.SOURCE or not target_spec.inputs:
            return f"{_name(target_node)} is a source: nothing can feed it."
        if target_spec.input_port(dst.port) is None:
            return f"{_name(target_node)} has no input {dst.port!r}."
    for existing in skill.edges:
        if existing.key() == edge.key():
            return "These ports are already linked."
        if existing.target.node == dst.node and existing.target.port == dst.port:
            return (
                f"{_name(target_node)} already takes its frames from {existing.source.node!r}: "
                "a node has one input link (outputs may fan out)."
            )
    if _reaches(skill, dst.node, src.node):
        return f"Linking {src.node!r} to {dst.node!r} would make a cycle: frames must flow one way."
    return None


def _name(node) -> str:
    return f"{node.name or node.type} ({node.id})"


def _reaches(skill: Skill, start: str, goal: str) -> bool:
    children: dict[str, list[str]] = {}
    for edge in skill.edges:
        children.setdefault(edge.source.node, []).append(edge.target.node)
    seen, stack = set(), [start]
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(children.get(node, ()))
    return False
