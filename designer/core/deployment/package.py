"""A deployment package (``*.deploy.zip``): the deployment, every skill, and every model once.

Each skill is exported as a skill package first (validated for the device, secrets moved to
environment variables), then unpacked into ``skills/<skill>/``; the models of all skills go to
one ``models/<id>/`` folder, each distinct model once (same files, same bytes), and each
``skills/<skill>/skill.json`` names them as ``../../models/<id>/...``. ``deployment.json`` lists
the cameras with their skills as ``skills/<skill>/skill.json``. ``manifest.json`` holds a SHA-256
and size per file; ``open_deployment_package`` checks every entry (names, sizes, hashes) before
anything runs, and unpacks into a fresh temporary folder.
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.deployment.check import secret_needs, written_secrets
from designer.core.deployment.document import Deployment, dump_deployment, load_deployment
from designer.core.deployment.fleet import FleetNeeds, fleet_files
from designer.core.deployment.runner import (
    LoadedSkill,
    close_packages,
    load_skills,
    needed_params,
    slug,
)

FORMAT = "skill-designer/deployment-package"
FORMAT_VERSION = 1
PACKAGE_SUFFIX = ".deploy.zip"
MANIFEST = "manifest.json"
DEPLOYMENT = "deployment.json"
MAX_ENTRIES = 10_000
MAX_TOTAL_BYTES = 16 * 1024**3
DEFAULT_IMAGE = "skill-designer-runtime:latest"


class DeploymentPackageError(Exception):
    """A deployment that cannot be packaged, or a package that cannot be trusted (names the entry)."""


@dataclass
class DeploymentExportReport:
    path: Path
    size: int
    sha256: str
    skills: list[str]
    models: list[str]  # the model folders, each once
    files: list[str]
    warnings: list[str] = field(default_factory=list)
    required_env: list[str] = field(default_factory=list)
    model_bytes_saved: int = 0  # what packaging each skill's models separately would have added


def is_deployment_package(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(PACKAGE_SUFFIX)


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _rewrite_models(value: Any, renames: dict[str, str]) -> Any:
    """``models/<id>/file`` -> ``../../models/<shared id>/file`` in every parameter value."""
    if isinstance(value, str):
        for old, new in renames.items():
            if value.startswith(old):
                return "../../" + new + value[len(old) :]
        return value
    if isinstance(value, list):
        return [_rewrite_models(v, renames) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite_models(v, renames) for k, v in value.items()}
    return value


@dataclass
class _Packing:
    """What export gathers across skills before the zip is written (nothing is written on error)."""

    entries: dict[str, bytes] = field(default_factory=dict)
    skill_dirs: dict[str, str] = field(default_factory=dict)  # skill ref -> skills/<name>
    skills_info: dict[str, Any] = field(default_factory=dict)
    model_owner: dict[str, str] = field(default_factory=dict)  # digest of a model folder -> shared folder
    warnings: list[str] = field(default_factory=list)
    required_env: set[str] = field(default_factory=set)
    saved: int = 0


def _check_secrets(deployment: Deployment, loaded: dict[str, LoadedSkill], deployment_path: Path) -> None:
    """Refuse secrets written in the deployment file: a package is copied around, a secret must
    not travel in it."""
    found = written_secrets(deployment, loaded)
    if found:
        where, message = found[0].where, found[0].message
        raise DeploymentPackageError(f"{deployment_path}: {where}: {message}; a secret is never packaged")


def _skill_dir_name(entry: LoadedSkill, ref: str, taken: dict[str, Any]) -> str:
    """A unique folder name under ``skills/``; two skills may share a name, their folders must not."""
    name = slug(entry.skill.settings.name or Path(ref).stem, "skill").lower()
    while name in taken:
        name += "-2"
    return name


def _share_models(manifest: dict, files: dict[str, bytes], packing: _Packing) -> dict[str, str]:
    """Put each distinct model folder in the package once (same files, same bytes); returns the
    skill's ``models/<id>/`` -> shared folder renames so its skill.json can point there."""
    renames: dict[str, str] = {}
    for model in manifest.get("models", []):
        folder = f"models/{model['id']}/"
        content = sorted((n, _sha(files[n])) for n in model["files"])
        digest = _sha(json.dumps([(n.removeprefix(folder), h) for n, h in content], allow_nan=False).encode())
        shared = packing.model_owner.get(digest)
        if shared is None:
            shared = folder
            while any(n.startswith(shared) for n in packing.entries):
                shared = shared.rstrip("/") + "-2/"
            packing.model_owner[digest] = shared
            for n in model["files"]:
                packing.entries[shared + n.removeprefix(folder)] = files[n]
        else:
            packing.saved += sum(len(files[n]) for n in model["files"])
        renames[folder] = shared
    return renames


