"""Opening a package to run it: verify, unpack safely, fill secrets and parameters.

After this the engine runs the unpacked ``skill.json`` exactly as it runs a skill file.

A run unpacks into a fresh ``skill-package-*`` folder in the temporary folder, removed at exit. A
run that is killed cannot remove it, so each folder holds a lock (``.lock``, held while its run
lives; the system drops it when the process dies, whatever its id becomes later): every packaged
run first sweeps the folders whose lock it can take.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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
    lock: IO[bytes] | None = None

    def close(self) -> None:
        if self.temporary:
            shutil.rmtree(self.folder.parent, ignore_errors=True)
        if self.lock is not None:
            self.lock.close()


TEMP_PREFIX = "skill-package-"
LOCK_NAME = ".lock"


def _try_lock(handle: IO[bytes]) -> bool:
    """Take the lock on an open file without waiting; False when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: no stale sweep (the folder's own run removes it at exit)
        return False
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def sweep_stale(temp_dir: str | os.PathLike | None = None) -> list[Path]:
    """Remove the unpacked copies of packaged runs that ended without cleaning up (killed);
    returns what was removed. A folder whose run still lives keeps its lock and is left alone."""
    removed: list[Path] = []
    root = Path(temp_dir or tempfile.gettempdir())
    try:
        candidates = sorted(root.glob(f"{TEMP_PREFIX}*"))
    except OSError:
        return removed
    for folder in candidates:
        lock_path = folder / LOCK_NAME
        if folder.is_symlink() or not folder.is_dir() or not lock_path.is_file():
            continue
        try:
            handle = lock_path.open("rb")
        except OSError:
            continue
        with handle:
            if _try_lock(handle):
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def _locked_temp_folder() -> tuple[Path, IO[bytes] | None]:
    """A fresh temporary folder whose lock this process holds until it exits."""
    parent = Path(tempfile.mkdtemp(prefix=TEMP_PREFIX))
    handle = (parent / LOCK_NAME).open("wb")
    if not _try_lock(handle):
        handle.close()
        return parent, None
    return parent, handle


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
    lock = None
    if dest is None:
        with contextlib.suppress(OSError):
            sweep_stale()
        parent, lock = _locked_temp_folder()
        folder = parent / "package"
        atexit.register(shutil.rmtree, parent, True)
    else:
        folder = Path(dest)
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
        if lock is not None:
            lock.close()
        raise
    return OpenedPackage(manifest, folder, skill, values, temporary, lock)
