"""What a model run produces, in plain values the engine turns into insights."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Detection:
    """One object: box as left, top, width, height normalised to the original frame."""

    class_id: int
    label: str
    confidence: float
    left: float
    top: float
    width: float
    height: float


@dataclass(frozen=True, slots=True)
class Classification:
    """One class of a classification result, confidence in [0, 1]."""

    class_id: int
    label: str
    confidence: float
