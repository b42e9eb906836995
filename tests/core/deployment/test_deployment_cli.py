"""`new-deployment`, `validate` and `run` on *.deploy.json files, and hostile deployment files."""

from __future__ import annotations

import json

import pytest
from test_deployment_run import _bright_square, _write_skills
from video_factory import write_video

from designer.cli import main
from designer.core.deployment import (
    Camera,
    Deployment,
    DeploymentFileError,
    SkillRef,
    load_deployment,
    parse_deployment,
    save_deployment,
)


def test_new_validate_run(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write_skills(tmp_path)
    write_video(tmp_path / "a.avi", frames=8, draw=_bright_square)
    out = "site.deploy.json"
    assert (
        main(
            [
                "new-deployment",
                "Site",
                "-o",
                out,
                "--camera",
                "Gate=a.avi",
                "--camera",
                "Yard=a.avi",
                "--skill",
                "Gate=things.skill.json",
                "--skill",
                "Yard=things.skill.json",
                "--skill",
                "Yard=kept.skill.json",
            ]
        )
        == 0
    )
    deployment = load_deployment(tmp_path / out)
    assert [c.name for c in deployment.cameras] == ["Gate", "Yard"]
    text = (tmp_path / out).read_text()
    # Yard's kept.skill.json needs $param(log): validate says so (a warning), run refuses without it.
    assert main(["validate", out]) == 0
    assert "$param(log) needs --param log=VALUE" in capsys.readouterr().out
    assert main(["run", out, "--realtime", "off", "--quiet"]) == 2
    assert "missing parameter 'log'" in capsys.readouterr().err
    data = json.loads(text)
    data["cameras"][1]["skills"][0]["params"] = {"log": "kept.jsonl"}
    data["cameras"][0]["loop"] = data["cameras"][1]["loop"] = False
    (tmp_path / out).write_text(json.dumps(data))
    assert main(["run", out, "--realtime", "off", "--quiet", "--insights", "all.jsonl"]) == 0
    err = capsys.readouterr().err
    assert "Yard / Kept" in err and "sessions loaded: 1" in err
    lines = [json.loads(line) for line in (tmp_path / "all.jsonl").read_text().splitlines()]
    tags = {
        (m["insights_meta"]["other_meta"]["camera"], m["insights_meta"]["other_meta"]["skill"]) for m in lines
    }
    assert tags == {("Gate", "Things"), ("Yard", "Things"), ("Yard", "Kept")} and len(lines) == 24
    assert len((tmp_path / "Yard/Kept/kept.jsonl").read_text().splitlines()) == 8


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[]", 'not a deployment file: expected "format"'),
        ('{"format": "skill-designer/skill"}', "this is a skill file"),
        ('{"format": "skill-designer/deployment", "format_version": 9, "name": "x"}', "format_version 9"),
        (
            '{"format": "skill-designer/deployment", "format_version": 1, "name": "x", '
            '"cameras": [{"name": "a"}]}',
            "cameras[0].source: Field required",
        ),
        (
            '{"format": "skill-designer/deployment", "format_version": 1, "name": "x", '
            '"cameras": [{"name": "a", "source": "0", "fps": 500}]}',
            "cameras[0].fps",
        ),
        (
            '{"format": "skill-designer/deployment", "format_version": 1, "name": "x", '
            '"device": {"acceleration": "TPU"}}',
            "device.acceleration: 'TPU' is not an acceleration",
        ),
        (
            '{"format": "skill-designer/deployment", "format_version": 1, "name": "x", "cameras": '
            '[{"name": "a", "source": "0", "skills": [{"skill": "s", "params": {"bad name": "1"}}]}]}',
            "cameras[0].skills[0].params: 'bad name' is not a parameter name",
        ),
        ("{" * 100, "invalid JSON"),
    ],
)
def test_hostile_files_get_one_located_line(text, message):
    with pytest.raises(DeploymentFileError) as error:
        parse_deployment(text, "site.deploy.json")
    assert str(error.value).startswith("site.deploy.json: ") and message in str(error.value)
    assert "\n" not in str(error.value)


def test_validate_and_run_name_an_unreadable_deployment(tmp_path, capsys):
    path = tmp_path / "x.deploy.json"
    path.write_text('{"format": "skill-designer/deployment", "format_version": 1, "name": "x", "cameras": 3}')
    assert main(["validate", str(path)]) == 2
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count(f"{path}: cameras: Input should be a valid list") == 2


def test_run_refuses_insights_on_a_file_a_pairs_node_writes(tmp_path, capsys, monkeypatch):
    """Two writers on one file interleave lines: the clash is refused before anything runs or the
    file is emptied, naming the camera, the skill and the node."""
    monkeypatch.chdir(tmp_path)
    _write_skills(tmp_path)
    write_video(tmp_path / "a.avi", frames=4, draw=_bright_square)
    deployment = Deployment(
        name="Site",
        cameras=[
            Camera(name="Gate", source="a.avi", loop=False, skills=[SkillRef(skill="things.skill.json")]),
            Camera(
                name="Yard",
                source="a.avi",
                loop=False,
                skills=[SkillRef(skill="kept.skill.json", params={"log": "log.jsonl"})],
            ),
        ],
    )
    save_deployment(deployment, tmp_path / "site.deploy.json")
    written = tmp_path / "Yard" / "Kept" / "log.jsonl"  # where Yard's Kept log node writes
    written.parent.mkdir(parents=True)
    written.write_text("earlier\n")
    args = ["run", "site.deploy.json", "--realtime", "off", "--quiet", "--insights"]
    assert main([*args, str(written)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: --insights {written} is the file ") and "\n" not in err
    assert "node 'log' of camera 'Yard', skill 'Kept' writes (parameter 'path')" in err
    assert written.read_text() == "earlier\n"  # neither emptied nor written
    assert not (tmp_path / "Gate").exists()  # nothing ran
    # The same file by another spelling is the same file.
    assert main([*args, "Yard/./Kept/../Kept/log.jsonl"]) == 2
    assert "skill 'Kept'" in capsys.readouterr().err and written.read_text() == "earlier\n"
