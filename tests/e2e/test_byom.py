"""Bring your own model, end to end: add it with one command, see it, use it in a skill, run it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from designer.cli import main
from designer.core.skill import Settings, Skill, save_skill
from designer.core.skill.build import add_node, chain

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "resources" / "models"


def people_skill(model_id: str) -> Skill:
    skill = Skill(settings=Settings(name="byom"))
    camera = add_node(skill, "camera@1", "camera", source=str(ROOT / "resources/video/vtest.avi"))
    detector = add_node(skill, "model@1", "detector", model_id=model_id)
    people = add_node(skill, "filter@1", "people", labels=["person"])
    log = add_node(skill, "insights-log@1", "log", path="people.jsonl")
    chain(skill, camera.id, detector.id, people.id, log.id)
    return skill


def test_add_list_validate_and_run_a_library_model(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SKILL_DESIGNER_DATA", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    shutil.copy(MODELS / "yolov3-tiny-coco.onnx", tmp_path / "mine.onnx")
    shutil.copy(MODELS / "yolov3-tiny-coco.labels.txt", tmp_path / "mine.txt")

    assert (
        main(
            [
                "models",
                "add",
                "--name",
                "street",
                "--type",
                "detection",
                "--file",
                "mine.onnx",
                "--labels",
                "mine.txt",
                "--tag",
                "site=lab",
            ]
        )
        == 0
    )
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    listed = {entry["id"]: entry for entry in json.loads(capsys.readouterr().out)}
    street = json.dumps(listed["street"])
    assert "yolov5" in street and "person" in street

    save_skill(people_skill("street"), tmp_path / "street.skill.json")
    assert main(["validate", "street.skill.json"]) == 0
    assert main(["run", "street.skill.json", "--max-frames", "5", "--realtime", "off", "--quiet"]) == 0
    messages = [json.loads(line) for line in (tmp_path / "people.jsonl").read_text().splitlines()]
    assert len(messages) == 5
    assert all(m["insights_meta"]["objects_meta"] for m in messages)

    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    ids = {entry["id"] for entry in json.loads(capsys.readouterr().out)}
    assert ids == {"street", "yolov3-tiny-coco"}  # the bundled sample was registered on first run

    save_skill(people_skill("nowhere"), tmp_path / "missing.skill.json")
    capsys.readouterr()
    assert main(["validate", "missing.skill.json"]) == 1
    out = capsys.readouterr().out
    assert "model-missing" in out and "'nowhere'" in out
