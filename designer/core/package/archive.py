"""The zip file of a package: written byte-for-byte reproducibly, read without trusting it.

Writing: fixed entry order, timestamps, permissions and compression, so the same skill
exported twice gives the same bytes (a fleet tool can compare hashes instead of files).

Reading: a package comes from elsewhere and runs on devices, so nothing in it is trusted
before it is checked: entry names (no ``..``, absolute paths, drive letters, backslashes),
entry kinds (no symbolic links, no encryption), declared sizes against limits (zip bombs),
and every byte against the manifest's SHA-256, counted while it is read, so an entry that
inflates beyond what it declares is stopped. Unpacking writes into a fresh folder next to
the target and renames it into place only once every file has been checked.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from designer.core.package.manifest import MANIFEST_NAME, SKILL_NAME, Manifest, PackageError, parse_manifest

CHUNK = 1 << 20
EPOCH_1980 = (1980, 1, 1, 0, 0, 0)
STORED_SUFFIXES = (".onnx", ".zip", ".jpg", ".png", ".mp4")  # already dense: deflate gains little
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_NAME_BYTES = 1024  # far below PATH_MAX (4096), leaving room for the folder it is unpacked into
FREE_SPACE_MARGIN = 16 * 1024 * 1024  # unpacking leaves at least this much free
DRIVE_RE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class Limits:
    """What a package may declare before it is refused without being read."""

    max_entries: int = 2000
    max_file_bytes: int = 4 * 1024**3
    max_total_bytes: int = 8 * 1024**3
    max_ratio: int = 100
    """Uncompressed size over compressed size above which an entry of ``ratio_floor`` bytes or
    more is a zip bomb. Deflate reaches about 1030:1 at most, so a higher limit never triggers;
    a package's big files are models (stored, 1:1, or float weights deflated about 1.1:1) and its
    text files are small, so real packages stay far below 100:1."""
    ratio_floor: int = 1024 * 1024
    """Entries smaller than this are not held to ``max_ratio`` (a small text file may compress well)."""
    total_slack: int = 64 * 1024 * 1024
    """All files together may declare at most ``max_ratio`` times the package's own size plus this:
    a package of a few MB never expands to gigabytes however its entries are split."""


DEFAULT_LIMITS = Limits()

Progress = Callable[[str, int, int], None]


# -- writing ---------------------------------------------------------------------------------


def _info(name: str, date_time: tuple[int, ...], size: int) -> zipfile.ZipInfo:
    year, month, day, hour, minute, second = date_time[:6]
    info = zipfile.ZipInfo(name, date_time=(year, month, day, hour, minute, second))
    info.create_system = 3  # Unix, whatever machine exports
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    info.compress_type = zipfile.ZIP_STORED if name.endswith(STORED_SUFFIXES) else zipfile.ZIP_DEFLATED
    info.file_size = size
    return info


def write_zip(
    out_path: Path,
    entries: dict[str, bytes | Path],
    *,
    date_time: tuple[int, ...] = EPOCH_1980,
    progress: Progress | None = None,
) -> None:
    """Write ``entries`` (name -> bytes or a file to copy) atomically, manifest first, then by name."""
    out_path = Path(out_path)
    names = sorted(entries, key=lambda n: (n != MANIFEST_NAME, n))
    total = sum(len(v) if isinstance(v, bytes) else v.stat().st_size for v in entries.values())
    done = 0
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.name}.", suffix=".tmp", dir=out_path.parent)
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as archive:
            for name in names:
                value = entries[name]
                size = len(value) if isinstance(value, bytes) else value.stat().st_size
                info = _info(name, date_time, size)
                with archive.open(info, "w", force_zip64=size > 0x7FFF0000) as sink:
                    if isinstance(value, bytes):
                        sink.write(value)
                    else:
                        with value.open("rb") as source:
                            while chunk := source.read(CHUNK):
                                sink.write(chunk)
                                done += len(chunk)
                                if progress:
                                    progress(f"writing {name}", done, total)
                        continue
                done += size
                if progress:
                    progress(f"writing {name}", done, total)
        os.chmod(tmp, 0o644)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- reading ---------------------------------------------------------------------------------


def check_entry_name(name: str, where: str) -> None:
    """Refuse names that could land outside the folder a package is unpacked into."""
    if not name or "\x00" in name or any(ord(c) < 32 for c in name):
        raise PackageError(f"{where}: entry {name!r} has an empty name or control characters")
    if "\\" in name:
        raise PackageError(f"{where}: entry {name!r} uses backslashes; package paths use '/'")
    if name.startswith("/") or DRIVE_RE.match(name):
        raise PackageError(f"{where}: entry {name!r} is an absolute path; refusing the package")
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise PackageError(
            f"{where}: entry {name!r} has '..', '.' or an empty path segment; refusing "
            "the package (it could write outside its folder)"
        )
    if any(len(part.encode()) > 255 for part in parts) or len(parts) > 32:
        raise PackageError(f"{where}: entry {name!r} is too long or too deep")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise PackageError(
            f"{where}: entry {name[:60]!r}... is {len(name.encode()):,} bytes long, more than the "
            f"{MAX_NAME_BYTES:,} a package path may have"
        )


def _check_info(info: zipfile.ZipInfo, where: str, limits: Limits) -> None:
    check_entry_name(info.filename, where)
    mode = info.external_attr >> 16
    if info.create_system == 3 and stat.S_ISLNK(mode):
        raise PackageError(
            f"{where}: entry {info.filename!r} is a symbolic link; packages hold plain files only"
        )
    if info.create_system == 3 and stat.S_IFMT(mode) and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
        raise PackageError(f"{where}: entry {info.filename!r} is not a plain file")
    if info.flag_bits & 0x1:
        raise PackageError(f"{where}: entry {info.filename!r} is encrypted; packages are not")
    if info.file_size > limits.max_file_bytes:
        raise PackageError(
            f"{where}: entry {info.filename!r} declares {info.file_size:,} bytes, more than the "
            f"{limits.max_file_bytes:,} a package file may hold; refusing it (a zip bomb?)"
        )
    too_dense = info.file_size >= limits.ratio_floor and info.file_size / max(info.compress_size, 1)
    if too_dense and too_dense > limits.max_ratio:
        raise PackageError(
            f"{where}: entry {info.filename!r} would inflate {info.file_size / info.compress_size:,.0f}"
            f" times ({info.compress_size:,} -> {info.file_size:,} bytes); refusing it (a zip bomb?)"
        )


class PackageReader:
    """An opened package whose structure and manifest are checked; file bytes are checked on read."""

    def __init__(self, path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS) -> None:
        self.path = Path(path)
        self.where = str(path)
        self.limits = limits
        try:
            self.zip = zipfile.ZipFile(self.path)
        except FileNotFoundError:
            raise PackageError(f"{self.where}: file not found") from None
        except IsADirectoryError:
            raise PackageError(f"{self.where}: is a folder, not a package (.zip)") from None
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageError(
                f"{self.where}: not a skill package (not a readable zip file: {exc})"
            ) from None
        try:
            self.manifest = self._open()
        except BaseException:
            self.zip.close()
            raise

    def __enter__(self) -> PackageReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.zip.close()

    def _open(self) -> Manifest:
        infos = self.zip.infolist()
        if len(infos) > self.limits.max_entries:
            raise PackageError(
                f"{self.where}: {len(infos)} entries, more than the {self.limits.max_entries} "
                "a package may hold"
            )
        names: set[str] = set()
        total = 0
        for info in infos:
            _check_info(info, self.where, self.limits)
            if info.filename in names:
                raise PackageError(f"{self.where}: entry {info.filename!r} appears twice")
            names.add(info.filename)
            total += info.file_size
        for name in sorted(names):
            parents = name.rstrip("/").split("/")[:-1]
            for depth in range(1, len(parents) + 1):
                folder = "/".join(parents[:depth])
                if folder in names:
                    raise PackageError(
                        f"{self.where}: entry {folder!r} is a file and also the folder of {name!r}; "
                        "refusing the package"
                    )
        size = self.path.stat().st_size
        allowed = min(self.limits.max_total_bytes, size * self.limits.max_ratio + self.limits.total_slack)
        if total > allowed:
            raise PackageError(
                f"{self.where}: its files declare {total:,} bytes in all, more than the "
                f"{allowed:,} a {size:,}-byte package may expand to; refusing it (a zip bomb?)"
            )
        self.total_bytes = total
        if MANIFEST_NAME not in names:
            raise PackageError(f"{self.where}: no {MANIFEST_NAME}: this zip is not a skill package")
        info = self.zip.getinfo(MANIFEST_NAME)
        if info.file_size > MAX_MANIFEST_BYTES:
            raise PackageError(f"{self.where}: {MANIFEST_NAME} is {info.file_size:,} bytes; too big")
        self.manifest_bytes = self._read_limited(info, MAX_MANIFEST_BYTES)
        manifest = parse_manifest(self.manifest_bytes, self.where)
        for name in manifest.files:
            check_entry_name(name, f"{self.where}: {MANIFEST_NAME}")
        files = {n for n in names if not n.endswith("/")} - {MANIFEST_NAME}
        for name in sorted(files - set(manifest.files)):
            raise PackageError(
                f"{self.where}: {name} is not listed in {MANIFEST_NAME}: the package was "
                "changed after export; refusing it"
            )
        for name in sorted(set(manifest.files) - files):
            raise PackageError(f"{self.where}: {name} is listed in {MANIFEST_NAME} but missing")
        for name, entry in sorted(manifest.files.items()):
            declared = self.zip.getinfo(name).file_size
            if declared != entry.size:
                raise PackageError(
                    f"{self.where}: {name} is {declared:,} bytes, the manifest says "
                    f"{entry.size:,}: the file was changed after export; refusing it"
                )
        return manifest

    def _read_limited(self, info: zipfile.ZipInfo, limit: int) -> bytes:
        data = bytearray()
        for chunk in self._chunks(info, limit):
            data += chunk
        return bytes(data)

    def _chunks(self, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
        """The entry's bytes, stopping with an error beyond ``limit`` (an entry may lie about its size)."""
        count = 0
        try:
            with self.zip.open(info) as handle:
                while chunk := handle.read(CHUNK):
                    count += len(chunk)
                    if count > limit:
                        raise PackageError(
                            f"{self.where}: {info.filename} inflates beyond its declared "
                            "size; refusing the package (a zip bomb?)"
                        )
                    yield chunk
        except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, ValueError) as exc:
            # CRC errors, truncation, corrupted deflate data
            raise PackageError(
                f"{self.where}: {info.filename} cannot be read ({exc}); the package is damaged"
            ) from None
        except NotImplementedError as exc:  # a compression method this Python cannot read
            raise PackageError(f"{self.where}: {info.filename} cannot be read ({exc})") from None

    def iter_checked(self, name: str) -> Iterator[bytes]:
        """Chunks of a listed file; raises PackageError naming it when its hash does not match."""
        entry = self.manifest.files[name]
        digest = hashlib.sha256()
        size = 0
        for chunk in self._chunks(self.zip.getinfo(name), entry.size):
            digest.update(chunk)
            size += len(chunk)
            yield chunk
        if size != entry.size or digest.hexdigest() != entry.sha256:
            raise PackageError(
                f"{self.where}: {name} does not match its SHA-256 in {MANIFEST_NAME}: the "
                "file was changed after export; refusing the package"
            )

    def read(self, name: str) -> bytes:
        return b"".join(self.iter_checked(name))

    def verify(self, progress: Progress | None = None) -> Manifest:
        """Check every file's bytes against the manifest."""
        total = sum(e.size for e in self.manifest.files.values())
        done = 0
        for name in sorted(self.manifest.files):
            for chunk in self.iter_checked(name):
                done += len(chunk)
                if progress:
                    progress(f"checking {name}", done, total)
        return self.manifest

    def unpack(self, dest: str | os.PathLike, progress: Progress | None = None) -> Manifest:
        """Check and write every file under ``dest`` (which must not exist or be empty).

        Files land in a fresh folder beside ``dest`` first; ``dest`` appears only when all of
        them matched, so a refused package leaves nothing behind.
        """
        dest = Path(dest)
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise PackageError(f"{dest}: the folder to unpack into must be new or empty")
        total = sum(e.size for e in self.manifest.files.values())
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            free = shutil.disk_usage(dest.parent).free
            if free < total + FREE_SPACE_MARGIN:
                raise PackageError(_no_space(dest.parent, total, free))
            staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        except OSError as exc:
            raise PackageError(f"{dest.parent}: cannot unpack there: {exc.strerror or exc}") from None
        done = 0
        try:
            root = staging.resolve()
            for name in sorted(self.manifest.files):
                target = staging.joinpath(*PurePosixPath(name).parts)
                if root not in target.resolve().parents:
                    raise PackageError(f"{self.where}: {name} would be written outside {dest}")
                target.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(
                    target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644
                )
                with os.fdopen(fd, "wb") as sink:
                    for chunk in self.iter_checked(name):
                        sink.write(chunk)
                        done += len(chunk)
                        if progress:
                            progress(f"unpacking {name}", done, total)
            (staging / MANIFEST_NAME).write_bytes(self.manifest_bytes)
            if dest.exists():
                dest.rmdir()
            os.replace(staging, dest)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise PackageError(
                    _no_space(dest.parent, total, shutil.disk_usage(dest.parent).free)
                ) from None
            name = f" {exc.filename}" if exc.filename else ""
            raise PackageError(f"{dest}: cannot unpack{name}: {exc.strerror or exc}") from None
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return self.manifest


