"""The open skill as a file: its path, the recovery copy written while you work, recent files.

The canvas holds the skill itself; this module only knows where it lives on
disk, so saving, autosave and crash recovery are in one place.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path

from designer.core.paths import data_dir
from designer.core.skill import Skill, dump_skill, load_skill
from designer.core.skill.files import write_atomic

RECENT_LIMIT = 10


def recovery_dir() -> Path:
    return data_dir() / "recovery"


@dataclass
class Recovery:
    """An autosaved copy left by a session that did not close cleanly."""

    file: Path
    original: Path | None

    def load(self) -> Skill:
        return load_skill(self.file)

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)
        self.file.with_suffix(".origin").unlink(missing_ok=True)


class Document:
    """Where the open skill lives, and its recovery copy."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.session = uuid.uuid4().hex[:12]  # names the recovery copy of an unsaved skill

    def skill_dir(self) -> Path:
        """Relative paths in the skill resolve here: the file's folder, else the working directory."""
        return self.path.parent if self.path else Path.cwd()

    def display_name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def save(self, skill: Skill, path: Path) -> None:
        """Atomic save; the recovery copy is no longer needed afterwards."""
        write_atomic(path, dump_skill(skill))
        self.path = path
        self.discard_recovery()

    # -- recovery --------------------------------------------------------------------------

    def recovery_file(self) -> Path:
        key = str(self.path.resolve()) if self.path else f"untitled-{self.session}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return recovery_dir() / f"{digest}.skill.json"

    def autosave(self, text: str) -> Path:
        """Write the recovery copy (called off the GUI thread with the dumped skill)."""
        target = self.recovery_file()
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, text)
        write_atomic(target.with_suffix(".origin"), str(self.path.resolve()) if self.path else "")
        return target

    def discard_recovery(self) -> None:
        Recovery(self.recovery_file(), None).discard()


def pending_recoveries() -> list[Recovery]:
    """Recovery copies on disk: each one is a session that ended without closing its skill."""
    folder = recovery_dir()
    if not folder.is_dir():
        return []
    found = []
    for file in sorted(folder.glob("*.skill.json"), key=lambda p: p.stat().st_mtime, reverse=True):
        origin = file.with_suffix(".origin")
        text = origin.read_text(encoding="utf-8").strip() if origin.exists() else ""
        found.append(Recovery(file, Path(text) if text else None))
    return found
