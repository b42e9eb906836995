"""The open skill as a file: its path, the recovery copy written while you work, recent files.

The canvas holds the skill itself; this module only knows where it lives on
disk, so saving, autosave and crash recovery are in one place.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from designer.core.paths import PRIVATE_FILE_MODE, data_dir, private_dir
from designer.core.skill import Skill, dump_skill, load_skill
from designer.core.skill.files import write_atomic

RECENT_LIMIT = 10


def recovery_dir() -> Path:
    return data_dir() / "recovery"


def unreadable_dir() -> Path:
    """Where recovery copies that could not be read are moved: kept, never deleted."""
    return recovery_dir() / "unreadable"


def _remove(path: Path) -> None:
    """Remove one recovery file; a folder or anything else that is not a plain file stays."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
    except FileNotFoundError:
        pass


@dataclass
class Recovery:
    """An autosaved copy left by a session that did not close cleanly."""

    file: Path
    original: Path | None

    def load(self) -> Skill:
        return load_skill(self.file)

    def discard(self) -> None:
        _remove(self.file)
        _remove(self.file.with_suffix(".origin"))

    def set_aside(self) -> Path:
        """Move the copy (and its origin note) into the unreadable folder; returns its new path.

        For a copy that could not be read (truncated, written by a newer version): the user's
        only copy of unsaved work is kept where they can find it.
        """
        folder = private_dir(unreadable_dir())
        stamp = time.strftime("%Y%m%d-%H%M%S")
        moved = folder / f"{stamp}-{self.file.name}"
        os.replace(self.file, moved)
        origin = self.file.with_suffix(".origin")
        if origin.is_file():
            os.replace(origin, moved.with_suffix(".origin"))
        return moved


class Document:
    """Where the open skill lives, and its recovery copy."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.session = uuid.uuid4().hex[:12]  # names the recovery copy of an unsaved skill
        # Autosaves run on a worker: one started before a save (or close) must not write a copy
        # after it. Each save or close starts a new generation; older autosaves are dropped.
        self._lock = threading.Lock()
        self.generation = 0

    def skill_dir(self) -> Path:
        """Relative paths in the skill resolve here: the file's folder, else the working directory."""
        return self.path.parent if self.path else Path.cwd()

    def display_name(self) -> str:
        return self.path.name if self.path else "Untitled"

    def save(self, skill: Skill, path: Path) -> None:
        """Atomic save; the recovery copy is no longer needed afterwards.

        The copy is named after the path the work had until now (an untitled skill's session,
        or the file before Save As): that one is discarded, and any copy under the new name.
        """
        text = dump_skill(skill)
        with self._lock:
            before = self.recovery_file()
            write_atomic(path, text)
            self.path = path
            self.generation += 1
            Recovery(before, None).discard()
            self.discard_recovery()

    def close(self) -> None:
        """The skill is closed cleanly: its recovery copy goes, and no pending autosave writes one."""
        with self._lock:
            self.generation += 1
            self.discard_recovery()

    # -- recovery --------------------------------------------------------------------------

    def recovery_file(self) -> Path:
        key = str(self.path.resolve()) if self.path else f"untitled-{self.session}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return recovery_dir() / f"{digest}.skill.json"

    def autosave(self, text: str, generation: int | None = None) -> Path | None:
        """Write the recovery copy (called off the GUI thread with the dumped skill); None when
        the document was saved or closed since ``generation`` (the copy would be stale)."""
        with self._lock:
            if generation is not None and generation != self.generation:
                return None
            return self._write_copy(text)

    def _write_copy(self, text: str) -> Path:
        target = self.recovery_file()
        private_dir(target.parent)  # the skill may hold passwords: only its owner reads copies
        origin = str(self.path.resolve()) if self.path else ""
        write_atomic(target.with_suffix(".origin"), origin, mode=PRIVATE_FILE_MODE)
        write_atomic(target, text, mode=PRIVATE_FILE_MODE)
        return target

    def discard_recovery(self) -> None:
        Recovery(self.recovery_file(), None).discard()


@dataclass
class Recoveries:
    """What the recovery folder holds: copies to offer, and notes on entries that were skipped."""

    found: list[Recovery] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _origin(file: Path) -> Path | None:
    """The skill file a copy was made from; None for an untitled skill (or no readable note)."""
    origin = file.with_suffix(".origin")
    if not origin.is_file():
        return None
    text = origin.read_bytes().decode("utf-8").strip()  # UnicodeDecodeError: the caller notes it
    return Path(text) if text else None


def find_recoveries() -> Recoveries:
    """Recovery copies on disk (each one a session that ended without closing its skill), newest
    first. An entry that is no copy (a folder, a broken link) is skipped with a note, a copy
    whose origin note cannot be read is offered as an unsaved skill; nothing is deleted here."""
    result = Recoveries()
    folder = recovery_dir()
    try:
        entries = list(folder.glob("*.skill.json")) if folder.is_dir() else []
    except OSError as exc:
        return Recoveries(notes=[f"{folder}: cannot list the recovery folder: {exc.strerror or exc}"])
    for file in sorted(entries, key=_mtime, reverse=True):
        if not file.is_file():
            kind = "a broken link" if file.is_symlink() else "not a file"
            result.notes.append(f"{file}: skipped, {kind}")
            continue
        try:
            original = _origin(file)
        except (OSError, UnicodeDecodeError) as exc:  # the copy itself may be fine: still offered
            note = file.with_suffix(".origin")
            result.notes.append(f"{note}: cannot be read ({exc}); its copy is offered as an unsaved skill")
            original = None
        result.found.append(Recovery(file, original))
    return result


def pending_recoveries() -> list[Recovery]:
    """The recovery copies to offer (see ``find_recoveries`` for the skipped entries)."""
    return find_recoveries().found
