"""Content-addressed file cache: ``<data>/cache/sha256/<hex>``.

Files are staged under ``<data>/cache/staging`` (same filesystem, so the final move is an
atomic rename) and only moved in once their hash is known, so a name in the cache always
matches its bytes and a failed add leaves nothing half-written behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from designer.core.models.errors import ModelError

_HEX = re.compile(r"^[0-9a-f]{64}$")
_COPY_BLOCK = 1 << 20


class CacheError(ModelError):
    """A file could not be stored in, or read from, the model cache."""


class ContentCache:
    """Files named by their SHA-256, under ``root`` (``<data>/cache``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.files = self.root / "sha256"
        self.staging = self.root / "staging"

    def path(self, sha256: str) -> Path:
        if not _HEX.match(sha256):
            raise CacheError(f"model cache: {sha256!r} is not a SHA-256 hex digest")
        return self.files / sha256

    def contains(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    @contextlib.contextmanager
    def staged(self, suffix: str = "") -> Iterator[Path]:
        """A fresh temp path in the staging folder, deleted on exit unless moved into the cache."""
        self.staging.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix="part-", suffix=suffix, dir=self.staging)
        os.close(fd)
        path = Path(name)
        try:
            yield path
        finally:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def stage_copy(self, src: Path, dest: Path) -> tuple[str, int]:
        """Copy ``src`` to the staged ``dest``, hashing the bytes actually copied."""
        digest = hashlib.sha256()
        size = 0
        try:
            with open(src, "rb") as fin, open(dest, "wb") as fout:
                while block := fin.read(_COPY_BLOCK):
                    digest.update(block)
                    fout.write(block)
                    size += len(block)
        except OSError as exc:
            raise CacheError(f"{src}: cannot copy it into the model cache ({_reason(exc)})") from exc
        return digest.hexdigest(), size

    def commit(self, staged: Path, sha256: str) -> Path:
        """Move a verified staged file into the cache (a no-op if those bytes are already there).

        The bytes are synced to disk first, so the registry never names a file a crash lost."""
        target = self.path(sha256)
        if target.is_file():
            return target
        self.files.mkdir(parents=True, exist_ok=True)
        try:
            with open(staged, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(staged, target)
        except OSError as exc:
            raise CacheError(f"model cache {target}: cannot store file ({_reason(exc)})") from exc
        with contextlib.suppress(OSError):
            os.chmod(target, 0o444)  # cached files are never edited in place
        return target

    def remove(self, sha256: str) -> None:
        path = self.path(sha256)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path, 0o644)  # Windows refuses to delete read-only files
            path.unlink()

    def sweep_staging(self, older_than_s: float = 86400.0) -> None:
        """Delete staged files a crashed run left behind (old enough not to be in use)."""
        if not self.staging.is_dir():
            return
        cutoff = time.time() - older_than_s
        for leftover in self.staging.iterdir():
            with contextlib.suppress(OSError):
                if leftover.stat().st_mtime < cutoff:
                    leftover.unlink()

    def hash_of(self, sha256: str) -> str | None:
        """Re-hash a cached file; None when it is missing."""
        try:
            return hash_file(self.path(sha256))
        except FileNotFoundError:
            return None


def hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_COPY_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def free_space_ok(folder: Path, needed: int) -> bool:
    """Whether ``needed`` bytes fit (with 1 % slack) before a large download starts."""
    folder.mkdir(parents=True, exist_ok=True)
    return shutil.disk_usage(folder).free > needed * 1.01


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
