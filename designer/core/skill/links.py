"""Whether one more link may join a skill: the graph rules an editor checks before connecting.

The validator reports what is wrong with a whole skill; this answers the
narrower question an editor asks while the user drags a link, with the
validator's own rule for the link itself (``edge_problem``) and the graph-wide
rules (one input, no cycle, no duplicate) phrased for the link being drawn.
"""

from __future__ import annotations

from designer.core.skill.catalog import get_spec
from designer.core.skill.document import Edge, Node, Skill
from designer.core.skill.validate import edge_problem


def link_refusal(skill: Skill, edge: Edge) -> str | None:
    """Why ``edge`` cannot be added to ``skill``, or None when it may."""
    src, dst = edge.source, edge.target
    nodes = {n.id: n for n in skill.nodes}
    if src.node not in nodes or dst.node not in nodes:
        return "Both ends of a link must be nodes of this skill."
    problem = edge_problem(edge, {i: get_spec(n.type) for i, n in nodes.items()}, lambda i: _name(nodes[i]))
    if problem is not None:
        return problem.message
    for existing in skill.edges:
        if existing.key() == edge.key():
            return "These ports are already linked."
        if existing.target.node == dst.node and existing.target.port == dst.port:
            return (
                f"{_name(nodes[dst.node])} already takes its frames from {existing.source.node!r}: "
                "a node has one input link (outputs may fan out)."
            )
    if _reaches(skill, dst.node, src.node):
        return f"Linking {src.node!r} to {dst.node!r} would make a cycle: frames must flow one way."
    return None


def _name(node: Node) -> str:
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
