"""Helpers shared by the subcommands."""

from __future__ import annotations

from designer.core.skill.validate import ModelLookup


def model_library():
    """The user's model library (validation checks model ids, the engine resolves them).

    None when it cannot open: a broken library must not stop validating or
    running skills that name their model files directly.
    """
    from designer.core.models.library import ModelLibrary

    try:
        return ModelLibrary()
    except Exception:
        return None


def model_lookup() -> ModelLookup | None:
    return model_library()
