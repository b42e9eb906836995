"""What a node type is: its group, ports and parameter model, defined once.

The palette, the property forms, validation, the engine and the exporter all
read these specs, so adding a node type touches one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from pydantic_core import to_jsonable_python


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


FRAME = "frame"


@dataclass(frozen=True, slots=True)
class Port:
    name: str
    kind: str = FRAME


class Params(BaseModel):
    """Base of every node's parameter model: strict about unknown keys."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


@dataclass(frozen=True)
class NodeSpec:
    """One node type. ``type_id`` is ``<kind>@<version>``, as written in skill files."""

    kind: str
    version: int
    title: str
    group: Group
    role: Role
    params: type[Params]
    description: str
    inputs: tuple[Port, ...] = (Port("in"),)
    outputs: tuple[Port, ...] = (Port("out"),)
    keywords: tuple[str, ...] = field(default_factory=tuple)

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
