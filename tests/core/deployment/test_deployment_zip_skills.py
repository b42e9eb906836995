"""A deployment file naming an exported skill package (.zip) next to a plain .skill.json: the package
is verified and runs on each camera with its own ``$param`` defaults, which a camera entry overrides;
a package changed after export is refused naming the deployment's field."""

from __future__ import annotations

import json
import tempfile
import zipfile
from pathlib import Path

import pytest
from test_deployment_run import _bright_square, _write_skills
from video_factory import write_video

from designer.cli import main
from designer.core.deployment import Camera, Deployment, SkillRef, save_deployment
from designer.core.deployment.runner import DeploymentError, DeploymentRun, load_skills

FRAMES = {"Gate": 5, "Yard": 3}


@pytest.fixture
def kept_zip(tmp_path: Path) -> Path:
    """kept.skill.json (its log file a ``$param(log)``) exported with the default log=pkg.jsonl."""
    work = tmp_path / "work"
    work.mkdir()
    _write_skills(work)
    package = tmp_path / "kept.zip"
    assert (
        main(["export", str(work / "kept.skill.json"), "-o", str(package), "--default", "log=pkg.jsonl"]) == 0
    )
    return package


def _site(folder: Path, refs: list[list[SkillRef]]) -> Path:
    """One video per camera (Gate, Yard: FRAMES each, not looped) and the deployment file."""
    cameras = []
    for (name, frames), skills in zip(FRAMES.items(), refs, strict=True):
        write_video(folder / f"{name}.avi", frames=frames, draw=_bright_square)
        cameras.append(Camera(name=name, source=f"{name}.avi", loop=False, skills=skills))
    path = folder / "site.deploy.json"
    save_deployment(Deployment(name="Site", cameras=cameras), path)
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_package_and_a_skill_file_run_on_two_cameras(kept_zip, tmp_path, capsys, monkeypatch):
    plain = SkillRef(skill="work/things.skill.json")
    path = _site(
        tmp_path,
        [
            [SkillRef(skill="kept.zip"), plain],  # the package's default: log=pkg.jsonl
            [plain, SkillRef(skill="kept.zip", params={"log": "yard.jsonl"})],  # the camera's own
        ],
    )
    out = tmp_path / "run"
    out.mkdir()
    monkeypatch.chdir(out)
    capsys.readouterr()
    assert main(["run", str(path), "--realtime", "off", "--quiet", "--insights", "all.jsonl"]) == 0
    err = capsys.readouterr().err
    assert "4 skill runs on 2 cameras" in err and "sessions loaded: 1" in err
    logs = {
        ("Gate", "Kept"): out / "Gate/Kept/pkg.jsonl",
        ("Gate", "Things"): out / "Gate/Things/things.jsonl",
        ("Yard", "Things"): out / "Yard/Things/things.jsonl",
        ("Yard", "Kept"): out / "Yard/Kept/yard.jsonl",
    }
    for (camera, skill), log in logs.items():
        messages = _lines(log)
        assert len(messages) == FRAMES[camera], (camera, skill)
        for message in messages:
            assert message["instance_id"] == camera and message["skill_id"] == skill
            assert message["insights_meta"]["other_meta"] == {"camera": camera, "skill": skill}
            assert [o["label"] for o in message["insights_meta"]["objects_meta"]] == ["thing"]
    assert not (out / "Yard/Kept/pkg.jsonl").exists()  # the camera's value won over the default
    tags = [tuple(m["insights_meta"]["other_meta"].values()) for m in _lines(out / "all.jsonl")]
    assert sorted(set(tags)) == sorted(logs) and len(tags) == 2 * sum(FRAMES.values())


def _changed_file(source: zipfile.ZipFile, sink: zipfile.ZipFile) -> None:
    """skill.json with one byte changed; the manifest still holds the exported file's hash."""
    for info in source.infolist():
        data = source.read(info)
        if info.filename == "skill.json":
            at = data.index(b'"Kept"') + 1
            data = data[:at] + b"k" + data[at + 1 :]
        sink.writestr(info, data)


def _wrong_hash(source: zipfile.ZipFile, sink: zipfile.ZipFile) -> None:
    """Every file as exported; the manifest's SHA-256 of skill.json wrong."""
    for info in source.infolist():
        data = source.read(info)
        if info.filename == "manifest.json":
            manifest = json.loads(data)
            manifest["files"]["skill.json"]["sha256"] = "0" * 64
            data = json.dumps(manifest).encode()
        sink.writestr(info, data)


@pytest.mark.parametrize("tamper", [_changed_file, _wrong_hash])
def test_a_tampered_package_is_refused_naming_the_field(kept_zip, tmp_path, capsys, monkeypatch, tamper):
    with zipfile.ZipFile(kept_zip) as source, zipfile.ZipFile(tmp_path / "x-bad.zip", "w") as sink:
        tamper(source, sink)
    plain = SkillRef(skill="work/things.skill.json")
    path = _site(tmp_path, [[plain], [plain, SkillRef(skill="x-bad.zip")]])
    assert json.loads(path.read_text())["cameras"][1]["skills"][1]["skill"] == "x-bad.zip"  # saved sorted
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    assert main(["run", str(path), "--realtime", "off", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {path}: cameras[1].skills[1].skill: ") and "\n" not in err
    assert "skill.json does not match its SHA-256" in err
    assert not (tmp_path / "Gate").exists() and not (tmp_path / "Yard").exists()  # nothing ran


def test_a_deployment_that_cannot_load_leaves_no_unpacked_package(kept_zip, tmp_path, monkeypatch):
    """The designer checks a deployment on every edit: a package unpacked before a skill that cannot
    load (or a run that cannot be built) is removed at once, not when the program exits."""
    unpacked = tmp_path / "tmp"
    unpacked.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(unpacked))
    packaged = Camera(name="Gate", source="Gate.avi", skills=[SkillRef(skill="kept.zip")])
    missing = Camera(name="Yard", source="Yard.avi", skills=[SkillRef(skill="gone.skill.json")])
    with pytest.raises(DeploymentError, match=r"cameras\[1\]\.skills\[0\]\.skill: "):
        load_skills(Deployment(name="Site", cameras=[packaged, missing]), tmp_path)
    assert list(unpacked.iterdir()) == []
    with pytest.raises(DeploymentError, match="unknown parameter 'typo'"):
        DeploymentRun(Deployment(name="Site", cameras=[packaged]), tmp_path, params={"typo": "1"})
    assert list(unpacked.iterdir()) == []
