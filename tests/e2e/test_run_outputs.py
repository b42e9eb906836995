"""Two writers on one file are refused; a full disk is one clear error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.skill import save_skill, validate_skill
from designer.core.skill.build import add_node, connect, minimal_skill

ROOT = Path(__file__).resolve().parents[2]
CLIP = ROOT / "resources" / "video" / "vtest.avi"


@pytest.fixture
def skill_file(tmp_path, monkeypatch):
    """A Camera Input -> Filter -> Insights Log (``insights.jsonl``) skill on the bundled clip."""
    monkeypatch.chdir(tmp_path)
    shutil.copy(CLIP, tmp_path / "clip.avi")
    path = tmp_path / "s.skill.json"
    save_skill(minimal_skill("s", source="clip.avi"), path)
    return path


@pytest.mark.parametrize("target", ["insights.jsonl", "./insights.jsonl", "{tmp}/insights.jsonl"])
def test_insights_on_the_logs_own_file_is_refused_before_the_run(skill_file, tmp_path, capsys, target):
    target = target.format(tmp=tmp_path)
    code = main(["run", str(skill_file), "--max-frames", "3", "--realtime", "off", "--insights", target])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "insights-log-1" in err and "'path'" in err and "another file" in err
    assert not (tmp_path / "insights.jsonl").exists()  # nothing ran


def test_insights_on_another_file_still_runs(skill_file, tmp_path, capsys):
    code = main(["run", str(skill_file), "--max-frames", "3", "--realtime", "off", "--insights", "x.jsonl"])
    assert code == 0, capsys.readouterr().err
    assert len((tmp_path / "x.jsonl").read_text().splitlines()) == 3


def test_two_insights_logs_on_one_path_are_a_validation_error():
    skill = minimal_skill("s", source="clip.avi")
    second = add_node(skill, "insights-log@1", "second", path="insights.jsonl")
    connect(skill, skill.nodes[1].id, second.id)
    problems = [p for p in validate_skill(skill) if p.code == "output-file-shared"]
    assert problems and problems[0].is_error and problems[0].param == "path"
    assert "insights-log-1" in problems[0].message


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
def test_a_full_disk_is_one_clear_error_naming_the_file(skill_file, capsys):
    code = main(["run", str(skill_file), "--max-frames", "5", "--realtime", "off", "--insights", "/dev/full"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.count("/dev/full") == 1, err
    assert "No space left on device" in err


def test_the_insights_file_holds_strict_json_lines(skill_file, tmp_path):
    assert (
        main(["run", str(skill_file), "--max-frames", "3", "--realtime", "off", "--insights", "x.jsonl"]) == 0
    )
    for line in (tmp_path / "x.jsonl").read_text().splitlines():
        json.loads(line)
