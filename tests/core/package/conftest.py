"""Fixtures of the package tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .pkg_helpers import CLASSIFIER, CLASSIFIER_LABELS


@pytest.fixture
def skill_dir(tmp_path: Path) -> Path:
    """A folder holding the tiny skill's model files; write the skill with ``write_skill``."""
    folder = tmp_path / "skill"
    (folder / "models").mkdir(parents=True)
    shutil.copy2(CLASSIFIER, folder / "models" / "colour.onnx")
    shutil.copy2(CLASSIFIER_LABELS, folder / "models" / "colour.txt")
    return folder
