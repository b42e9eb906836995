"""`skill-designer run`: the bundled default skill finds people; bad input gets exit codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.skill import save_skill
from designer.core.skill.build import minimal_skill

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SKILL = ROOT / "resources" / "samples" / "default.skill.json"


def test_default_skill_finds_people_on_the_bundled_clip(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(
        [
            "run",
            str(DEFAULT_SKILL),
            "--max-frames",
            "30",
            "--realtime",
            "off",
            "--insights",
            "out.jsonl",
            "--quiet",
        ]
    )
    assert code == 0
    messages = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(messages) == 30
    people = [m["insights_meta"]["objects_meta"] for m in messages]
    assert all(obj["label"] == "person" for objects in people for obj in objects)
    # Several pedestrians walk through every frame of the clip's opening.
    assert sum(len(objects) >= 2 for objects in people) >= 25
    for objects in people:
        for obj in objects:
            box = obj["bbox"]
            assert 0 <= box["l"] <= 1 and 0 <= box["t"] <= 1
            assert 0.01 < box["h"] < 0.8 and box["w"] < box["h"] * 1.5  # people are upright
    # The skill's own Insights Log writes to the working directory.
    assert len((tmp_path / "insights.jsonl").read_text().splitlines()) == 30
    summary = capsys.readouterr().err
    assert "finished: 30 frames" in summary and "detector" in summary


def test_run_as_a_program(tmp_path):
    clip = ROOT / "resources" / "video" / "vtest.avi"
    skill = tmp_path / "s.skill.json"
    save_skill(minimal_skill("cli", source=str(clip)), skill)
    result = subprocess.run(
        [sys.executable, "-m", "designer.cli", "run", str(skill), "--max-frames", "5", "--realtime", "off"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "finished: 5 frames" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["missing.skill.json"], 2, "file not found"),
        (["{skill}", "--param", "broken"], 2, "NAME=VALUE"),
        (["{skill}", "--param", "nothere=1"], 2, "unknown parameter 'nothere'"),
        (["{skill}", "--max-frames", "0"], 2, "--max-frames"),
        (["{bad_skill}"], 1, "no-export-node"),
        (["{skill}", "--source", "{tmp}/no-such-clip.avi"], 1, "no-such-clip.avi"),
    ],
)
def test_bad_input_exit_codes(tmp_path, monkeypatch, capsys, args, code, text):
    monkeypatch.chdir(tmp_path)
    skill = tmp_path / "ok.skill.json"
    save_skill(minimal_skill("ok", source="clip.avi"), skill)
    bad = minimal_skill("bad")
    bad.nodes = [n for n in bad.nodes if n.type != "insights-log@1"]
    bad.edges = bad.edges[:1]
    save_skill(bad, tmp_path / "bad.skill.json")
    filled = [a.format(skill=skill, bad_skill=tmp_path / "bad.skill.json", tmp=tmp_path) for a in args]
    assert main(["run", *filled]) == code
    assert text in capsys.readouterr().err


def test_source_is_relative_to_the_working_directory_and_replaces_a_placeholder(tmp_path, monkeypatch):
    (tmp_path / "skills").mkdir()
    skill = tmp_path / "skills" / "cam.skill.json"
    save_skill(minimal_skill("cam", source="$param(rtsp)"), skill)
    shutil.copy(ROOT / "resources" / "video" / "vtest.avi", tmp_path / "clip.avi")
    monkeypatch.chdir(tmp_path)
    assert (
        main(
            [
                "run",
                "skills/cam.skill.json",
                "--source",
                "clip.avi",
                "--max-frames",
                "3",
                "--realtime",
                "off",
                "--quiet",
            ]
        )
        == 0
    )
    assert len((tmp_path / "insights.jsonl").read_text().splitlines()) == 3
