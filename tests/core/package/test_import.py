"""Importing a package: an editable skill, its models in the library with the settings they had."""

from __future__ import annotations

import json

from designer.core.models.library import ModelLibrary
from designer.core.package import export_package, import_package
from designer.core.skill import load_skill, validate_skill
from designer.core.skill.build import add_node, chain

from .pkg_helpers import CLASSIFIER, CLASSIFIER_LABELS, tiny_skill, write_skill


def library_skill():
    skill = tiny_skill(source="0")
    skill.nodes = [n for n in skill.nodes if n.id != "colour"]
    skill.edges.clear()
    add_node(skill, "model@1", "colour", model_id="bgr-colours")
    chain(skill, "camera", "colour", "log")
    return skill


def test_a_library_model_travels_with_its_settings_and_comes_back(skill_dir, tmp_path):
    designer_lib = ModelLibrary(tmp_path / "designer-data")
    designer_lib.add(
        "BGR colours", "classification", CLASSIFIER, CLASSIFIER_LABELS, preprocess={"color": "BGR"}
    )
    skill_path = write_skill(skill_dir, library_skill())
    out = tmp_path / "lib.zip"
    export_package(load_skill(skill_path), skill_path, out, library=designer_lib)

    # Another machine, another library.
    other = ModelLibrary(tmp_path / "other-data")
    path, report = import_package(out, tmp_path / "imported", other)
    assert path == tmp_path / "imported" / "tiny-colours" / "tiny-colours.skill.json"
    assert report.models_added == ["bgr-colours"] and report.models_reused == []
    entry = other.get("bgr-colours")
    assert entry.overrides.preprocess == {"color": "BGR"} and entry.info.preprocess.color == "BGR"
    skill = load_skill(path)
    node = skill.node("colour")
    assert node.params["model_id"] == "bgr-colours" and node.params["model_path"] == ""
    assert [p for p in validate_skill(skill, other) if p.is_error] == []
    packaged = json.loads((path.parent / "skill.json").read_text())
    colour = next(n for n in packaged["nodes"] if n["id"] == "colour")
    assert colour["params"]["color_order"] == "BGR"  # stated in the skill: no library needed on the device

    # A second import finds the model already there (by content) and opens a new folder.
    path2, report2 = import_package(out, tmp_path / "imported", other)
    assert report2.models_reused == ["bgr-colours"] and report2.models_added == []
    assert path2.parent.name == "tiny-colours-2"
    assert [e.id for e in other.list()] == ["bgr-colours"]
