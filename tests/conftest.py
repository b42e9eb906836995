"""Suite-wide settings: no test touches the user's real model library; CI runs are repeatable."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# CI explores the same examples every run (a new failure shows up in a developer's random run
# first, where it can be fixed, instead of failing a submission at random).
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(autouse=True, scope="session")
def _private_data_folder(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKILL_DESIGNER_DATA", str(tmp_path_factory.mktemp("user-data")))
        yield
