"""Helpers shared by the subcommands."""

from __future__ import annotations

from designer.core.skill.validate import ModelLookup


def model_lookup() -> ModelLookup | None:
    """The user's model library, so validation can check model ids; None if it cannot open."""
    try:
        from designer.core.models.library import ModelLibrary
    except ImportError:
        return None
    try:
        return ModelLibrary()
    except Exception:  # a broken library must not stop validation of the graph itself
        return None
