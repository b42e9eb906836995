"""Saving and recovery as they meet the disk: atomic saves, private recovery copies, a recovery
folder with bad entries in it, read-only files and folders (issue 19: items 3, 13, 14, 15)."""

from __future__ import annotations

import json
import logging
import os
import stat
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from designer.core.paths import private_dir, private_file
from designer.core.skill import Settings, Skill, dump_skill, load_skill, save_skill
from designer.core.skill.build import add_node
from designer.core.skill.files import write_atomic
from designer.ui.document import Document, find_recoveries, recovery_dir, unreadable_dir
from designer.ui.window import MainWindow


def _skill(name: str = "Mine") -> Skill:
    skill = Skill(settings=Settings(name=name))
    add_node(skill, "camera@1", source="rtsp://admin:secret@10.0.0.7/stream")
    return skill


# -- atomic saves -------------------------------------------------------------------------------


def test_the_bytes_are_on_disk_at_fsync_time_and_the_old_file_stays_until_then(tmp_path, monkeypatch):
    """A save that renamed before fsync, or fsynced before flushing Python's buffer, could leave
    an empty or half file after a power cut: at fsync time the whole new text must be in the
    temporary file, and the user's file must still hold the old one."""
    target = tmp_path / "a.skill.json"
    target.write_text("old\n", encoding="utf-8")
    new = dump_skill(_skill())
    seen: list[tuple[bytes, bytes]] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            written = Path(os.readlink(f"/proc/self/fd/{fd}")).read_bytes()
            seen.append((written, target.read_bytes()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    write_atomic(target, new)
    assert seen == [(new.encode(), b"old\n")]
    assert target.read_text(encoding="utf-8") == new
    assert [p.name for p in tmp_path.iterdir()] == ["a.skill.json"]


def test_a_failed_rename_keeps_the_old_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "a.skill.json"
    target.write_text("old\n", encoding="utf-8")

    def broken(*_a: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError) as caught:
        write_atomic(target, "new\n")
    assert caught.value.filename == str(target)
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["a.skill.json"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_folder_names_the_users_file_not_a_temporary_one(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OSError) as caught:
            write_atomic(folder / "a.skill.json", "x\n")
    finally:
        folder.chmod(0o755)
    assert caught.value.filename == str(folder / "a.skill.json")
    assert ".tmp" not in str(caught.value)


def test_an_error_names_the_users_file_even_for_a_missing_folder(tmp_path):
    with pytest.raises(OSError) as caught:
        write_atomic(tmp_path / "gone" / "a.skill.json", "x\n")
    assert str(tmp_path / "gone" / "a.skill.json") in str(caught.value) and ".tmp" not in str(caught.value)


# -- private recovery copies ----------------------------------------------------------------------


def test_recovery_copies_are_0600_in_a_0700_folder_even_when_the_folder_was_looser(tmp_path):
    recovery_dir().mkdir(parents=True)
    recovery_dir().chmod(0o755)
    source = tmp_path / "private.skill.json"
    save_skill(_skill(), source)
    source.chmod(0o600)
    document = Document(source)
    copy = document.autosave(dump_skill(_skill()))
    assert copy is not None and "secret" in copy.read_text(encoding="utf-8")
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert stat.S_IMODE(copy.with_suffix(".origin").stat().st_mode) == 0o600
    assert stat.S_IMODE(recovery_dir().stat().st_mode) == 0o700


def test_private_file_and_folder_helpers_tighten_what_exists(tmp_path):
    log = tmp_path / "logs" / "run.log"
    folder = private_dir(log.parent)
    log.write_text("x")
    log.chmod(0o644)
    private_file(log)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(log.stat().st_mode) == 0o600 and log.read_text() == "x"


def test_an_autosave_started_before_a_save_writes_no_stale_copy(tmp_path):
    document = Document()
    generation = document.generation
    document.autosave("{}", generation)
    untitled = document.recovery_file()
    assert untitled.exists()
    document.save(_skill(), tmp_path / "saved.skill.json")
    assert not untitled.exists()
    assert document.autosave("{}", generation) is None  # the worker ran late: nothing written
    assert not document.recovery_file().exists() and not untitled.exists()


# -- startup recovery with bad entries ---------------------------------------------------------------


@pytest.fixture
def window(qtbot, monkeypatch):
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win = MainWindow(restore_state=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not win.canvas.is_loading(), timeout=30000)
    return win


def _copy(name: str, text: str, origin: bytes | None = b"") -> Path:
    folder = recovery_dir()
    folder.mkdir(parents=True, exist_ok=True)
    file = folder / f"{name}.skill.json"
    file.write_text(text, encoding="utf-8")
    if origin is not None:
        file.with_suffix(".origin").write_bytes(origin)
    return file


def test_bad_entries_are_skipped_with_a_note_and_unreadable_copies_kept_aside(qtbot, window, monkeypatch):
    good = _copy("aaaa", dump_skill(_skill("Good work")), origin=b"\xff\xfe not utf-8")
    newer = json.loads(dump_skill(_skill("Future")))
    newer["format_version"] = 99
    future = _copy("bbbb", json.dumps(newer))
    truncated = _copy("cccc", dump_skill(_skill("Cut"))[:40])
    (recovery_dir() / "dddd.skill.json").mkdir()  # a folder named like a copy
    (recovery_dir() / "eeee.skill.json").symlink_to(recovery_dir() / "nowhere")  # a broken link
    asked: list[str] = []
    warned: list[str] = []

    def question(*args: object, **_k: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", question)
    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: warned.append(str(a[2])))
    window.offer_recovery()
    qtbot.waitUntil(lambda: not window.canvas.is_loading(), timeout=10000)
    assert len(asked) == 1 and window.canvas.skill().settings.name == "Good work"
    assert not good.exists()
    kept = sorted(p.name for p in unreadable_dir().iterdir())
    assert any(name.endswith("bbbb.skill.json") for name in kept)
    assert any(name.endswith("cccc.skill.json") for name in kept)
    assert not future.exists() and not truncated.exists()
    assert (recovery_dir() / "dddd.skill.json").is_dir()  # not ours to remove
    note = warned[0]
    assert "bbbb.skill.json" in note and "cccc.skill.json" in note and str(unreadable_dir()) in note
    assert "dddd.skill.json" in note and "eeee.skill.json" in note
    assert find_recoveries().found == []


def test_discarding_a_copy_beside_a_folder_named_like_one_does_not_fail(qtbot, window, monkeypatch):
    copy = _copy("ffff", dump_skill(_skill("Drop me")))
    copy.with_suffix(".origin").unlink()
    copy.with_suffix(".origin").mkdir()
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Discard)
    window.offer_recovery()
    assert not copy.exists()


# -- read-only skill files ------------------------------------------------------------------------


def test_saving_over_a_read_only_file_asks_first(qtbot, window, tmp_path, monkeypatch):
    path = tmp_path / "locked.skill.json"
    save_skill(_skill("Locked"), path)
    path.chmod(0o444)
    before = path.read_bytes()
    assert window.open_file(path)
    qtbot.waitUntil(lambda: not window.canvas.is_loading(), timeout=10000)
    window.canvas.add_node("tracker@1")
    asked: list[str] = []

    def cancel(*args: object, **_k: object) -> QMessageBox.StandardButton:
        asked.append(str(args[2]))
        return QMessageBox.StandardButton.Cancel

    monkeypatch.setattr(QMessageBox, "question", cancel)
    assert not window.save()
    assert asked and str(path) in asked[0] and "read-only" in asked[0]
    assert path.read_bytes() == before
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert window.save()
    assert "tracker-1" in {n.id for n in load_skill(path).nodes}


def test_the_run_log_is_0600_in_a_0700_folder():
    from designer.commands.run import _close_run_log, _open_run_log
    from designer.core.paths import data_dir

    path, handler = _open_run_log()
    try:
        assert path is not None
        logging.getLogger("designer.test").warning("camera rtsp://admin:secret@10.0.0.7")
    finally:
        _close_run_log(handler)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE((data_dir() / "logs").stat().st_mode) == 0o700
