"""``proto/custom_node.proto``: the gRPC contract custom nodes implement."""

from __future__ import annotations

from pathlib import Path

import designer
from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput
from designer.core.skill.compiled import CompiledSkill

PROTO_FILE = Path(designer.__file__).parent / "customnode" / "custom_node.proto"


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    return PartOutput({"proto/custom_node.proto": PROTO_FILE.read_bytes()})
