"""Every graph and settings rule of validate_skill: one skill breaking it, one keeping it.

Each case starts from a clean cascade (camera -> detector -> filter -> IoT Hub)
and changes one thing, so the problem found is the one the rule is about.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import onnxruntime as ort
import pytest
from onnx_factory import blob_detector, color_classifier, write_labels

import designer.core.skill.compiled as compiled_module
import designer.core.skill.validate as validate_module
from designer.core.models.library import ModelLibrary
from designer.core.models.registry import REGISTRY_NAME
from designer.core.skill import Severity, Skill, Tag, has_errors, validate_skill
from designer.core.skill.build import add_node, connect
from designer.core.skill.catalog import SPECS
from designer.core.skill.document import Node
from designer.core.skill.files import load_skill, save_skill

from .helpers import VALID_PARAMS, ModelSummary, ModelTable, cascade, codes

CATALOG_MODULES = {importlib.import_module(spec.params.__module__) for spec in SPECS}


def _node(skill: Skill, node_id: str) -> Node:
    node = skill.node(node_id)
    assert node is not None
    return node


def _set(**settings):
    def change(skill: Skill) -> None:
        for key, value in settings.items():
            setattr(skill.settings, key, value)

    return change


def _tags(*names: str):
    return _set(tags=[Tag(name=name, value="v") for name in names])


def _extra(where: str):
    def change(skill: Skill) -> None:
        target = {
            "skill": skill,
            "settings": skill.settings,
            "node": _node(skill, "filter"),
            "edge": skill.edges[0],
            "port": skill.edges[0].target,
            "tag": skill.settings.tags[0] if skill.settings.tags else None,
            "layout": skill.layout,
            "position": skill.layout.nodes["filter"],
        }[where]
        if target is None:
            skill.settings.tags = [Tag(name="site", value="1", colour="red")]
            return
        target.__pydantic_extra__["colour"] = "red"

    return change


def _param(node_id: str, **params):
    def change(skill: Skill) -> None:
        _node(skill, node_id).params.update(params)

    return change


def _rename(old: str, new: str):
    def change(skill: Skill) -> None:
        _node(skill, old).id = new
        for edge in skill.edges:
            for ref in (edge.source, edge.target):
                if ref.node == old:
                    ref.node = new

    return change


def _add(type_id: str, node_id: str, parent: str | None = None, child: str | None = None, **params):
    def change(skill: Skill) -> None:
        add_node(skill, type_id, node_id, **{**VALID_PARAMS[type_id], **params})
        if parent:
            connect(skill, parent, node_id)
        if child:
            connect(skill, node_id, child)

    return change


def _link(source: str, target: str, source_port: str = "out", target_port: str = "in"):
    return lambda skill: connect(skill, source, target, source_port, target_port)


def _unlink(source: str, target: str):
    def change(skill: Skill) -> None:
        skill.edges = [e for e in skill.edges if (e.source.node, e.target.node) != (source, target)]

    return change


def _remove(*node_ids: str):
    def change(skill: Skill) -> None:
        skill.nodes = [n for n in skill.nodes if n.id not in node_ids]
        skill.edges = [e for e in skill.edges if not {e.source.node, e.target.node} & set(node_ids)]

    return change


def _steps(*changes):
    def change(skill: Skill) -> None:
        for step in changes:
            step(skill)

    return change


def _duplicate(node_id: str):
    def change(skill: Skill) -> None:
        skill.nodes.append(_node(skill, node_id).model_copy(deep=True))

    return change


def _retype(node_id: str, type_id: str):
    def change(skill: Skill) -> None:
        _node(skill, node_id).type = type_id

    return change


CLASSIFIER = {"model_path": "models/colour.onnx", "model_type": "classification"}

# (case id, change, code, severity, node id, param)
BROKEN = [
    ("blank-name", _set(name="  "), "name-required", "error", None, "name"),
    ("fps-0", _set(fps=0), "fps-range", "error", None, "fps"),
    ("fps-61", _set(fps=61), "fps-range", "error", None, "fps"),
    ("acceleration", _set(acceleration="TPU"), "acceleration-unknown", "error", None, "acceleration"),
    ("tag-blank", _tags("site", " "), "tag-name-empty", "error", None, "tags"),
    ("tag-twice", _tags("site", "site"), "tag-name-duplicate", "error", None, "tags"),
    ("extra-skill", _extra("skill"), "unknown-field", "warning", None, None),
    ("extra-settings", _extra("settings"), "unknown-field", "warning", None, "colour"),
    ("extra-tag", _extra("tag"), "unknown-field", "warning", None, "tags"),
    ("extra-node", _extra("node"), "unknown-field", "warning", "filter", None),
    ("extra-edge", _extra("edge"), "unknown-field", "warning", None, None),
    ("extra-port", _extra("port"), "unknown-field", "warning", None, None),
    ("extra-layout", _extra("layout"), "unknown-field", "warning", None, None),
    ("extra-position", _extra("position"), "unknown-field", "warning", "filter", None),
    ("unknown-param", _param("filter", colour="red"), "unknown-parameter", "warning", "filter", "colour"),
    (
        "bad-param",
        _param("filter", confidence_threshold=101),
        "param-invalid",
        "error",
        "filter",
        "confidence_threshold",
    ),
    ("missing-param", _param("camera", source=None), "param-invalid", "error", "camera", "source"),
    (
        "placeholder",
        _param("filter", confidence_threshold="$param(t)"),
        "placeholder-not-allowed",
        "error",
        "filter",
        "confidence_threshold",
    ),
    ("same-id", _duplicate("filter"), "duplicate-node-id", "error", "filter", None),
    ("id-space", _rename("filter", "my filter"), "node-id-invalid", "error", "my filter", None),
    ("id-long", _rename("filter", "f" * 65), "node-id-invalid", "error", "f" * 65, None),
    ("id-empty", _rename("filter", ""), "node-id-invalid", "error", "", None),
    ("unknown-type", _retype("filter", "teleport@1"), "unknown-node-type", "error", "filter", None),
    ("unknown-version", _retype("filter", "filter@9"), "unknown-node-type", "error", "filter", None),
    ("dangling-target", _link("filter", "ghost"), "edge-dangling", "error", "filter", None),
    ("dangling-both", _link("ghost", "spirit"), "edge-dangling", "error", None, None),
    (
        "bad-out-port",
        _link("detector", "filter", source_port="boxes"),
        "edge-bad-port",
        "error",
        "detector",
        None,
    ),
    ("bad-in-port", _link("camera", "hub", target_port="side"), "edge-bad-port", "error", "hub", None),
    (
        "export-has-no-output",
        _add("insights-log@1", "log", parent=None),
        "edge-bad-port",
        "error",
        "hub",
        None,
    ),
    ("camera-has-no-input", _link("filter", "camera"), "edge-bad-port", "error", "camera", None),
    ("duplicate-link", _link("filter", "hub"), "edge-duplicate", "warning", "hub", None),
    ("self-link", _link("filter", "filter"), "cycle", "error", "filter", None),
    (
        "loop",
        _steps(_unlink("camera", "detector"), _link("filter", "detector")),
        "cycle",
        "error",
        "detector",
        None,
    ),
    ("fan-in", _link("camera", "filter"), "fan-in", "error", "filter", None),
    ("no-camera", _remove("camera"), "no-camera", "error", None, None),
    ("two-cameras", _add("camera@1", "zcam"), "multiple-cameras", "error", "zcam", None),
    (
        "no-process",
        _steps(_remove("detector", "filter"), _link("camera", "hub")),
        "no-process-node",
        "error",
        None,
        None,
    ),
    ("no-export", _remove("hub"), "no-export-node", "error", None, None),
    ("camera-alone", _unlink("camera", "detector"), "camera-unconnected", "error", "camera", None),
    ("process-no-input", _unlink("camera", "detector"), "input-unconnected", "error", "detector", None),
    ("export-no-input", _unlink("filter", "hub"), "input-unconnected", "error", "hub", None),
    ("process-leaf", _unlink("filter", "hub"), "output-unconnected", "error", "filter", None),
    (
        "whole-frame-classifier",
        _steps(_param("detector", **CLASSIFIER)),
        "classifier-on-whole-frame",
        "warning",
        "detector",
        None,
    ),
    (
        "line-without-tracker",
        _steps(
            _add("zone@1", "line", parent="filter", child=None),
            _unlink("filter", "hub"),
            _link("line", "hub"),
        ),
        "zone-needs-tracker",
        "warning",
        "line",
        None,
    ),
    (
        "privacy-mask-without-detector",
        _steps(
            _add("privacy-mask@1", "mask", parent="camera", child=None),
            _add("insights-log@1", "log", parent="mask"),
        ),
        "privacy-mask-needs-boxes",
        "warning",
        "mask",
        None,
    ),
    (
        "container-acceleration",
        _steps(
            _set(acceleration="Nvidia dGPU"),
            _add("grpc-container@1", "counter", parent="filter", child=None),
            _unlink("filter", "hub"),
            _link("counter", "hub"),
        ),
        "acceleration-unsupported",
        "error",
        "counter",
        "acceleration",
    ),
    (
        "two-logs-on-one-file",
        _steps(
            _add("insights-log@1", "log-b", parent="filter", path="./out/insights.jsonl"),
            _add("insights-log@1", "log-a", parent="filter", path="out/insights.jsonl"),
        ),
        "output-file-shared",
        "error",
        "log-b",  # the second by id, whichever was added first
        "path",
    ),
    (
        "log-outside-the-output-folder",
        _add("insights-log@1", "log-out", parent="filter", path="../../etc/insights.jsonl"),
        "output-outside",
        "warning",
        "log-out",
        "path",
    ),
    (
        "camera-scheme",
        _param("camera", source="htp://cam/live"),
        "camera-scheme-unsupported",
        "error",
        "camera",
        "source",
    ),
]

# The "export-has-no-output" case links the export onwards; build it explicitly.
BROKEN = [
    case
    if case[0] != "export-has-no-output"
    else (case[0], _steps(_add("insights-log@1", "log"), _link("hub", "log")), *case[2:])
    for case in BROKEN
]


@pytest.mark.parametrize(
    ("change", "code", "severity", "node_id", "param"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_broken_rule_is_reported_where_it_is(change, code, severity, node_id, param):
    skill = cascade()
    change(skill)
    problems = validate_skill(skill)
    hits = [p for p in problems if p.code == code]
    assert hits, f"{code} not in {[p.code for p in problems]}"
    assert any(p.node_id == node_id and p.param == param for p in hits), hits
    assert all(p.severity == Severity(severity) for p in hits)
    assert all(p.message.strip() for p in hits)
    assert has_errors(problems) == any(p.severity is Severity.ERROR for p in problems)


# (case id, change): the rule's nearest valid skill, which must come out clean.
KEPT = [
    ("clean", lambda skill: None),
    ("fps-1", _set(fps=1)),
    ("fps-60", _set(fps=60)),
    *[
        (f"acceleration-{a}", _set(acceleration=a))
        for a in ("CPU", "Nvidia dGPU", "Intel iGPU", "Nvidia Jetson (Jetpack 5)")
    ],
    ("tags", _tags("site", "line")),
    ("tag-empty-value", _set(tags=[Tag(name="site", value="")])),
    ("id-chars", _rename("filter", "Filter_1.a-b")),
    ("id-64", _rename("filter", "f" * 64)),
    ("fan-out", _add("insights-log@1", "log", parent="filter")),
    ("fan-out-camera", _add("video-snippet@1", "clips", parent="camera")),
    (
        "deep-chain",
        _steps(
            _unlink("filter", "hub"),
            _add("tracker@1", "track", parent="filter"),
            _add("zone@1", "zone", parent="track"),
            _add("grpc-endpoint@1", "grpc", parent="zone", child="hub"),
        ),
    ),
    (
        "detector-then-classifier",
        _steps(
            _unlink("detector", "filter"),
            _add("model@1", "colour", parent="detector", child="filter", **CLASSIFIER),
        ),
    ),
    (
        "grpc-then-classifier",
        _steps(
            _remove("detector"),
            _add("grpc-endpoint@1", "grpc", parent="camera"),
            _add("model@1", "colour", parent="grpc", child="filter", **CLASSIFIER),
        ),
    ),
    (
        "container-acceleration",
        _steps(
            _set(acceleration="Nvidia dGPU"),
            _add("grpc-container@1", "counter", parent="filter", acceleration="Nvidia dGPU"),
            _unlink("filter", "hub"),
            _link("counter", "hub"),
        ),
    ),
    (
        "gRPC-only",
        _steps(_remove("detector", "filter"), _add("grpc-endpoint@1", "grpc", parent="camera", child="hub")),
    ),
    (
        "every-export",
        _steps(
            *[
                _add(t, t.split("@")[0], parent="filter")
                for t in ("video-snippet@1", "iotedge@1", "mqtt@1", "http@1", "insights-log@1")
            ]
        ),
    ),
]


@pytest.mark.parametrize("change", [case[1] for case in KEPT], ids=[case[0] for case in KEPT])
def test_valid_variant_has_no_problems(change):
    skill = cascade()
    change(skill)
    assert validate_skill(skill) == []


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> ModelLibrary:
    """A real model library in a temporary data folder: a detector ``people`` and a
    classifier ``colours`` (tiny ONNX models, inspected and timed when added)."""
    folder = tmp_path_factory.mktemp("library")
    models = ModelLibrary(folder / "data")
    labels = write_labels(folder / "people.txt", ["person"])
    models.add("people", "detection", str(blob_detector(folder / "people.onnx")), str(labels))
    colours = write_labels(folder / "colours.txt", ["red", "green", "blue"])
    models.add("colours", "classification", str(color_classifier(folder / "colours.onnx")), str(colours))
    return models


def test_model_library_rules(library):
    skill = cascade()
    _param("detector", model_path="", model_id="walkers")(skill)
    (problem,) = validate_skill(skill, library)
    assert (problem.code, problem.node_id, problem.param) == ("model-missing", "detector", "model_id")
    assert "models add" in problem.message

    _param("detector", model_id="people")(skill)
    # the people model knows only "person": the filter's "traffic light" would never match
    assert [p.code for p in validate_skill(skill, library)] == ["label-unknown"]
    _param("filter", labels=["person"])(skill)
    assert validate_skill(skill, library) == []
    skill.settings.acceleration = "Intel iGPU"
    # This machine has no OpenVINO provider: the preview falls back to the CPU (a warning),
    # and for the target (export, validate --target) this machine's providers do not matter.
    assert "OpenVINOExecutionProvider" not in ort.get_available_providers()
    (problem,) = validate_skill(skill, library)
    where = (problem.code, problem.severity, problem.node_id, problem.param)
    assert where == ("preview-on-cpu", "warning", "detector", "model_id")
    assert "Intel iGPU" in problem.message
    assert validate_skill(skill, library, target=True) == []


def test_accelerations_the_library_reports_decide_the_acceleration_rules():
    """Stand-ins only for what this machine cannot have: a model runnable on the target's
    provider, and a model runnable on none."""
    skill = cascade()
    _param("detector", model_path="", model_id="people")(skill)
    skill.settings.acceleration = "Intel iGPU"
    assert codes(skill, ModelTable(people=ModelSummary("detection", {"CPU", "Intel iGPU"}))) == []
    (problem,) = validate_skill(skill, ModelTable(people=ModelSummary("detection", set())), target=True)
    assert (problem.code, problem.severity, problem.node_id) == (
        "acceleration-unsupported",
        "error",
        "detector",
    )


def test_library_task_decides_whole_frame_warning(library):
    """With model type "auto", the library says whether the model is a classifier."""
    skill = cascade()
    _param("filter", labels=[])(skill)  # the labels rule: test_upstream_labels.py
    _param("detector", model_path="", model_id="colours")(skill)
    (problem,) = validate_skill(skill, library)
    assert (problem.code, problem.node_id) == ("classifier-on-whole-frame", "detector")
    _param("detector", model_id="people")(skill)
    assert validate_skill(skill, library) == []
    _param("detector", model_id="colours")(skill)
    assert validate_skill(skill) == []  # without a library nothing is known about the model


def test_unknown_node_type_is_kept_and_links_to_it_are_not_dangling():
    skill = cascade()
    add_node(skill, "insights-log@1", "log")
    _node(skill, "log").type = "kan:export/cv2_imshow_export"
    connect(skill, "filter", "log")
    assert codes(skill) == ["unknown-node-type"]
    assert "cannot run" in validate_skill(skill)[0].message


def test_empty_skill_lists_everything_to_add():
    problems = validate_skill(Skill.model_validate({"settings": {}}))
    assert {p.code for p in problems} == {"name-required", "no-camera", "no-process-node", "no-export-node"}


def test_a_broken_model_library_is_a_problem_not_a_crash(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / REGISTRY_NAME).write_text("{ this is not json", encoding="utf-8")
    skill = cascade()
    _param("detector", model_path="", model_id="people")(skill)
    (problem,) = validate_skill(skill, ModelLibrary(data))
    assert (problem.code, problem.node_id, problem.param) == ("model-library-error", "detector", "model_id")
    assert REGISTRY_NAME in problem.message and "not valid" in problem.message


def test_every_emitted_code_has_a_case():
    rules = (validate_module, compiled_module, *CATALOG_MODULES)
    source = "\n".join(Path(module.__file__).read_text(encoding="utf-8") for module in rules)
    emitted = set(re.findall(r'(?:error|warning)\(\s*"([a-z-]+)"', source))
    emitted |= {need.code for spec in SPECS for need in spec.needs()}
    emitted |= set(re.findall(r'"([a-z]+-[a-z-]+)",\s*\)\s*\]', source))  # a cross-check's own code
    tested = {case[2] for case in BROKEN} | {
        "model-missing",
        "acceleration-unsupported",
        "model-library-error",
        "preview-on-cpu",
        "label-unknown",  # test_upstream_labels.py
        "model-form-target",  # tests/core/models/test_optimize.py (validate --target, optimized forms)
    }
    assert emitted, "no codes found: the pattern no longer matches validate.py"
    assert emitted <= tested | {"param-required"}  # param-required: test_param_rules.test_required_fields
    assert tested <= emitted


def _where(problems) -> list[tuple[str, str | None, str | None]]:
    return [(p.code, p.node_id, p.param) for p in problems]


def test_problems_come_in_the_saved_files_order_however_the_nodes_are_listed(tmp_path):
    """The promised order (the GUI diffs problem lists between edits, and people read them
    against the file): settings first, then each node's problems by node id, as the saved file
    lists the nodes, then links by their endpoints, then graph-wide problems by node id. The
    same graph gives the same list however its nodes and links are listed, before and after
    a save."""
    skill = cascade()
    for change in (
        _link("camera", "filter"),  # graph-wide: fan-in at the filter
        _rename("hub", "bad id"),
        _param("detector", confidence_threshold=300),
        _param("filter", min_confidence=-5),
    ):
        change(skill)
    skill.settings.fps = 0
    expected = [
        ("fps-range", None, "fps"),
        ("node-id-invalid", "bad id", None),
        ("param-invalid", "detector", "confidence_threshold"),
        ("unknown-parameter", "filter", "min_confidence"),
        ("fan-in", "filter", None),
    ]
    problems = validate_skill(skill)
    assert _where(problems) == expected
    save_skill(skill, tmp_path / "broken.skill.json")
    assert validate_skill(load_skill(tmp_path / "broken.skill.json")) == problems
    skill.nodes.reverse()  # the same graph, listed in another order
    skill.edges.reverse()
    assert validate_skill(skill) == problems


def test_placeholder_values_do_not_hide_the_node_level_checks():
    """A container whose image is a deployment parameter is still checked against the acceleration."""
    skill = cascade()
    for change in (
        _set(acceleration="Nvidia dGPU"),
        _add("grpc-container@1", "counter", parent="filter", container_image="$param(image)"),
        _unlink("filter", "hub"),
        _link("counter", "hub"),
    ):
        change(skill)
    problems = validate_skill(skill)
    assert [(p.code, p.node_id) for p in problems] == [("acceleration-unsupported", "counter")]
    _param("counter", acceleration="Nvidia dGPU", container_image="$param(registry)/counter:$param(tag)")(
        skill
    )
    assert validate_skill(skill) == []
