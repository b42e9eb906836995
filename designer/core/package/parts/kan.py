"""``deploy/kan/skill.yaml``: the POSS/KAN ``Skill`` resource; its comments list what KAN cannot
express (the report's notes)."""

from __future__ import annotations

from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput
from designer.core.package.secrets import move_secrets
from designer.core.skill.compiled import CompiledSkill
from designer.core.skill.kan import dump_kan, export_kan


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    # The skill as the user wrote it (model names, node order), its secrets moved out.
    skill = move_secrets(context.source, context.containers_env)[0]
    resource, report = export_kan(skill, context.skill_id)
    header = "".join(f"# KAN cannot express: {note}\n" for note in report.notes)
    return PartOutput(
        {"deploy/kan/skill.yaml": (header + dump_kan(resource)).encode()}, notes=list(report.notes)
    )
