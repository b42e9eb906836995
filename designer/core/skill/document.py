"""The skill file (``*.skill.json``) as pydantic models: the single source of truth.

Unknown fields are kept (``extra="allow"``) and reported by the validator, so
a file written by a newer version round-trips without losing anything.
"""

from __future__ import annotations

import re
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from designer.core.skill.fields import ACCELERATIONS

FORMAT: Final = "skill-designer/skill"
FORMAT_VERSION = 1
NODE_ID_RE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class _Open(BaseModel):
    """Keeps unknown fields instead of dropping them."""

    model_config = ConfigDict(extra="allow")

    def unknown_fields(self) -> list[str]:
        return sorted(self.model_extra or {})


class Tag(_Open):
    name: str
    value: str = ""


class Settings(_Open):
    """The skill's "Basics": name, frame rate, device acceleration, tags."""

    name: str = ""
    fps: int = 15
    acceleration: str = ACCELERATIONS[0]
    tags: list[Tag] = Field(default_factory=list)
    description: str = ""


class Node(_Open):
    """One node: a stable id of ours, a versioned type id, and its parameter values.

    ``params`` holds the values as written, unvalidated: the node spec's
    parameter model checks them, so a broken value is reported, never lost.
    """

    id: str
    type: str
    name: str = ""
    params: dict[str, Any] = Field(default_factory=dict)


class PortRef(_Open):
    node: str
    port: str


class Edge(_Open):
    source: PortRef
    target: PortRef

    def key(self) -> tuple[str, str, str, str]:
        return (self.source.node, self.source.port, self.target.node, self.target.port)


class Position(_Open):
    x: float = 0.0
    y: float = 0.0


class Layout(_Open):
    """Canvas positions, kept apart from the graph so the engine never sees them."""

    nodes: dict[str, Position] = Field(default_factory=dict)


class Skill(_Open):
    format: Literal["skill-designer/skill"] = FORMAT
    format_version: int = FORMAT_VERSION
    settings: Settings
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    layout: Layout = Field(default_factory=Layout)

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def canonical(self) -> Skill:
        """Nodes sorted by id and edges by endpoints: one spelling per skill, for clean diffs."""
        return self.model_copy(
            update={
                "nodes": sorted(self.nodes, key=lambda n: n.id),
                "edges": sorted(self.edges, key=Edge.key),
            }
        )

    def without_layout(self) -> Skill:
        return self.model_copy(update={"layout": Layout()})
