"""Suite-wide isolation: no test touches the user's real model library."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _private_data_folder(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SKILL_DESIGNER_DATA", str(tmp_path_factory.mktemp("user-data")))
        yield
