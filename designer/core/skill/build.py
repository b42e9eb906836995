"""Building skills in code: fresh node ids, links, a minimal skill, an automatic layout."""

from __future__ import annotations

from collections import defaultdict
from itertools import pairwise
from typing import Any

from designer.core.skill.catalog import get_spec
from designer.core.skill.catalog.exports import INSIGHTS_LOG
from designer.core.skill.catalog.process import FILTER
from designer.core.skill.catalog.sources import CAMERA
from designer.core.skill.document import Edge, Layout, Node, PortRef, Position, Settings, Skill

ROW_HEIGHT = 120.0
COLUMN_WIDTH = 260.0


def new_node_id(skill: Skill, kind: str) -> str:
    """``<kind>-<n>`` with the lowest free n: readable, and never reused while the node exists."""
    return free_node_id({node.id for node in skill.nodes}, kind)


def free_node_id(taken: set[str], kind: str) -> str:
    n = 1
    while f"{kind}-{n}" in taken:
        n += 1
    return f"{kind}-{n}"


def add_node(
    skill: Skill, type_id: str, node_id: str | None = None, *, title: str = "", **params: Any
) -> Node:
    """Append a node with the spec's defaults overridden by ``params``; ``title`` is its display name."""
    spec = get_spec(type_id)
    if spec is None:
        raise KeyError(f"unknown node type {type_id!r}")
    node = Node(
        id=node_id or new_node_id(skill, spec.kind),
        type=type_id,
        name=title or spec.title,
        params={**spec.defaults(), **params},
    )
    skill.nodes.append(node)
    return node


def connect(
    skill: Skill, source: str, target: str, source_port: str = "out", target_port: str = "in"
) -> Edge:
    edge = Edge(source=PortRef(node=source, port=source_port), target=PortRef(node=target, port=target_port))
    skill.edges.append(edge)
    return edge


def chain(skill: Skill, *node_ids: str) -> None:
    for source, target in pairwise(node_ids):
        connect(skill, source, target)


def minimal_skill(name: str, source: str = "0") -> Skill:
    """The smallest valid skill: Camera Input -> Filter -> Insights Log."""
    skill = Skill(settings=Settings(name=name))
    camera = add_node(skill, CAMERA.type_id, source=source)
    keep = add_node(skill, FILTER.type_id)
    log = add_node(skill, INSIGHTS_LOG.type_id)
    chain(skill, camera.id, keep.id, log.id)
    return auto_layout(skill)


def auto_layout(skill: Skill) -> Skill:
    """Top-to-bottom rows by depth from the camera; used when a file carries no layout."""
    children = defaultdict(list)
    has_parent = set()
    for edge in skill.edges:
        children[edge.source.node].append(edge.target.node)
        has_parent.add(edge.target.node)
    depth: dict[str, int] = {}
    frontier = [n.id for n in skill.nodes if n.id not in has_parent]
    level = 0
    while frontier and level <= len(skill.nodes):
        nxt = []
        for node_id in frontier:
            if node_id not in depth:
                depth[node_id] = level
                nxt.extend(children[node_id])
        frontier, level = nxt, level + 1
    rows: dict[int, list[str]] = defaultdict(list)
    for node in skill.nodes:
        rows[depth.get(node.id, level)].append(node.id)
    positions = {
        node_id: Position(x=column * COLUMN_WIDTH, y=row * ROW_HEIGHT)
        for row, ids in rows.items()
        for column, node_id in enumerate(ids)
    }
    skill.layout = Layout(nodes=positions)
    return skill
