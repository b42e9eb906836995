"""Skill <-> scene: the only code that knows both a Skill and the graph.

The scene holds nodes, links and positions; the rest of the skill (settings,
unknown top-level fields) travels in a base Skill beside it. ``to_skill``
gives back exactly what ``load`` was given, so saving never changes a file
the user did not edit.
"""

from __future__ import annotations

from collections.abc import Iterator

from designer.core.skill import Edge, Node, PortRef, Position, Skill
from designer.core.skill.build import auto_layout
from designer.ui.canvas.graph import EXTRA, SkillGraph


def load(graph: SkillGraph, skill: Skill) -> None:
    """Replace the scene by ``skill``'s nodes and links; no undo history."""
    for _ in load_steps(graph, skill):
        pass


def load_steps(graph: SkillGraph, skill: Skill) -> Iterator[None]:
    """``load`` one node or link at a time, so a caller can keep the window responsive.

    NodeGraphQt needs about 10 ms per node here: a 300-node skill in one go
    would freeze the window for seconds.
    """
    graph.clear_session()
    positions = dict(skill.layout.nodes)
    if any(node.id not in positions for node in skill.nodes):
        positions = {**auto_layout(skill.model_copy(deep=True)).layout.nodes, **positions}
    by_id = {}
    for node in skill.nodes:
        pos = positions.get(node.id, Position())
        by_id[node.id] = graph.create_skill_node(
            node.type,
            node.id,
            node.name,
            node.params,
            extra=dict(node.model_extra or {}),
            pos=(pos.x, pos.y),
            push_undo=False,
        )
        yield
    for edge in skill.edges:
        source, target = by_id.get(edge.source.node), by_id.get(edge.target.node)
        if source is None or target is None:
            continue  # a link to a missing node: the validator reports it; nothing to draw
        if edge.source.port not in source.outputs() and source.SPEC is not None:
            continue
        if edge.target.port not in target.inputs() and target.SPEC is not None:
            continue
        graph.link(source, edge.source.port, target, edge.target.port)
        yield
    graph.clear_selection()
    graph.clear_undo_stack()


def to_skill(graph: SkillGraph, base: Skill) -> Skill:
    """The scene as a Skill, with ``base``'s settings and top-level fields."""
    nodes, layout = [], {}
    for item in graph.skill_nodes():
        node_id = item.node_id()
        nodes.append(
            Node(
                id=node_id,
                type=item.type_id(),
                name=item.name(),
                params=item.params(),
                **item.get_property(EXTRA),
            )
        )
        x, y = graph.position(item)
        layout[node_id] = Position(x=float(x), y=float(y))
    edges = [
        Edge(source=PortRef(node=s, port=sp), target=PortRef(node=t, port=tp))
        for s, sp, t, tp in graph.links()
    ]
    skill = base.model_copy(deep=True)
    skill.nodes, skill.edges = nodes, edges
    skill.layout = base.layout.model_copy(update={"nodes": layout})
    return skill
