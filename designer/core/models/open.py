"""Opening the user's model library the one way the CLI and the designer share.

A broken library must not stop validating or running skills that name their
model files directly, so opening never raises: it says why and answers None.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary


def open_model_library(warn: Callable[[str], None] | None = None) -> ModelLibrary | None:
    """The user's model library with the bundled sample registered (the samples work out of the
    box); None when it cannot open, after passing the reason to ``warn``."""
    from designer.core.models.library import ModelLibrary

    try:
        library = ModelLibrary()
        library.ensure_bundled_sample()
    except Exception as exc:
        if warn is not None:
            warn(f"the model library is not available: {exc}")
        return None
    return library
