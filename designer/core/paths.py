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
