"""Reading packages without trusting them: every bad input refused by name, nothing written outside."""

from __future__ import annotations

import json
import stat
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from designer.core.package import Limits, PackageError, open_package, unpack_package, verify_package
from designer.core.package.export import export_package
from designer.core.skill import load_skill

from .pkg_helpers import tiny_skill, write_skill


@pytest.fixture
def package(skill_dir, tmp_path) -> Path:
    skill_path = write_skill(skill_dir, tiny_skill())
    out = tmp_path / "good.zip"
    export_package(load_skill(skill_path), skill_path, out, defaults={"rtsp": "0"})
    return out


def rewrite(
    src: Path, dst: Path, change: Callable[[str, bytes], list[tuple[zipfile.ZipInfo | str, bytes]]]
) -> Path:
    """Copy a zip entry by entry; ``change(name, data)`` returns the entries to write instead."""
    with zipfile.ZipFile(src) as old, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as new:
        for info in old.infolist():
            for target, data in change(info.filename, old.read(info)):
                new.writestr(target, data)
    return dst


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def test_an_intact_package_verifies_and_unpacks(package, tmp_path):
    manifest = verify_package(package)
    unpack_package(package, tmp_path / "out")
    assert (tmp_path / "out" / "skill.json").is_file()
    assert _tree(tmp_path / "out") >= set(manifest.files) | {"manifest.json"}


def _add(entry: zipfile.ZipInfo | str, data: bytes = b"x"):
    def change(name: str, old: bytes):
        return [(name, old)] + ([(entry, data)] if name == "skill.json" else [])

    return change


def _symlink_entry() -> zipfile.ZipInfo:
    info = zipfile.ZipInfo("models/colour/link")
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info


def _manifest(edit: Callable[[dict], None]):
    def change(name: str, old: bytes):
        if name != "manifest.json":
            return [(name, old)]
        data = json.loads(old)
        edit(data)
        return [(name, json.dumps(data).encode())]

    return change


def _tamper(name: str, old: bytes):
    if name == "models/colour/labels.txt":
        return [(name, old.replace(b"red", b"RED"))]  # same size, other bytes
    return [(name, old)]


BAD = [
    ("dotdot", _add("../evil.txt"), "'..'"),
    ("dotdot-nested", _add("models/../../evil.txt"), "'..'"),
    ("absolute", _add("/tmp/evil.txt"), "absolute path"),
    ("drive", _add("C:/evil.txt"), "absolute path"),
    ("backslash", _add("models\\..\\evil.txt"), "backslashes"),
    ("symlink", _add(_symlink_entry(), b"/etc/passwd"), "symbolic link"),
    ("unlisted", _add("extra.sh", b"echo hi"), "extra.sh is not listed in manifest.json"),
    ("tampered", _tamper, "models/colour/labels.txt does not match its SHA-256"),
    ("no-manifest", lambda n, d: [] if n == "manifest.json" else [(n, d)], "no manifest.json"),
    (
        "future-version",
        _manifest(lambda m: m.update(format_version=99)),
        "format version 99 is not supported",
    ),
    ("not-a-manifest", _manifest(lambda m: m.update(format="other")), "not a skill package manifest"),
    (
        "missing-file",
        lambda n, d: [] if n == "README.md" else [(n, d)],
        "README.md is listed in manifest.json but missing",
    ),
    ("size-lie", _manifest(lambda m: m["files"]["README.md"].update(size=5)), "README.md is"),
]


@pytest.mark.parametrize(("change", "message"), [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_bad_packages_are_refused_and_nothing_is_written(package, tmp_path, change, message):
    bad = rewrite(package, tmp_path / "bad.zip", change)
    before = _tree(tmp_path)
    with pytest.raises(PackageError) as caught:
        verify_package(bad)
    assert message in str(caught.value) and "bad.zip" in str(caught.value)
    with pytest.raises(PackageError):
        unpack_package(bad, tmp_path / "out")
    with pytest.raises(PackageError):
        open_package(bad, dest=tmp_path / "run")
    assert _tree(tmp_path) == before  # no folder, no staging left, nothing outside
    assert not (tmp_path.parent / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()


def _declare_size(path: Path, member: str, size: int) -> None:
    """Patch the uncompressed size a zip declares for ``member`` (local header and central directory)."""
    data = bytearray(path.read_bytes())
    name = member.encode()
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature)
        while at != -1:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if data[name_at : name_at + len(name)] == name:
                struct.pack_into("<I", data, at + offset, size)
            at = data.find(signature, at + 4)
    path.write_bytes(bytes(data))


def test_a_zip_bomb_is_refused_before_it_is_inflated(package, tmp_path):
    def bomb(name: str, old: bytes):
        return [(name, old)] + ([("models/colour/zeros.bin", bytes(1 << 20))] if name == "skill.json" else [])

    bad = rewrite(package, tmp_path / "bomb.zip", bomb)
    _declare_size(bad, "models/colour/zeros.bin", 0xFFFFFFF0)  # 4 GB from about 1 KB
    with pytest.raises(PackageError, match=r"zeros\.bin.*(zip bomb)"):
        verify_package(bad)
    assert not (tmp_path / "out").exists()


def test_limits_bound_what_a_package_may_declare(package):
    with pytest.raises(PackageError, match="more than the 1,000 a package file may hold"):
        verify_package(package, Limits(max_file_bytes=1000))
    with pytest.raises(PackageError, match="in all, more than"):
        verify_package(package, Limits(max_total_bytes=2000))
    with pytest.raises(PackageError, match="entries, more than"):
        verify_package(package, Limits(max_entries=3))


def test_not_a_zip_and_not_a_file(tmp_path):
    (tmp_path / "x.zip").write_text("hello")
    with pytest.raises(PackageError, match="not a readable zip file"):
        verify_package(tmp_path / "x.zip")
    with pytest.raises(PackageError, match="file not found"):
        verify_package(tmp_path / "missing.zip")


def test_unpacking_refuses_a_folder_that_holds_files(package, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "mine.txt").write_text("keep me")
    with pytest.raises(PackageError, match="must be new or empty"):
        unpack_package(package, tmp_path / "out")
    assert (tmp_path / "out" / "mine.txt").read_text() == "keep me"
