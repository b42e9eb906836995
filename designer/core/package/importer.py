"""``import_package``: a package back into the designer, its models into the library.

The designer calls ``import_package(zip_path, dest_dir, library)`` and opens the skill
file it returns. Each packaged model is added to the library (or found there already,
by content) and the skill's nodes name it by library id again, with the settings it was
exported with.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.package.archive import DEFAULT_LIMITS, Limits, unpack_package
from designer.core.package.manifest import SKILL_NAME, PackageError
from designer.core.package.secrets import ENV_REF_RE
from designer.core.skill import SkillFileError, load_skill, save_skill

Progress = Callable[[str, int, int], None]


@dataclass
class ImportReport:
    skill_path: Path
    folder: Path
    models_added: list[str] = field(default_factory=list)
    models_reused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "skill": str(self.skill_path),
            "folder": str(self.folder),
            "models_added": self.models_added,
            "models_reused": self.models_reused,
            "notes": self.notes,
        }


def _library_match(library: Any, onnx_sha: str, labels_sha: str | None) -> str | None:
    for entry in library.list():
        labels = entry.labels_file.sha256 if entry.labels_file else None
        if entry.model_file.sha256 == onnx_sha and labels == labels_sha:
            return entry.id
    return None


def import_package(
    zip_path: str | os.PathLike,
    dest_dir: str | os.PathLike,
    library: Any,
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> tuple[Path, ImportReport]:
    """Unpack ``zip_path`` into ``dest_dir/<skill id>`` and write an editable skill file there.

    Returns the skill file's path and a report. Secrets stay ``${NAME}`` references: the
    report lists them, to fill in the designer.
    """
    from designer.core.models.registry import slugify

    with _reader_manifest(zip_path, limits) as manifest:
        skill_id = manifest.skill.id
    folder = Path(dest_dir) / skill_id
    n = 2
    while folder.exists():
        folder, n = Path(dest_dir) / f"{skill_id}-{n}", n + 1
    manifest = unpack_package(zip_path, folder, limits, progress)
    try:
        skill = load_skill(folder / SKILL_NAME)
    except SkillFileError as exc:
        raise PackageError(f"{zip_path}: {SKILL_NAME}: {exc.message}") from None
    report = ImportReport(skill_path=folder / f"{skill_id}.skill.json", folder=folder)
    ids: dict[str, str] = {}
    for model in manifest.models:
        onnx_name = next(name for name in model.files if name.endswith(".onnx"))
        labels_name = f"models/{model.id}/labels.txt"
        labels_sha = manifest.files[labels_name].sha256 if labels_name in manifest.files else None
        settings = json.loads((folder / f"models/{model.id}/model.json").read_text(encoding="utf-8"))
        if library is None:
            continue
        existing = _library_match(library, manifest.files[onnx_name].sha256, labels_sha)
        if existing is not None:
            ids[model.id] = existing
            report.models_reused.append(existing)
            continue
        name, k = model.id, 2
        while library.find(slugify(name)) is not None:
            name, k = f"{model.id}-{k}", k + 1
        overrides = settings.get("overrides") or {}
        try:
            entry = library.add(
                name,
                model.task,
                folder / onnx_name,
                folder / labels_name if labels_sha else None,
                description=f"Imported from package {manifest.skill.id} {manifest.skill.version}",
                tags={"package": manifest.skill.id},
                layout=overrides.get("layout"),
                preprocess=overrides.get("preprocess") or None,
            )
        except Exception as exc:
            report.notes.append(
                f"model {model.id}: not added to the library ({exc}); the skill names its "
                "file in the package folder"
            )
            continue
        ids[model.id] = entry.id
        report.models_added.append(entry.id)
    nodes = []
    for node in skill.nodes:
        params = dict(node.params)
        path = str(params.get("model_path", ""))
        model_id = path.split("/")[1] if path.startswith("models/") and path.count("/") == 2 else None
        if node.type.startswith("model@") and model_id in ids:
            params.update(model_id=ids[model_id], model_path="", labels_path="")
        nodes.append(node.model_copy(update={"params": params}))
        for value in params.values():
            for ref in ENV_REF_RE.findall(json.dumps(value)):
                report.notes.append(
                    f"node {node.id}: ${{{ref}}} stands for a secret the package left out; "
                    "set the value (or a $param) before running in the designer"
                )
    skill = skill.model_copy(update={"nodes": nodes})
    save_skill(skill, report.skill_path)
    return report.skill_path, report


class _reader_manifest:
    """The manifest of a package, read (structure checked) without unpacking it."""

    def __init__(self, path: str | os.PathLike, limits: Limits) -> None:
        from designer.core.package.archive import PackageReader

        self.reader = PackageReader(path, limits)

    def __enter__(self):
        return self.reader.manifest

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
