"""Reading and writing skill files: located errors in, atomic sorted JSON out."""

from __future__ import annotations

import json
import os
import re
import secrets
import stat
from pathlib import Path

from pydantic import ValidationError

from designer.core.skill.document import FORMAT, FORMAT_VERSION, Skill

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DEPTH = 64
SURROGATE_RE = re.compile("[\ud800-\udfff]")


class SkillFileError(Exception):
    """A skill file that cannot be read, with the place (file, line, column) where known."""

    def __init__(
        self, path: str | os.PathLike | None, message: str, line: int | None = None, column: int | None = None
    ) -> None:
        self.path = str(path) if path is not None else None
        self.message = message
        self.line = line
        self.column = column
        super().__init__(self.located())

    def located(self) -> str:
        where = self.path or "<skill>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number: write a finite number")


def _too_deep(data: object) -> bool:
    """True when lists/objects nest deeper than MAX_DEPTH (such a file could not be saved)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                return True
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
    return False


def parse_skill(text: str | bytes, path: str | os.PathLike | None = None) -> Skill:
    """Parse skill JSON text; raise SkillFileError that says where and what is wrong."""
    if len(text) > MAX_FILE_BYTES:
        raise SkillFileError(
            path,
            f"file is {len(text):,} bytes; a skill file is at most "
            f"{MAX_FILE_BYTES:,} bytes. Is this really a skill?",
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise SkillFileError(path, f"not UTF-8 text (byte {exc.start}): is this a skill file?") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise SkillFileError(path, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except ValueError as exc:
        if "int_max_str_digits" in str(exc):  # Python's own wording names an interpreter setting
            raise SkillFileError(path, "invalid JSON: a number has more than 4300 digits") from None
        raise SkillFileError(path, f"invalid JSON: {exc}") from None
    except RecursionError:
        raise SkillFileError(path, "invalid JSON: nested too deeply") from None
    if _too_deep(data):
        raise SkillFileError(path, f"values nest more than {MAX_DEPTH} levels deep: is this really a skill?")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = ""
        if isinstance(data, dict) and data.get("kind") == "Skill":
            hint = " It looks like a KAN Skill resource: use `skill-designer import-kan`."
        raise SkillFileError(path, f'not a skill file: expected "format": "{FORMAT}".{hint}')
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION or version < 1:
        raise SkillFileError(
            path,
            f"format_version {version!r} is not supported: this version reads 1..{FORMAT_VERSION}."
            " Update Skill Designer to open it.",
        )
    try:
        return Skill.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise SkillFileError(path, f"{_location(first['loc'])}: {first['msg']}{more}") from None
    except RecursionError:
        raise SkillFileError(path, "nested too deeply") from None


def load_skill(path: str | os.PathLike) -> Skill:
    path = Path(path)
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode) and not stat.S_ISDIR(info.st_mode):
            # reading a FIFO or a device would wait forever or never end
            raise SkillFileError(
                path, "not a regular file (a pipe, device or socket). Is this really a skill?"
            )
        size = info.st_size
        if size > MAX_FILE_BYTES:
            raise SkillFileError(
                path,
                f"file is {size:,} bytes; a skill file is at most "
                f"{MAX_FILE_BYTES:,} bytes. Is this really a skill?",
            )
        with path.open("rb") as handle:  # bounded: a device or a growing file must not exhaust memory
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise SkillFileError(path, "file not found") from None
    except IsADirectoryError:
        raise SkillFileError(path, "is a folder, not a skill file") from None
    except OSError as exc:
        raise SkillFileError(path, f"cannot read: {exc.strerror}") from None
    return parse_skill(data, path)


def dump_skill(skill: Skill) -> str:
    """Stable, sorted, human-diffable JSON: the same skill always gives the same bytes."""
    data = skill.canonical().model_dump()  # python mode: NaN reaches json.dumps and is refused
    try:
        text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"
    except ValueError:
        raise ValueError("the skill holds NaN or an infinite number, which JSON cannot store") from None
    if SURROGATE_RE.search(text):
        # Surrogates (read from "\ud800" escapes) cannot be written as UTF-8: pairs become the
        # character they encode, lone ones stay escaped, so the file reads back the same.
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
        text = SURROGATE_RE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
    return text


def write_atomic(path: str | os.PathLike, text: str, *, mode: int | None = None) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file.

    The bytes are flushed and fsynced before the rename, and the folder is fsynced after it,
    so the new name never points at missing data. The file gets ``mode`` when given, else keeps
    the mode of the one it replaces (else the umask applies); a symbolic link is written
    through, not replaced by a plain file. An error names ``path``, never the temporary file.
    """
    target = Path(os.path.realpath(path))
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666 if mode is None else mode)
    except OSError as exc:
        raise OSError(exc.errno, exc.strerror, str(target)) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            elif target.exists():
                os.fchmod(handle.fileno(), stat.S_IMODE(target.stat().st_mode))
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise OSError(exc.errno, exc.strerror, str(target)) from None
        raise
    _sync_folder(target.parent)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (best effort: some file systems cannot open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_skill(skill: Skill, path: str | os.PathLike) -> None:
    write_atomic(path, dump_skill(skill))
