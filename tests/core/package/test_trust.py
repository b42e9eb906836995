"""What the CLI tests cannot make happen on demand: a full disk while unpacking, and what the deploy
files learn from the export about parameters that feed secrets."""

from __future__ import annotations

import errno
import os
import shutil
from collections import namedtuple
from pathlib import Path

import pytest

from designer.core.package import PackageError, export_package, unpack_package
from designer.core.package import archive as archive_module
from designer.core.package.export import _prepare
from designer.core.skill import load_skill

from .pkg_helpers import tiny_skill, write_skill

Usage = namedtuple("Usage", "total used free")


@pytest.fixture
def package(skill_dir, tmp_path) -> Path:
    skill_path = write_skill(skill_dir, tiny_skill())
    out = tmp_path / "good.zip"
    export_package(load_skill(skill_path), skill_path, out, defaults={"rtsp": "0"})
    return out


def test_too_little_free_space_is_said_before_unpacking(package, tmp_path, monkeypatch):
    monkeypatch.setattr(archive_module.shutil, "disk_usage", lambda path: Usage(10**9, 10**9 - 1000, 1000))
    with pytest.raises(PackageError) as refused:
        unpack_package(package, tmp_path / "out")
    message = str(refused.value)
    assert str(tmp_path) in message and "needs" in message and "1,000 are free" in message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.zip", "skill"]


def test_a_disk_filling_up_while_unpacking_is_one_message_and_leaves_nothing(package, tmp_path, monkeypatch):
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(archive_module.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    with pytest.raises(PackageError) as refused:
        unpack_package(package, tmp_path / "out")
    assert "not enough free space to unpack" in str(refused.value) and str(tmp_path) in str(refused.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.zip", "skill"]


def test_an_unwritable_place_is_one_message(package, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(PackageError, match="cannot unpack there"):
        unpack_package(package, blocker / "out")


def test_the_export_tells_the_deploy_files_which_params_feed_secrets(skill_dir):
    skill = tiny_skill(source="rtsp://$param(user):$param(pw)@cam/live")
    skill.nodes[-1].params["path"] = "$param(log)"
    path = write_skill(skill_dir, skill)
    options = {"runtime_image": "img", "created_at": None, "out_path": None}
    prepared = _prepare(load_skill(path), path, None, {}, options, lambda *_: None)
    assert prepared.context.secret_params == {"user", "pw"}


def test_a_package_over_the_free_space_of_its_folder_is_refused_by_run(package, tmp_path, monkeypatch):
    from designer.core.package import open_package

    monkeypatch.setattr(archive_module.shutil, "disk_usage", lambda path: Usage(10**9, 10**9, 0))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(PackageError, match="not enough free space"):
        open_package(package)
    assert list((tmp_path / "tmp").iterdir()) == []
    shutil.rmtree(tmp_path / "tmp")
