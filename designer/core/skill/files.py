"""Reading and writing skill files: located errors in, atomic sorted JSON out."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pydantic import ValidationError

from designer.core.skill.document import FORMAT, FORMAT_VERSION, Skill

MAX_FILE_BYTES = 20 * 1024 * 1024


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


def _location(loc: tuple) -> str:
    parts = []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


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
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SkillFileError(path, f"invalid JSON: {exc.msg}", exc.lineno, exc.colno) from None
    except RecursionError:
        raise SkillFileError(path, "invalid JSON: nested too deeply") from None
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
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise SkillFileError(
                path,
                f"file is {size:,} bytes; a skill file is at most "
                f"{MAX_FILE_BYTES:,} bytes. Is this really a skill?",
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise SkillFileError(path, "file not found") from None
    except IsADirectoryError:
        raise SkillFileError(path, "is a folder, not a skill file") from None
    except OSError as exc:
        raise SkillFileError(path, f"cannot read: {exc.strerror}") from None
    return parse_skill(data, path)


def dump_skill(skill: Skill) -> str:
    """Stable, sorted, human-diffable JSON: the same skill always gives the same bytes."""
    data = skill.canonical().model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write via a temporary file and rename, so a crash never leaves half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_skill(skill: Skill, path: str | os.PathLike) -> None:
    write_atomic(path, dump_skill(skill))
