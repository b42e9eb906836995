"""``deploy/kan/skill.yaml``: the POSS/KAN ``Skill`` resource; its comments list what KAN cannot
express (the report's notes).

KAN's edge runtime loads a model node from a KAN Model resource, which the package cannot name:
each model node's name is ``${KAN_MODEL_<NODE>}``, which ``skill-designer fill --kan-model
NODE=MODEL`` fills (and refuses to leave empty). A skill KAN's portal refuses (no export node, a
disconnected graph) gets no resource; the notes say why.
"""

from __future__ import annotations

from designer.core.package.context import ExportContext
from designer.core.package.deploy import kan_model_env
from designer.core.package.parts import PartOutput
from designer.core.package.secrets import move_secrets
from designer.core.skill.catalog import Role
from designer.core.skill.compiled import CompiledSkill
from designer.core.skill.kan import dump_kan, export_kan

KAN_FILE = "deploy/kan/skill.yaml"


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    # The skill as the user wrote it (model names, node order), its secrets moved out.
    skill = move_secrets(context.source, context.containers_env)[0]
    model_nodes = sorted(n.id for n in compiled.nodes.values() if n.spec.role is Role.MODEL)
    models = {node_id: f"${{{kan_model_env(node_id)}}}" for node_id in model_nodes}
    resource, report = export_kan(skill, context.skill_id, models)
    if report.refusals:
        notes = [f"not written: {reason}" for reason in report.refusals]
        return PartOutput({}, notes=notes + [n for n in report.notes if n not in report.refusals])
    header = "".join(f"# KAN cannot express: {note}\n" for note in report.notes)
    if model_nodes:
        args = " ".join(f"--kan-model {node_id}=MODEL" for node_id in model_nodes)
        header += (
            f"# Name the KAN Model resource of each model node: skill-designer fill PACKAGE.zip {args}\n"
        )
    return PartOutput({KAN_FILE: (header + dump_kan(resource)).encode()}, notes=list(report.notes))
