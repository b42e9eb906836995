"""No command overwrites a file without --force, and none ever overwrites its input."""

from __future__ import annotations

from pathlib import Path

import pytest

from designer.cli import main
from designer.core.skill import save_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.document import Settings, Skill

KAN = Path(__file__).resolve().parents[1] / "data" / "kan" / "tutorial-cascade.yaml"


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.yaml").write_text(KAN.read_text())
    skill = Skill(settings=Settings(name="s"))  # a skill KAN runs: a model and an export it has
    add_node(skill, "camera@1", "camera", source="$param(rtsp)")
    add_node(skill, "model@1", "detector", model_id="yolov3-tiny-coco")
    add_node(skill, "iothub@1", "hub")
    chain(skill, "camera", "detector", "hub")
    save_skill(skill, tmp_path / "s.skill.json")
    return tmp_path


@pytest.mark.parametrize("force", [[], ["--force"]])
@pytest.mark.parametrize(
    ("command", "source", "output"),
    [("import-kan", "good.yaml", "good.yaml"), ("import-kan", "good.yaml", "./good.yaml"),
     ("export-kan", "s.skill.json", "s.skill.json")],
)  # fmt: skip
def test_a_command_never_overwrites_its_input(files, capsys, command, source, output, force):
    before = (files / source).read_bytes()
    code = main([command, source, "-o", output, *force])
    assert code != 0
    assert "input" in capsys.readouterr().err
    assert (files / source).read_bytes() == before


@pytest.mark.parametrize(("command", "source"), [("import-kan", "good.yaml"), ("export-kan", "s.skill.json")])
def test_an_existing_output_needs_force(files, capsys, command, source):
    (files / "there.out").write_text("keep me")
    assert main([command, source, "-o", "there.out"]) == 1
    assert "--force" in capsys.readouterr().err
    assert (files / "there.out").read_text() == "keep me"
    assert main([command, source, "-o", "there.out", "--force"]) == 0
    assert (files / "there.out").read_text() != "keep me"
