"""Errors raised by the model layer; every message names the model file and says what to do."""

from __future__ import annotations


class ModelError(Exception):
    """A model file cannot be loaded, understood or run."""


class LabelError(ModelError):
    """The labels cannot be read, or their count disagrees with the model's classes."""


class UnknownLayoutError(ModelError):
    """The model's outputs match none of the supported output layouts."""
