"""Where the user's data lives (model library, recovery copies, run logs): one answer for all.

Kept apart from the model library so that finding the folder imports nothing heavy.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

DATA_ENV = "SKILL_DESIGNER_DATA"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The user data folder: the argument, else ``$SKILL_DESIGNER_DATA``, else platformdirs."""
    if override is not None:
        return Path(override)
    env = os.environ.get(DATA_ENV)
    if env:
        return Path(env)
    return Path(platformdirs.user_data_dir("skill-designer", appauthor=False))


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """``path`` as a folder only its owner can enter (0700), created with its parents if missing.

    For what may hold secrets (recovery copies of a skill with a password, run logs): a folder
    created before, with looser permissions, is tightened.
    """
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True, mode=PRIVATE_DIR_MODE)
    if folder.stat().st_mode & 0o777 != PRIVATE_DIR_MODE:
        os.chmod(folder, PRIVATE_DIR_MODE)
    return folder


def private_file(path: str | os.PathLike[str]) -> Path:
    """``path`` as a file only its owner can read (0600): created empty if missing, else tightened."""
    file = Path(path)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, PRIVATE_FILE_MODE)
    try:
        os.fchmod(fd, PRIVATE_FILE_MODE)
    finally:
        os.close(fd)
    return file
