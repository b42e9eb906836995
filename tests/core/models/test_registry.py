"""The registry file: data folder, atomic writes, corrupt files, concurrent writers."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from designer.core.models.library import ModelLibrary
from designer.core.models.registry import (
    REGISTRY_NAME,
    LibraryError,
    Registry,
    RegistryCorruptError,
    slugify,
)
from designer.core.paths import DATA_ENV, data_dir


def test_data_folder_argument_beats_env_which_beats_platform_default(monkeypatch, tmp_path):
    monkeypatch.delenv(DATA_ENV, raising=False)
    default = data_dir()
    assert "skill-designer" in str(default)
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "arg") == tmp_path / "arg"
    assert ModelLibrary().data == tmp_path / "env"


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("YOLOv8 Nano", "yolov8-nano"),
        ("  forklift_detector v2 ", "forklift-detector-v2"),
        ("Café--Cam", "caf-cam"),
        ("a", "a"),
    ],
)
def test_ids_are_slugs_of_names(name: str, slug: str):
    assert slugify(name) == slug


def test_missing_registry_reads_as_empty_and_is_not_created(tmp_path: Path):
    registry = Registry(tmp_path / REGISTRY_NAME)
    assert registry.load().models == []
    assert not (tmp_path / REGISTRY_NAME).exists()


def test_save_is_sorted_json_and_leaves_no_temp_files(library: ModelLibrary, detector: Path):
    library.add("det", "detection", detector, tags={"z": "1", "a": "2"})
    path = library.data / REGISTRY_NAME
    text = path.read_text()
    assert json.loads(text)["models"][0]["tags"] == {"a": "2", "z": "1"}
    assert text.index('"a"') < text.index('"z"')
    leftovers = [p.name for p in library.data.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []


@pytest.mark.parametrize(
    "content",
    [
        b'{"format_version": 1, "models": [',
        b'{"format_version": 1, "models": [{"id": 3}]}',
        b"\xff\xfe garbage",
        b'{"format_version": 99, "models": []}',
    ],
    ids=["truncated-json", "bad-entry", "binary", "future-version"],
)
def test_corrupt_registry_is_reported_and_backed_up_never_reset(
    library: ModelLibrary, detector: Path, content: bytes
):
    path = library.data / REGISTRY_NAME
    path.parent.mkdir(parents=True)
    path.write_bytes(content)

    with pytest.raises(RegistryCorruptError) as info:
        library.list()
    message = str(info.value)
    assert str(path) in message and "Repair the file, or delete it" in message
    backups = list(library.data.glob(f"{REGISTRY_NAME}.corrupt-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == content
    assert str(backups[0]) in message

    with pytest.raises(RegistryCorruptError):
        library.add("det", "detection", detector)
    assert path.read_bytes() == content, "the broken registry must not be overwritten"
    assert not library.cache.files.exists() or not any(library.cache.files.iterdir())
    with pytest.raises(RegistryCorruptError):
        library.list()
    assert len(list(library.data.glob(f"{REGISTRY_NAME}.corrupt-*"))) == 1


def test_failed_write_keeps_the_old_registry(library: ModelLibrary, detector: Path, monkeypatch):
    library.add("first", "detection", detector)
    path = library.data / REGISTRY_NAME
    before = path.read_bytes()

    def fail_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail_replace)
    with pytest.raises(OSError, match="No space left"):
        library.remove("first")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in library.data.iterdir() if p.name.endswith(".tmp")] == []
    assert [e.id for e in library.list()] == ["first"]


def test_concurrent_adds_from_separate_libraries_keep_every_entry(tmp_path: Path, detector: Path):
    """Separate ModelLibrary objects (as in the GUI and a CLI at once) share only the file lock."""
    data = tmp_path / "shared"
    errors: list[BaseException] = []

    def add(i: int) -> None:
        try:
            ModelLibrary(data).add(f"model {i}", "detection", detector)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [e.id for e in ModelLibrary(data).list()] == [f"model-{i}" for i in range(4)]


def test_tags_need_names(library: ModelLibrary, detector: Path):
    with pytest.raises(LibraryError, match="a tag has an empty name"):
        library.add("det", "detection", detector, tags={" ": "x"})
