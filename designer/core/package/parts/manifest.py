"""``manifest.json``: what the package holds (every other file's SHA-256 and size) and what it
needs from the device. Last of the parts: it lists the files of all the others."""

from __future__ import annotations

import hashlib

import designer
from designer.core.package.context import ExportContext, sha256_file
from designer.core.package.manifest import MANIFEST_NAME, FileEntry, Manifest, ModelInfoEntry, SkillInfo
from designer.core.package.parts import PartOutput
from designer.core.package.parts.models import inspected
from designer.core.skill.compiled import CompiledSkill


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    files: dict[str, FileEntry] = {}
    for name, value in sorted(context.files.items()):
        if isinstance(value, bytes):
            files[name] = FileEntry(sha256=hashlib.sha256(value).hexdigest(), size=len(value))
        else:
            sha, size = sha256_file(value)
            files[name] = FileEntry(sha256=sha, size=size)
    settings = compiled.skill.settings
    manifest = Manifest(
        skill=SkillInfo(id=context.skill_id, name=settings.name, version=context.version),
        designer_version=designer.__version__,
        created_at=context.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        acceleration=settings.acceleration,
        execution_providers=context.providers,
        params=context.params,
        env=context.env,
        models=[
            ModelInfoEntry(
                id=m.id,
                nodes=m.nodes,
                task=inspected(m).task,
                opset=inspected(m).opset,
                files=sorted(n for n in context.files if n.startswith(f"models/{m.id}/")),
            )
            for m in context.models.values()
        ],
        files=files,
    )
    return PartOutput({MANIFEST_NAME: manifest.dump()})
