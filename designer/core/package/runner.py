"""Opening a package to run it: verify, unpack safely, fill secrets and parameters.

After this the engine runs the unpacked ``skill.json`` exactly as it runs a skill file.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from designer.core.package.archive import DEFAULT_LIMITS, Limits, unpack_package
from designer.core.package.manifest import SKILL_NAME, Manifest, PackageError
from designer.core.package.secrets import fill_env_references
from designer.core.skill import Skill, SkillFileError, load_skill


@dataclass
class OpenedPackage:
    manifest: Manifest
    folder: Path
    skill: Skill
    values: dict[str, str]
    """``$param`` values: ``--param``, else the parameter's environment variable, else its default."""
    temporary: bool = False

    def close(self) -> None:
        if self.temporary:
            shutil.rmtree(self.folder, ignore_errors=True)


def is_package(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(".zip")


def open_package(
    path: str | os.PathLike,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    dest: str | os.PathLike | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> OpenedPackage:
    """Verify and unpack ``path`` (into ``dest``, else a temporary folder removed at exit)."""
    environ = os.environ if environ is None else environ
    temporary = dest is None
    folder = Path(tempfile.mkdtemp(prefix="skill-package-")) / "package" if dest is None else Path(dest)
    if temporary:
        atexit.register(shutil.rmtree, folder.parent, True)
    try:
        manifest = unpack_package(path, folder, limits)
        try:
            skill = load_skill(folder / SKILL_NAME)
        except SkillFileError as exc:
            raise PackageError(f"{path}: {SKILL_NAME}: {exc.message}") from None
        runtime_env = {name for name, info in manifest.env.items() if info.used_by == "runtime"}
        missing = sorted(name for name in runtime_env if name not in environ)
        if missing:
            details = ", ".join(
                f"{n} (node {manifest.env[n].node}, {manifest.env[n].param})" for n in missing
            )
            raise PackageError(
                f"{path}: set the environment variable(s) {details}: the package holds no "
                "secrets, the device gives them"
            )
        nodes = [
            node.model_copy(update={"params": fill_env_references(node.params, dict(environ), runtime_env)})
            for node in skill.nodes
        ]
        skill = skill.model_copy(update={"nodes": nodes})
        values = dict(params or {})
        for name, info in manifest.params.items():
            if name in values:
                continue
            if info.env in environ:
                values[name] = environ[info.env]
            elif info.default is not None:
                values[name] = info.default
    except BaseException:
        shutil.rmtree(folder.parent if temporary else folder, ignore_errors=True)
        raise
    return OpenedPackage(manifest, folder, skill, values, temporary)