def _no_space(folder: Path, needed: int, free: int) -> str:
    return (
        f"{folder}: not enough free space to unpack the package: it needs {needed:,} bytes "
        f"(and {FREE_SPACE_MARGIN // 2**20} MiB to spare), {free:,} are free"
    )


def _check_skill(reader: PackageReader) -> None:
    """The packaged skill reads only the package's files and writes only into the output folder."""
    from designer.core.package.confine import check_confined

    if SKILL_NAME not in reader.manifest.files:
        raise PackageError(f"{reader.where}: no {SKILL_NAME}: this zip is not a skill package")
    check_confined(reader.manifest, reader.read(SKILL_NAME), reader.where)


def verify_package(
    path: str | os.PathLike, limits: Limits = DEFAULT_LIMITS, progress: Progress | None = None
) -> Manifest:
    """The manifest of a package whose every file matched and whose skill stays in its folders;
    PackageError naming the first file or place that did not."""
    with PackageReader(path, limits) as reader:
        manifest = reader.verify(progress)
        _check_skill(reader)
        return manifest


def unpack_package(
    path: str | os.PathLike,
    dest: str | os.PathLike,
    limits: Limits = DEFAULT_LIMITS,
    progress: Progress | None = None,
) -> Manifest:
    with PackageReader(path, limits) as reader:
        _check_skill(reader)
        return reader.unpack(dest, progress)
