"""Qt tests run offscreen, with settings and the model library in temporary folders."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path_factory, monkeypatch):
    """QSettings, recovery files and the model library never touch the user's real ones."""
    from PySide6.QtCore import QSettings

    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("SKILL_DESIGNER_DATA", str(home / "data"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "settings"))
    yield
