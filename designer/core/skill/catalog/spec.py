"""What a node type is: its group, ports, parameter model, runtime and icon, defined once.

The palette, the property forms, validation, the engine, the exporter and the
KAN codec all read these specs; nothing outside the catalog compares a node
type's name, so adding a node type is one catalog module, one runtime module
and one line in the catalog list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python

from designer.core.skill.catalog.kan_codecs import KanCodec
from designer.core.skill.fields import has_mark


class Group(StrEnum):
    IMPORT = "Import"
    PROCESS = "Process"
    EXPORT = "Export"


class Role(StrEnum):
    """What a node does to a frame; the validator's graph rules key on it."""

    SOURCE = "source"
    MODEL = "model"
    TRANSFORM = "transform"
    EXPORT = "export"


class Data(StrEnum):
    """What travels on a frame past a node: an output provides some, an input may need some."""

    FRAMES = "frames"
    BOXES = "boxes"  # detected objects with boxes
    TRACKS = "tracks"  # tracking ids on the objects
    CLASSES = "classes"  # whole-frame or per-object classes
    EVENTS = "events"  # zone and line events


FRAME = "frame"  # the one link type: every port carries frames and what rides on them

#: Given the compiled node (``.params``, ``.model``...), whether a rule applies / what it provides.
NodeTest = Callable[[Any], bool]


@dataclass(frozen=True, slots=True)
class Need:
    """Data an input wants from somewhere upstream; missing, it is a warning with this code."""

    data: Data
    code: str
    message: str
    when: NodeTest | None = None  # None: always

    def applies(self, node: Any) -> bool:
        return self.when is None or self.when(node)


@dataclass(frozen=True, slots=True)
class Port:
    name: str
    kind: str = FRAME
    #: outputs: what this node adds; a function of the compiled node when it depends on settings
    provides: frozenset[Data] | Callable[[Any], frozenset[Data]] = frozenset()
    needs: tuple[Need, ...] = ()  # inputs: what must come from upstream

    def provided(self, node: Any) -> frozenset[Data]:
        return self.provides(node) if callable(self.provides) else self.provides


class Params(BaseModel):
    """Base of every node's parameter model: strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


@dataclass(frozen=True)
class NodeSpec:
    """One node type. ``type_id`` is ``<kind>@<version>``, as written in skill files.

    ``runtime`` is a lazy ``"module:Class"`` reference, so the skill layer never imports the
    engine; ``icon`` names a drawing in the designer's icon set. ``kan`` converts the node to and
    from a POSS/KAN Skill resource (None: KAN cannot express it, and the KAN export warns);
    ``deploy`` adds what the node needs to a fleet deployment (containers, routes).
    ``checks`` are rules that need the whole compiled skill (for example its acceleration).
    """

    kind: str
    version: int
    title: str
    group: Group
    role: Role
    params: type[Params]
    description: str
    runtime: str
    icon: str
    inputs: tuple[Port, ...] = (Port("in"),)
    outputs: tuple[Port, ...] = (Port("out"),)
    keywords: tuple[str, ...] = field(default_factory=tuple)
    kan: KanCodec | None = None
    deploy: Any = None
    checks: tuple[Callable[[Any, Any], list], ...] = ()

    @property
    def type_id(self) -> str:
        return f"{self.kind}@{self.version}"

    def defaults(self) -> dict:
        """Parameter values of a freshly dropped node (required ones left empty)."""
        return {
            name: to_jsonable_python(info.get_default(call_default_factory=True))
            for name, info in self.params.model_fields.items()
            if not info.is_required()
        }

    def input_port(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def output_port(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def provided(self, node: Any) -> frozenset[Data]:
        """What this node adds to the frames it passes on."""
        return frozenset().union(*(port.provided(node) for port in self.outputs))

    def needs(self) -> tuple[Need, ...]:
        return tuple(need for port in self.inputs for need in port.needs)

    def fields_marked(self, mark: str) -> list[str]:
        """Names of the parameters carrying a field marker (see ``designer.core.skill.fields.Mark``)."""
        return [name for name, info in self.params.model_fields.items() if has_mark(info, mark)]
