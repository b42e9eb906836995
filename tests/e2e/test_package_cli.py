"""`skill-designer export / verify / run PACKAGE / import` as a user types them."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.skill import Skill, save_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.document import Settings

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "resources" / "models"
CLIP = ROOT / "resources" / "video" / "vtest.avi"


@pytest.fixture
def skill_file(tmp_path) -> Path:
    """A colour classifier on a camera whose password is a secret."""
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
    shutil.copy2(MODELS / "color-classifier.labels.txt", folder / "colours.txt")
    skill = Skill(settings=Settings(name="Colour check", fps=30))
    add_node(skill, "camera@1", "camera", source="$param(camera)", username="op", password="pa55word!")
    add_node(skill, "model@1", "colour", model_path="colours.onnx", labels_path="colours.txt")
    add_node(skill, "insights-log@1", "log", path="colours.jsonl")
    chain(skill, "camera", "colour", "log")
    path = folder / "colours.skill.json"
    save_skill(skill, path)
    return path


def test_export_verify_run_import(skill_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(skill_file), "-o", "colours.zip"]) == 0
    out, err = capsys.readouterr()
    assert "wrote colours.zip" in out and "the device must set: CAMERA_PASSWORD" in out
    assert "node camera, password: the password moved out of the package to ${CAMERA_PASSWORD}" in err
    assert b"pa55word!" not in Path("colours.zip").read_bytes()

    assert main(["export", str(skill_file), "-o", "colours.zip"]) == 2  # never overwrites silently
    assert "--force" in capsys.readouterr().err

    assert main(["verify", "colours.zip"]) == 0
    out = capsys.readouterr().out
    assert "intact: Colour check" in out and "parameter camera" in out and "CAMERA_PASSWORD" in out

    run = ["run", "colours.zip", "--source", str(CLIP), "--max-frames", "3", "--realtime", "off", "--quiet"]
    assert main(run) == 2
    assert (
        "set the environment variable(s) CAMERA_PASSWORD (node camera, password)" in capsys.readouterr().err
    )
    monkeypatch.setenv("CAMERA_PASSWORD", "from-the-device")
    assert main([*run, "--insights", "out.jsonl"]) == 0
    messages = [json.loads(line) for line in Path("out.jsonl").read_text().splitlines()]
    assert len(messages) == 3 and messages[0]["skill_id"] == "Colour check"
    assert messages[0]["insights_meta"]["objects_meta"][0]["label"] in set(
        (MODELS / "color-classifier.labels.txt").read_text().split()
    )

    assert main(["import", "colours.zip", "--into", "imported", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["models_added"] == ["colours"]
    assert any("${CAMERA_PASSWORD}" in note for note in report["notes"])
    assert main(["validate", report["skill"]]) == 0


def test_a_tampered_package_is_refused_with_the_files_name(skill_file, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["export", str(skill_file), "-o", "good.zip", "--default", "camera=0"]) == 0
    with zipfile.ZipFile("good.zip") as old, zipfile.ZipFile("bad.zip", "w") as new:
        for info in old.infolist():
            data = old.read(info)
            if info.filename == "skill.json":
                data = data.replace(b'"confidence_threshold": 30', b'"confidence_threshold": 99')
            new.writestr(info, data)
    capsys.readouterr()
    assert main(["verify", "bad.zip"]) == 1
    assert "skill.json does not match its SHA-256" in capsys.readouterr().err
    monkeypatch.setenv("CAMERA_PASSWORD", "x")
    assert main(["run", "bad.zip", "--max-frames", "1", "--quiet"]) == 2
    assert "skill.json does not match its SHA-256" in capsys.readouterr().err


def test_a_skill_with_errors_exports_nothing(tmp_path, capsys):
    skill = Skill(settings=Settings(name="Broken"))
    add_node(skill, "camera@1", "camera", source="0")
    path = tmp_path / "broken.skill.json"
    save_skill(skill, path)
    assert main(["export", str(path), "-o", str(tmp_path / "b.zip")]) == 1
    err = capsys.readouterr().err
    assert "no-export-node" in err and "not exported" in err
    assert not (tmp_path / "b.zip").exists()


def test_run_package_as_a_program(skill_file, tmp_path):
    """What a device's container runs: a fresh process, secrets and parameters from the environment."""
    package = tmp_path / "p.zip"
    assert main(["export", str(skill_file), "-o", str(package)]) == 0
    env = {
        "PATH": "/usr/bin:/bin",
        "CAMERA_PASSWORD": "x",
        "SKILL_PARAM_CAMERA": str(CLIP),
        "SKILL_DESIGNER_DATA": str(tmp_path / "data"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "designer.cli", "run", str(package), "--max-frames", "4", "--realtime", "off"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "finished: 4 frames" in result.stderr
    assert len((tmp_path / "colours.jsonl").read_text().splitlines()) == 4
