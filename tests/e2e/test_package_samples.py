"""The bundled samples, exported and run from their packages, give the insights their skill files give."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.skill import load_skill, save_skill
from designer.core.skill.build import add_node, connect

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "resources" / "samples"
CLIP = ROOT / "resources" / "video" / "vtest.avi"
FRAMES = "6"


def _insights(path: Path) -> list[dict]:
    """Messages without the wall-clock fields (each run starts at its own time)."""
    messages = []
    for line in path.read_text().splitlines():
        message = json.loads(line)
        for key in ("timestamp", "datetime"):
            message.pop(key)
        for obj in message["insights_meta"]["objects_meta"]:
            obj.pop("timestamp", None)
        messages.append(message)
    return messages


def _run(target: Path, cwd: Path, monkeypatch) -> tuple[int, list[dict]]:
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    args = ["run", str(target), "--source", str(CLIP), "--max-frames", FRAMES, "--realtime", "off"]
    code = main([*args, "--insights", "out.jsonl", "--quiet"])
    return code, _insights(cwd / "out.jsonl")


def _with_log(sample: Path, folder: Path) -> Path:
    """A copy of a sample with an Insights Log after its last Process node (absolute model paths)."""
    skill = load_skill(sample)
    for node in skill.nodes:
        for key in ("model_path", "labels_path"):
            if node.params.get(key):
                node.params[key] = str((sample.parent / node.params[key]).resolve())
    last = next(e.source.node for e in skill.edges if e.target.node in {"iothub", "snippet"})
    add_node(skill, "insights-log@1", "a-log", path="cascade.jsonl")
    connect(skill, last, "a-log")
    path = folder / sample.name
    save_skill(skill, path)
    return path


@pytest.mark.parametrize("name", ["default", "count-crossings", "tutorial-cascade", "tutorial-cascade+log"])
def test_exported_sample_runs_like_its_skill_file(name, tmp_path, monkeypatch, capsys):
    sample = SAMPLES / f"{name.removesuffix('+log')}.skill.json"
    if name.endswith("+log"):
        sample = _with_log(sample, tmp_path)
    package = tmp_path / f"{name}.zip"
    assert main(["export", str(sample), "-o", str(package)]) == 0
    assert main(["verify", str(package)]) == 0

    from_file = _run(sample, tmp_path / "file", monkeypatch)
    from_package = _run(package, tmp_path / "package", monkeypatch)
    assert from_package == from_file
    code, messages = from_package
    if name == "tutorial-cascade":
        # Its first export is IoT Hub, which has no connection string here: both runs say so alike.
        assert code == 3 and messages == []
    else:
        assert code == (3 if name.startswith("tutorial") else 0) and len(messages) == int(FRAMES)
        objects = [o for m in messages for o in m["insights_meta"]["objects_meta"]]
        assert objects and all(o["label"] == "person" or name.startswith("tutorial") for o in objects)
    if name == "tutorial-cascade+log":  # the classifier's colour of each box survived the trip
        assert any(o["attributes"] for o in objects)
