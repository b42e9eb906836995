"""``skill.json``: the packaged skill (no canvas layout, secret-free, models named by their files)."""

from __future__ import annotations

from designer.core.package.context import ExportContext
from designer.core.package.manifest import SKILL_NAME
from designer.core.package.parts import PartOutput
from designer.core.skill.compiled import CompiledSkill


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    return PartOutput({SKILL_NAME: context.skill_json})
