"""Issue 12, item 5: removing one model while another is added from the same file keeps the new one."""

from __future__ import annotations

import threading
from pathlib import Path

from designer.core.models.cache import ContentCache
from designer.core.models.library import ModelLibrary


def test_a_remove_racing_an_add_of_the_same_file_never_deletes_the_new_models_file(
    library: ModelLibrary, detector: Path, detector_labels: Path, monkeypatch
):
    library.add("old", "detection", detector, detector_labels)
    original_commit = ContentCache.commit
    racer: list[threading.Thread] = []

    def commit_then_race(self, staged, sha256):
        """Right after ``add`` puts its file in the cache, another process removes ``old``."""
        target = original_commit(self, staged, sha256)
        if not racer:
            other = ModelLibrary(library.data)  # another process: its own library object
            thread = threading.Thread(target=other.remove, args=("old",))
            racer.append(thread)
            thread.start()
            thread.join(2.0)  # it runs to its end unless the add holds the registry lock
        return target

    monkeypatch.setattr(ContentCache, "commit", commit_then_race)
    library.add("new", "detection", detector, detector_labels)
    racer[0].join(10.0)
    assert not racer[0].is_alive()
    assert [e.id for e in ModelLibrary(library.data).list()] == ["new"]
    assert library.verify() == []
    model_path, labels_path, _ = library.resolve("new")
    assert model_path.read_bytes() == detector.read_bytes()
    assert labels_path.is_file()


def test_removing_the_last_user_of_a_file_still_deletes_it(library: ModelLibrary, detector: Path):
    entry = library.add("only", "detection", detector)
    library.remove("only")
    assert not library.cache.path(entry.model_file.sha256).exists()