def _rewrite_skill_json(files: dict[str, bytes], renames: dict[str, str]) -> None:
    """Point the skill's node parameters at the shared model folders (``../../models/...``)."""
    skill = json.loads(files["skill.json"])
    skill["nodes"] = [{**n, "params": _rewrite_models(n.get("params", {}), renames)} for n in skill["nodes"]]
    files["skill.json"] = (
        json.dumps(skill, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    ).encode()


def _add_skill(
    packing: _Packing, ref: str, entry: LoadedSkill, base: Path, tmp: Path, kwargs: dict[str, Any]
) -> None:
    """Export one skill as a skill package (validated, secrets moved out) and unpack it into
    ``skills/<name>/``, its models shared with the other skills'."""
    from designer.core.package.export import export_package

    name = _skill_dir_name(entry, ref, packing.skills_info)
    packing.skill_dirs[ref] = f"skills/{name}"
    source = entry.folder / "skill.json" if entry.is_package else base / ref
    report = export_package(entry.skill, source, tmp / f"{name}.zip", **kwargs)
    packing.warnings += [f"{ref}: {w}" for w in report.warnings]
    packing.required_env.update(report.required_env)
    with zipfile.ZipFile(tmp / f"{name}.zip") as archive:
        files = {n: archive.read(n) for n in archive.namelist() if not n.endswith("/")}
    manifest = json.loads(files[MANIFEST])
    _rewrite_skill_json(files, _share_models(manifest, files, packing))
    for n, data in files.items():
        if not n.startswith("models/") and n != MANIFEST:
            packing.entries[f"{packing.skill_dirs[ref]}/{n}"] = data
    packing.entries[f"{packing.skill_dirs[ref]}/skill-manifest.json"] = files[MANIFEST]
    packing.skills_info[name] = {
        "file": ref,
        "name": entry.skill.settings.name,
        "params": {k: v.get("default") for k, v in manifest.get("params", {}).items()},
    }


def _packaged_deployment(deployment: Deployment, skill_dirs: dict[str, str]) -> Deployment:
    """The deployment as it reads inside the package: each skill at ``skills/<name>/skill.json``."""
    cameras = [
        camera.model_copy(
            update={
                "skills": [
                    r.model_copy(update={"skill": f"{skill_dirs[r.skill]}/skill.json"}) for r in camera.skills
                ]
            }
        )
        for camera in deployment.cameras
    ]
    return deployment.model_copy(update={"cameras": cameras})


def _manifest(deployment: Deployment, packing: _Packing) -> bytes:
    """The package manifest: a SHA-256 and size per file, so opening can check every entry."""
    manifest_data = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "deployment": deployment.name,
        "device": deployment.device.model_dump(),
        "skills": packing.skills_info,
        "models": sorted(packing.model_owner.values()),
        "required_env": sorted(packing.required_env),
        "files": {n: {"sha256": _sha(d), "size": len(d)} for n, d in sorted(packing.entries.items())},
    }
    return (json.dumps(manifest_data, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def export_deployment(
    deployment_path: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    library: Any = None,
    runtime_image: str | None = None,
    defaults: dict[str, str] | None = None,
) -> DeploymentExportReport:
    """Package the deployment at ``deployment_path``; raises DeploymentPackageError (or the skill
    package's ExportError, with its located problems) and writes nothing when anything is wrong."""
    from designer.core.package.archive import write_zip

    deployment_path = Path(deployment_path)
    out_path = Path(out_path)
    if not is_deployment_package(out_path):
        raise DeploymentPackageError(f"{out_path}: a deployment package's name ends with {PACKAGE_SUFFIX}")
    deployment = load_deployment(deployment_path)
    base = deployment_path.resolve().parent
    loaded = load_skills(deployment, base, where=str(deployment_path))
    try:
        _check_secrets(deployment, loaded, deployment_path)
        packing = _pack(
            deployment, loaded, base, runtime_image, {"library": library, "defaults": defaults or {}}
        )
    finally:
        close_packages(loaded)
    packing.entries[MANIFEST] = _manifest(deployment, packing)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    write_zip(out_path, dict(packing.entries))
    data = out_path.read_bytes()
    return DeploymentExportReport(
        path=out_path,
        size=len(data),
        sha256=_sha(data),
        skills=sorted(packing.skills_info),
        models=sorted(m.rstrip("/") for m in packing.model_owner.values()),
        files=sorted(packing.entries),
        warnings=packing.warnings,
        required_env=sorted(packing.required_env),
        model_bytes_saved=packing.saved,
    )


def _pack(
    deployment: Deployment,
    loaded: dict[str, LoadedSkill],
    base: Path,
    runtime_image: str | None,
    kwargs: dict[str, Any],
) -> _Packing:
    """Every skill (as its package's content), each model once, the fleet files, deployment.json."""
    packing = _Packing()
    if runtime_image:
        kwargs["runtime_image"] = runtime_image
    with tempfile.TemporaryDirectory(prefix="deploy-export-") as tmp:
        for ref, entry in sorted(loaded.items()):
            _add_skill(packing, ref, entry, base, Path(tmp), kwargs)
    slugs = {ref: d.removeprefix("skills/") for ref, d in packing.skill_dirs.items()}
    params = needed_params(deployment, loaded)
    needs = FleetNeeds(
        params, frozenset(secret_needs(deployment, loaded) & set(params)), sorted(packing.required_env)
    )
    image = runtime_image or DEFAULT_IMAGE
    packing.entries.update(fleet_files(deployment, image, needs, {r: slugs[r] for r in packing.skill_dirs}))
    packing.entries[DEPLOYMENT] = dump_deployment(
        _packaged_deployment(deployment, packing.skill_dirs)
    ).encode()
    return packing


def _read_manifest(archive: zipfile.ZipFile, where: str) -> dict:
    """The package's manifest, refused unless it is a deployment package of a format we read."""
    try:
        manifest = json.loads(archive.read(MANIFEST))
    except KeyError:
        raise DeploymentPackageError(f"{where}: no {MANIFEST}: not a deployment package") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise DeploymentPackageError(f'{where}: {MANIFEST}: expected "format": "{FORMAT}"')
    if manifest.get("format_version") != FORMAT_VERSION:
        raise DeploymentPackageError(
            f"{where}: format_version {manifest.get('format_version')!r} unsupported"
        )
    return manifest


def _expected_entry(info: zipfile.ZipInfo, listed: dict[str, Any], where: str) -> dict | None:
    """The manifest's record for an entry to unpack, or None for folders and the manifest itself;
    encrypted entries, links and unlisted or resized entries are refused before any byte is written."""
    name = info.filename
    if info.is_dir() or name == MANIFEST:
        return None
    if info.flag_bits & 0x1:
        raise DeploymentPackageError(f"{where}: entry {name}: encrypted")
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise DeploymentPackageError(f"{where}: entry {name}: a link")
    expected = listed.get(name)
    if expected is None:
        raise DeploymentPackageError(f"{where}: entry {name} is not in the manifest")
    if info.file_size != expected["size"]:
        raise DeploymentPackageError(f"{where}: entry {name}: size differs from the manifest")
    return expected


def _extract_entry(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, expected: dict, folder: Path, where: str
) -> None:
    """Unpack one entry, stopping as soon as it runs past its declared size (a zip bomb cannot
    fill the disk), and refuse it if its SHA-256 is not the manifest's."""
    name = info.filename
    digest = hashlib.sha256()
    target = folder / name
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, target.open("wb") as sink:
        read = 0
        for block in iter(lambda: source.read(1 << 20), b""):
            read += len(block)
            if read > expected["size"]:
                raise DeploymentPackageError(f"{where}: entry {name}: longer than declared")
            digest.update(block)
            sink.write(block)
    if digest.hexdigest() != expected["sha256"]:
        raise DeploymentPackageError(f"{where}: entry {name}: changed (SHA-256 differs)")


def _unpack(archive: zipfile.ZipFile, folder: Path, where: str) -> None:
    """Check and unpack every entry against the manifest, then require every listed file present."""
    from designer.core.package.archive import check_entry_name

    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise DeploymentPackageError(f"{where}: {len(infos)} entries; at most {MAX_ENTRIES}")
    manifest = _read_manifest(archive, where)
    listed: dict[str, Any] = manifest.get("files") or {}
    if sum(int(v.get("size", 0)) for v in listed.values()) > MAX_TOTAL_BYTES:
        raise DeploymentPackageError(f"{where}: the files add up to more than {MAX_TOTAL_BYTES:,} bytes")
    names = set()
    for info in infos:
        check_entry_name(info.filename, where)
        expected = _expected_entry(info, listed, where)
        if expected is None:
            continue
        _extract_entry(archive, info, expected, folder, where)
        names.add(info.filename)
    (folder / MANIFEST).write_text(json.dumps(manifest, allow_nan=False), encoding="utf-8")
    missing = sorted(set(listed) - names)
    if missing:
        raise DeploymentPackageError(f"{where}: entry {missing[0]} is listed but missing")


def open_deployment_package(path: str | os.PathLike) -> tuple[Deployment, Path]:
    """Check every entry of the package and unpack it into a fresh temporary folder (removed at
    exit); returns the deployment and that folder. DeploymentPackageError names the entry."""
    from designer.core.package.manifest import PackageError

    where = str(path)
    folder = Path(tempfile.mkdtemp(prefix="deploy-package-"))
    atexit.register(shutil.rmtree, folder, True)
    try:
        with zipfile.ZipFile(path) as archive:
            _unpack(archive, folder, where)
    except (zipfile.BadZipFile, OSError, ValueError, PackageError) as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise DeploymentPackageError(f"{where}: {exc}") from None
    except DeploymentPackageError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return load_deployment(folder / DEPLOYMENT), folder


def package_skills(
    deployment: Deployment, folder: Path, params: dict[str, str], where: str
) -> dict[str, LoadedSkill]:
    """The packaged skills, each with its parameter defaults from the manifest."""
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    loaded = load_skills(deployment, folder, params, where)
    for name, info in (manifest.get("skills") or {}).items():
        entry = loaded.get(f"skills/{name}/skill.json")
        if entry is not None:
            entry.defaults = {k: str(v) for k, v in (info.get("params") or {}).items() if v is not None}
    return loaded
