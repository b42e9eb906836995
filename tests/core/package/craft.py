"""Crafting hostile packages as an attacker would: a changed skill or manifest with the manifest's
hashes made to match again, so only the package's own checks stand between it and the device."""

from __future__ import annotations

import atexit
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

_SCRIPT = Path(sys.executable).parent / "skill-designer"
CLI = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "designer.cli"]


def entries(package: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(package) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def craft(
    package: Path,
    out: Path,
    *,
    skill: Callable[[dict], None] | None = None,
    manifest: Callable[[dict], None] | None = None,
    files: dict[str, bytes] | None = None,
    rehash: bool = True,
) -> Path:
    """A copy of ``package`` with ``skill.json`` and ``manifest.json`` changed in place (dicts),
    extra ``files`` added, and (``rehash``) every file listed with its true SHA-256 and size."""
    data = entries(package)
    if skill is not None:
        document = json.loads(data["skill.json"])
        skill(document)
        data["skill.json"] = json.dumps(document).encode()
    data.update(files or {})
    meta = json.loads(data.pop("manifest.json"))
    if rehash:
        meta["files"] = {
            name: {"sha256": hashlib.sha256(value).hexdigest(), "size": len(value)}
            for name, value in data.items()
            if not name.endswith("/")
        }
    if manifest is not None:
        manifest(meta)
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("manifest.json", json.dumps(meta))
        for name, value in data.items():
            archive.writestr(name, value)
    return out


def node(document: dict, node_id: str) -> dict:
    return next(n for n in document["nodes"] if n["id"] == node_id)


@functools.cache
def _data_root() -> str:
    root = tempfile.mkdtemp(prefix="cli-data-")
    atexit.register(shutil.rmtree, root, True)
    return root


def cli(
    *args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    """``skill-designer ARGS`` as a user runs it; by default with a data folder of its own (an
    import adds models to the library, which other tests of the session count)."""
    if env is None:
        env = {**os.environ, "SKILL_DESIGNER_DATA": tempfile.mkdtemp(dir=_data_root())}
    return subprocess.run(
        [*CLI, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def one_line_refusal(result: subprocess.CompletedProcess) -> str:
    """The refusal's one line; fails on a traceback, a second line or an escape reaching the terminal."""
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert not any(ord(c) < 32 for c in lines[0]), repr(lines[0])
    return lines[0]
