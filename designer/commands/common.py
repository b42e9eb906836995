"""Helpers shared by the subcommands."""

from __future__ import annotations

import sys


def model_library():
    """The user's model library (validation checks model ids, the engine resolves them).

    The bundled sample model is registered on first use, so the samples work
    out of the box. None when the library cannot open: a broken library must
    not stop validating or running skills that name their model files directly.
    """
    from designer.core.models.library import ModelLibrary

    try:
        library = ModelLibrary()
        library.ensure_bundled_sample()
    except Exception as exc:
        print(f"warning: the model library is not available: {exc}", file=sys.stderr)
        return None
    return library
