"""A Filter, Zone or Privacy Mask set to a label no model upstream has matches nothing, silently:
it is a located warning, with the closest real label suggested (issue 19, item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from designer.core.models.library import BUNDLED_ID, ModelLibrary
from designer.core.skill import Settings, Skill, compile_skill, save_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.catalog import SPECS
from designer.core.skill.fields import Mark


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> ModelLibrary:
    library = ModelLibrary(tmp_path_factory.mktemp("library"))
    library.ensure_bundled_sample()
    return library


def _skill(labels: list[str], *, model: dict | None = None, between: tuple[str, ...] = ()) -> Skill:
    skill = Skill(settings=Settings(name="Labels"))
    camera = add_node(skill, "camera@1", "camera", source="clip.mp4").id
    detector = add_node(skill, "model@1", "detector", **(model or {"model_id": BUNDLED_ID})).id
    middle = [add_node(skill, type_id).id for type_id in between]
    keep = add_node(skill, "filter@1", "keep", labels=labels).id
    log = add_node(skill, "insights-log@1", "log").id
    chain(skill, camera, detector, *middle, keep, log)
    return skill


def _label_warnings(skill: Skill, library: ModelLibrary) -> list:
    return [p for p in compile_skill(skill, library).problems if p.code == "label-unknown"]


def test_a_misspelt_label_is_a_warning_naming_the_closest_label(library):
    compiled = compile_skill(_skill(["person", "Persn"]), library)
    [problem] = [p for p in compiled.problems if p.code == "label-unknown"]
    assert not problem.is_error
    assert (problem.node_id, problem.param) == ("keep", "labels")
    assert "'Persn'" in problem.message and "did you mean 'person'" in problem.message
    assert problem.message[0].isupper()
    # the form offers the same labels, in the model's class order
    assert compiled.nodes["keep"].upstream_labels[:3] == ("person", "bicycle", "car")


def test_known_labels_and_labels_past_a_tracker_are_fine(library):
    assert _label_warnings(_skill(["person", "car"]), library) == []
    assert _label_warnings(_skill(["person"], between=("tracker@1",)), library) == []
    assert len(_label_warnings(_skill(["forklift"], between=("tracker@1",)), library)) == 1


def test_no_warning_when_the_labels_cannot_be_known(library, tmp_path):
    # a model named by file, and a custom gRPC server, may have any labels
    onnx = tmp_path / "m.onnx"
    assert _label_warnings(_skill(["forklift"], model={"model_path": str(onnx)}), library) == []
    assert _label_warnings(_skill(["forklift"], between=("grpc-endpoint@1",)), library) == []
    assert _label_warnings(_skill(["forklift"]), None) == []  # validated without the library


def test_every_labels_field_is_checked_by_its_marker_not_by_node_type():
    marked = {spec.type_id for spec in SPECS if "labels" in spec.fields_marked(Mark.LABELS)}
    assert {"filter@1", "zone@1", "privacy-mask@1"} <= marked


def test_validate_prints_the_warning(library, tmp_path):
    path = tmp_path / "typo.skill.json"
    save_skill(_skill(["Persn"]), path)
    out = subprocess.run(
        [sys.executable, "-m", "designer.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"SKILL_DESIGNER_DATA": str(library.data), "PATH": "/usr/bin:/bin"},
        cwd=Path(__file__).resolve().parents[3],
    )
    assert "Persn" in out.stdout + out.stderr and "person" in out.stdout + out.stderr, out
