"""Skill files: byte-stable round trips, located errors, and writes that never lose a file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

import designer.core.skill.files as files
from designer.core.skill import SkillFileError, dump_skill, load_skill, parse_skill, save_skill
from designer.core.skill.build import minimal_skill

from .helpers import cascade, codes


def test_round_trip_is_byte_identical(tmp_path: Path):
    first, second = tmp_path / "a.skill.json", tmp_path / "b.skill.json"
    save_skill(cascade(), first)
    save_skill(load_skill(first), second)
    assert first.read_bytes() == second.read_bytes()
    assert load_skill(second) == load_skill(first)


def test_output_is_sorted_indented_and_ends_with_a_newline(tmp_path: Path):
    skill = cascade()
    skill.nodes.reverse()
    skill.edges.reverse()
    path = tmp_path / "s.skill.json"
    save_skill(skill, path)
    text = path.read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert [n["id"] for n in data["nodes"]] == sorted(n["id"] for n in data["nodes"])
    keys = [(e["source"]["node"], e["target"]["node"]) for e in data["edges"]]
    assert keys == sorted(keys)
    assert list(data) == ["edges", "format", "format_version", "layout", "nodes", "settings"]
    assert data["format"] == "skill-designer/skill" and data["format_version"] == 1
    assert set(data["layout"]["nodes"]) == {"camera", "detector", "filter", "hub"}


def test_node_order_does_not_change_the_bytes():
    skill = cascade()
    shuffled = skill.model_copy(update={"nodes": skill.nodes[::-1], "edges": skill.edges[::-1]})
    assert dump_skill(skill) == dump_skill(shuffled)


def test_non_ascii_text_is_written_as_text():
    skill = cascade("Caméra Süd 東")
    text = dump_skill(skill)
    assert "Caméra Süd 東" in text
    assert parse_skill(text.encode("utf-8")).settings.name == "Caméra Süd 东".replace("东", "東")


def test_surrogate_escapes_survive_a_save(tmp_path: Path):
    """JSON may spell a lone surrogate ("\\ud800"); it must not make the file unsaveable."""
    path = tmp_path / "s.skill.json"
    text = dump_skill(cascade()).replace('"name": "cascade"', '"name": "a\\ud800b\\ud83d\\ude00"')
    path.write_text(text, encoding="utf-8")
    save_skill(load_skill(path), path)
    assert load_skill(path).settings.name == "a\ud800b\U0001f600"
    assert '"a\\ud800b\U0001f600"' in path.read_text(encoding="utf-8")


def test_byte_order_mark_is_accepted():
    text = dump_skill(cascade())
    assert parse_skill(b"\xef\xbb\xbf" + text.encode("utf-8")) == parse_skill(text)


UNKNOWN = {
    "format": "skill-designer/skill",
    "format_version": 1,
    "from_the_future": {"hello": [1, 2]},
    "settings": {"name": "s", "colour": "red", "tags": [{"name": "a", "value": "b", "note": "x"}]},
    "nodes": [
        {"id": "cam", "type": "camera@1", "params": {"source": "0", "zoom": 2}, "locked": True},
        {"id": "warp", "type": "teleport@3", "params": {"speed": "c", "nested": {"a": [1]}}},
    ],
    "edges": [
        {
            "source": {"node": "cam", "port": "out", "via": 1},
            "target": {"node": "warp", "port": "in"},
            "style": "dashed",
        }
    ],
    "layout": {"zoom": 1.5, "nodes": {"cam": {"x": 1.5, "y": -2, "collapsed": True}}},
}


def _contains(saved, original) -> bool:
    """Everything in ``original`` is in ``saved`` (which may add defaults)."""
    if isinstance(original, dict):
        return isinstance(saved, dict) and all(
            key in saved and _contains(saved[key], value) for key, value in original.items()
        )
    if isinstance(original, list):
        same_length = isinstance(saved, list) and len(saved) == len(original)
        return same_length and all(map(_contains, saved, original))
    return saved == original and isinstance(saved, bool) == isinstance(original, bool)


def test_unknown_fields_and_types_are_kept_and_flagged(tmp_path: Path):
    path = tmp_path / "future.skill.json"
    path.write_text(json.dumps(UNKNOWN), encoding="utf-8")
    skill = load_skill(path)
    save_skill(skill, path)
    assert _contains(json.loads(path.read_text(encoding="utf-8")), UNKNOWN)
    found = codes(skill)
    assert found.count("unknown-field") == 8
    assert "unknown-parameter" in found and "unknown-node-type" in found
    assert skill.node("warp").type == "teleport@3"


def test_unknown_node_type_survives_two_round_trips(tmp_path: Path):
    path = tmp_path / "s.skill.json"
    path.write_text(json.dumps(UNKNOWN), encoding="utf-8")
    save_skill(load_skill(path), path)
    once = path.read_bytes()
    save_skill(load_skill(path), path)
    assert path.read_bytes() == once


# --- located errors ----------------------------------------------------------------------------


def _write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "bad.skill.json"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def test_json_syntax_error_has_line_and_column(tmp_path: Path):
    path = _write(tmp_path, '{\n  "format": "skill-designer/skill",\n  "settings": {,}\n}\n')
    with pytest.raises(SkillFileError) as caught:
        load_skill(path)
    err = caught.value
    assert (err.line, err.column) == (3, 16)
    assert err.path == str(path)
    assert str(err) == f"{path}:3:16: invalid JSON: Expecting property name enclosed in double quotes"


BAD_FILES = [
    ("[1, 2]", "not a skill file"),
    ('{"format": "something-else"}', 'expected "format": "skill-designer/skill"'),
    ('{"apiVersion": "ai.symphony/v1", "kind": "Skill"}', "import-kan"),
    ('{"format": "skill-designer/skill", "format_version": 2, "settings": {}}', "Update Skill Designer"),
    ('{"format": "skill-designer/skill", "format_version": "1", "settings": {}}', "not supported"),
    ('{"format": "skill-designer/skill", "format_version": 0, "settings": {}}', "not supported"),
    ('{"format": "skill-designer/skill", "format_version": 1}', "settings: Field required"),
    (
        '{"format": "skill-designer/skill", "format_version": 1, "settings": {"fps": "fast"}}',
        "settings.fps: Input should be a valid integer",
    ),
    (
        '{"format": "skill-designer/skill", "format_version": 1, "settings": {}, "nodes": [{"id": "a"}]}',
        "nodes[0].type: Field required",
    ),
    (
        '{"format": "skill-designer/skill", "format_version": 1, "settings": {}, '
        '"nodes": [{"id": "a", "type": "camera@1", "params": []}]}',
        "nodes[0].params: Input should be",
    ),
    (
        '{"format": "skill-designer/skill", "format_version": 1, "settings": {}, "edges": [{}], "nodes": 3}',
        "(and 2 more)",
    ),
    (
        '{"format": "skill-designer/skill", "format_version": 1, "settings": {}, "layout": '
        '{"nodes": {"a": {"x": NaN}}}}',
        "NaN is not a JSON number",
    ),
    (
        '{"format": "skill-designer/skill", "format_version": 1, "settings": {"fps": Infinity}}',
        "Infinity is not a JSON number",
    ),
    ("", "invalid JSON: Expecting value"),
]


@pytest.mark.parametrize(("content", "words"), BAD_FILES, ids=lambda v: v[:30])
def test_bad_file_is_refused_with_a_located_message(tmp_path: Path, content: str, words: str):
    path = _write(tmp_path, content)
    with pytest.raises(SkillFileError) as caught:
        load_skill(path)
    assert words in str(caught.value)
    assert str(caught.value).startswith(str(path))
    assert path.read_text(encoding="utf-8") == content  # reading never touches the file


def test_not_utf8(tmp_path: Path):
    with pytest.raises(SkillFileError, match="not UTF-8 text"):
        load_skill(_write(tmp_path, b'{"format": "\xff\xfe"}'))


def test_missing_file_and_folder(tmp_path: Path):
    with pytest.raises(SkillFileError, match="file not found"):
        load_skill(tmp_path / "nope.skill.json")
    with pytest.raises(SkillFileError, match="is a folder"):
        load_skill(tmp_path)


def test_huge_file_is_refused_before_reading(tmp_path: Path):
    path = tmp_path / "huge.skill.json"
    with path.open("wb") as handle:  # sparse: costs no disk and no time
        handle.truncate(files.MAX_FILE_BYTES + 1)
    with pytest.raises(SkillFileError, match="at most 20,971,520 bytes"):
        load_skill(path)
    with pytest.raises(SkillFileError, match="Is this really a skill"):
        parse_skill(b" " * (files.MAX_FILE_BYTES + 1))


def test_endless_device_is_refused_after_a_bounded_read():
    with pytest.raises(SkillFileError, match="Is this really a skill"):
        load_skill("/dev/zero")


def test_deep_nesting_is_refused_not_a_crash_later():
    """A file that loads must also save; values nested past the limit are refused up front."""
    deep = "[" * 200 + "]" * 200
    text = dump_skill(cascade()).replace('"labels": [', f'"labels": [{deep}, ', 1)
    with pytest.raises(SkillFileError, match="nest more than 64 levels"):
        parse_skill(text)
    with pytest.raises(SkillFileError, match="nested too deeply"):
        parse_skill("[" * 100_000 + "]" * 100_000)


# --- atomic writes -----------------------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_failed_serialisation_leaves_the_old_file(tmp_path: Path):
    path = tmp_path / "s.skill.json"
    save_skill(cascade(), path)
    before = path.read_bytes()
    broken = cascade()
    broken.layout.nodes["camera"].x = float("nan")
    with pytest.raises(ValueError, match="NaN or an infinite number"):
        save_skill(broken, path)
    broken = cascade()
    broken.nodes[0].params["source"] = object()
    with pytest.raises(Exception, match="object"):
        save_skill(broken, path)
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_write_keeps_the_old_file_and_no_temp(tmp_path: Path, monkeypatch, failing: str):
    path = tmp_path / "s.skill.json"
    save_skill(cascade("old"), path)
    before = path.read_bytes()

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, failing, fail)
    with pytest.raises(OSError, match="No space left"):
        save_skill(cascade("new"), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_write_into_missing_folder_fails_cleanly(tmp_path: Path):
    with pytest.raises(FileNotFoundError):
        save_skill(cascade(), tmp_path / "no" / "such" / "s.skill.json")
    assert list(tmp_path.iterdir()) == []


def test_saving_keeps_the_file_mode(tmp_path: Path):
    path = tmp_path / "s.skill.json"
    save_skill(cascade(), path)
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # a new file follows the umask
    path.chmod(0o640)
    save_skill(minimal_skill("again"), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_saving_through_a_symlink_keeps_the_link(tmp_path: Path):
    real = tmp_path / "real.skill.json"
    save_skill(cascade("one"), real)
    link = tmp_path / "link.skill.json"
    link.symlink_to(real)
    save_skill(cascade("two"), link)
    assert link.is_symlink()
    assert load_skill(real).settings.name == "two"
