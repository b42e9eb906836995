"""Small real skills to package: the bundled 470-byte colour classifier keeps zips tiny and fast."""

from __future__ import annotations

from pathlib import Path

from designer.core.skill import Skill, save_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.document import Settings

ROOT = Path(__file__).resolve().parents[3]
RESOURCES = ROOT / "resources"
CLASSIFIER = RESOURCES / "models" / "color-classifier.onnx"
CLASSIFIER_LABELS = RESOURCES / "models" / "color-classifier.labels.txt"


def tiny_skill(name: str = "Tiny colours", acceleration: str = "CPU", source: str = "$param(rtsp)") -> Skill:
    """camera -> colour classifier -> insights log, naming its model files next to the skill."""
    skill = Skill(settings=Settings(name=name, acceleration=acceleration))
    add_node(skill, "camera@1", "camera", source=source)
    add_node(skill, "model@1", "colour", model_path="models/colour.onnx", labels_path="models/colour.txt")
    add_node(skill, "insights-log@1", "log")
    chain(skill, "camera", "colour", "log")
    return skill


def write_skill(folder: Path, skill: Skill, name: str = "tiny.skill.json") -> Path:
    path = folder / name
    save_skill(skill, path)
    return path
