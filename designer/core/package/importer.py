"""``import_package``: a package back into the designer, its models into the library.

The designer calls ``import_package(zip_path, dest_dir, library)`` and opens the skill
file it returns. Each packaged model is added to the library (or found there already,
by content) and the skill's nodes name it by library id again, with the settings it was
exported with.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.package.archive import DEFAULT_LIMITS, Limits, unpack_package
from designer.core.package.manifest import SKILL_NAME, Manifest, PackageError
from designer.core.package.secrets import ENV_REF_RE
from designer.core.skill import SkillFileError, load_skill, save_skill
from designer.core.skill.compiled import CompiledNode, compile_skill
from designer.core.skill.fields import Mark

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
    with _reader_manifest(zip_path, limits) as manifest:
        skill_id = manifest.skill.id  # a slug: the manifest refuses any other id
    into = Path(dest_dir)
    folder = into / skill_id
    n = 2
    while folder.exists() or folder.is_symlink():
        folder, n = into / f"{skill_id}-{n}", n + 1
    if folder.resolve().parent != into.resolve():
        raise PackageError(f"{zip_path}: skill id {skill_id!r} would be unpacked outside {into}")
    manifest = unpack_package(zip_path, folder, limits, progress)
    try:
        return _import_unpacked(zip_path, manifest, folder, skill_id, library)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # nothing half-imported stays behind
        raise


def _import_unpacked(
    zip_path: str | os.PathLike, manifest: Manifest, folder: Path, skill_id: str, library: Any
) -> tuple[Path, ImportReport]:
    try:
        skill = load_skill(folder / SKILL_NAME)
    except SkillFileError as exc:
        raise PackageError(f"{zip_path}: {SKILL_NAME}: {exc.message}") from None
    report = ImportReport(skill_path=folder / f"{skill_id}.skill.json", folder=folder)
    if report.skill_path.exists():
        raise PackageError(
            f"{zip_path}: the package holds a file named {report.skill_path.name}, the skill file "
            "import writes; refusing to overwrite it"
        )
    ids: dict[str, str] = {}
    if library is not None:
        for model in manifest.models:
            try:
                library_id = _add_model(library, manifest, model, folder, report)
            except (
                OSError,
                ValueError,
                KeyError,
                StopIteration,
                AttributeError,
                TypeError,
                RecursionError,
            ) as exc:
                raise PackageError(
                    f"{zip_path}: model {model.id}: its files do not match the manifest ({exc!r}); "
                    "refusing the package"
                ) from None
            if library_id is not None:
                ids[model.id] = library_id
    compiled = compile_skill(skill)
    nodes = []
    for node in skill.nodes:
        compiled_node = compiled.nodes.get(node.id)
        params = _library_params(compiled_node, ids) if compiled_node is not None else dict(node.params)
        nodes.append(node.model_copy(update={"params": params}))
        report.notes += _secret_notes(node.id, params)
    save_skill(skill.model_copy(update={"nodes": nodes}), report.skill_path)
    return report.skill_path, report


def _add_model(library: Any, manifest: Any, model: Any, folder: Path, report: ImportReport) -> str | None:
    """The library id of a packaged model: found there by content, else added (None: not added)."""
    from designer.core.models.registry import slugify

    onnx_name = next(name for name in model.files if name.endswith(".onnx"))
    labels_name = f"models/{model.id}/labels.txt"
    labels_sha = manifest.files[labels_name].sha256 if labels_name in manifest.files else None
    settings = json.loads((folder / f"models/{model.id}/model.json").read_text(encoding="utf-8"))
    existing = _library_match(library, manifest.files[onnx_name].sha256, labels_sha)
    if existing is not None:
        report.models_reused.append(existing)
        return existing
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
            f"model {model.id}: not added to the library ({exc}); the skill names its file in the "
            "package folder"
        )
        return None
    report.models_added.append(entry.id)
    return entry.id


def _packaged_model(value: Any) -> str | None:
    """The packaged model id in a path ``models/<id>/<file>``, else None."""
    path = str(value or "")
    return path.split("/")[1] if path.startswith("models/") and path.count("/") == 2 else None


def _library_params(node: CompiledNode, ids: dict[str, str]) -> dict:
    """A node's parameters naming its model by library id again (the field marked MODEL), its
    packaged files (the fields marked READS) cleared, when the library holds the model."""
    params = dict(node.raw.params)
    models = node.spec.fields_marked(Mark.MODEL)
    reads = node.spec.fields_marked(Mark.READS)
    packaged = {_packaged_model(params.get(name)) for name in reads} - {None}
    if models and len(packaged) == 1 and (model_id := packaged.pop()) in ids:
        params.update({name: ids[model_id] for name in models})
        params.update({name: "" for name in reads})
    return params


def _secret_notes(node_id: str, params: dict) -> list[str]:
    return [
        f"node {node_id}: ${{{ref}}} stands for a secret the package left out; "
        "set the value (or a $param) before running in the designer"
        for value in params.values()
        for ref in ENV_REF_RE.findall(json.dumps(value))
    ]


class _reader_manifest:
    """The manifest of a package, read (structure checked) without unpacking it."""

    def __init__(self, path: str | os.PathLike, limits: Limits) -> None:
        from designer.core.package.archive import PackageReader

        self.reader = PackageReader(path, limits)

    def __enter__(self):
        return self.reader.manifest

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
