"""KAN Skill resources in and out, on resources written by hand from the KAN field list."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from designer.core.skill import SPECS, Severity, dump_skill, get_spec, validate_skill
from designer.core.skill import kan as kan_module
from designer.core.skill.build import add_node, chain, connect
from designer.core.skill.kan import (
    KanError,
    dump_kan,
    export_kan,
    import_kan,
    load_kan_text,
    parse_kan_labels,
)

from .helpers import VALID_PARAMS, cascade

DATA = Path(__file__).resolve().parents[2] / "data" / "kan"


def load(name: str):
    text = (DATA / name).read_text(encoding="utf-8")
    return import_kan(load_kan_text(text, name))


def params(skill, node_id: str) -> dict:
    return skill.node(node_id).params


# --- import ---------------------------------------------------------------------------------------


def test_tutorial_cascade_imports_every_field():
    skill, report = load("tutorial-cascade.yaml")
    s = skill.settings
    assert (s.name, s.fps, s.acceleration) == ("Vehicle colours at the gate", 10, "Intel iGPU")
    assert [(t.name, t.value) for t in s.tags] == [("site", "harbour"), ("team", "vision")]
    assert {n.id: n.type for n in skill.nodes} == {
        "0": "camera@1",
        "1": "model@1",
        "2": "model@1",
        "3": "filter@1",
        "4": "iothub@1",
        "5": "video-snippet@1",
    }
    assert params(skill, "0")["source"] == "$param(rtsp)"
    assert params(skill, "1")["model_id"] == "pedestrian-and-vehicle-detector"
    assert params(skill, "2")["model_id"] == "vehicle-attributes-recognition"
    assert params(skill, "3")["labels"] == ["vehicle"]
    assert params(skill, "3")["confidence_threshold"] == 60
    assert params(skill, "4")["delay_buffer_s"] == 30
    snippet = params(skill, "5")
    assert snippet["filename_prefix"] == "gate-vehicles"
    assert snippet["duration_s"] == 20
    assert snippet["insights_overlay"] is True
    assert snippet["delay_buffer_s"] == 120  # 2 minutes in KAN, seconds here
    assert sorted(e.key() for e in skill.edges) == [
        ("0", "out", "1", "in"),
        ("1", "out", "2", "in"),
        ("2", "out", "3", "in"),
        ("3", "out", "4", "in"),
        ("3", "out", "5", "in"),
    ]
    assert set(skill.layout.nodes) == {n.id for n in skill.nodes}
    assert validate_skill(skill) == []
    notes = " ".join(report.notes)
    assert "node 5" in notes and "2 min" in notes and "seconds" in notes
    assert "deployment parameters" in notes and "rtsp" in notes and "--param" in notes


def test_grpc_and_endpoint_exports_import_from_tab_indented_json():
    skill, report = load("grpc-exports.json")
    assert (skill.settings.fps, skill.settings.acceleration) == (30, "Nvidia dGPU")
    assert [(t.name, t.value) for t in skill.settings.tags] == [("line", "3")]
    container = params(skill, "counter")
    assert skill.node("counter").type == "grpc-container@1"
    assert container["container_name"] == "counter"
    assert container["container_image"] == "myregistry.azurecr.io/counter:1.0"
    assert json.loads(container["create_options"]) == {
        "HostConfig": {"PortBindings": {"5001/tcp": [{"HostPort": "5001"}]}}
    }
    assert (container["restart_policy"], container["port"], container["route"]) == ("on-failure", 5001, "")
    # KAN never stored constraints: they follow the skill, so the import validates.
    assert (container["architecture"], container["acceleration"]) == ("X64", "Nvidia dGPU")
    assert skill.node("enrich").type == "grpc-endpoint@1"
    assert params(skill, "enrich")["endpoint_url"] == "10.1.2.3:6677"
    assert (params(skill, "keep")["labels"], params(skill, "keep")["confidence_threshold"]) == (
        ["person"],
        45,
    )
    assert params(skill, "mqtt")["broker_address"] == "mqtt.default.svc.cluster.local:1883"
    assert params(skill, "mqtt")["delay_buffer_s"] == 15
    assert params(skill, "web")["url"] == "http://10.0.0.5:8080/insights"
    edge = params(skill, "edge")
    assert (edge["module_name"], edge["module_input"], edge["delay_buffer_s"]) == (
        "analytics",
        "insights",
        10,
    )
    assert validate_skill(skill) == []
    assert any("node counter" in n and "environment variables" in n for n in report.notes)


def test_container_on_jetson_gets_arm64():
    text = (
        (DATA / "grpc-exports.json")
        .read_text(encoding="utf-8")
        .replace("Nvidia dGPU", "Nvidia Jetson (Jetpack 5)")
    )
    skill, _ = import_kan(load_kan_text(text))
    assert (params(skill, "counter")["architecture"], params(skill, "counter")["acceleration"]) == (
        "ARM64",
        "Nvidia Jetson (Jetpack 5)",
    )
    assert validate_skill(skill) == []


def test_odd_labels_unknown_nodes_and_bad_values_are_kept_visible():
    skill, report = load("odd-labels.yaml")
    assert params(skill, "python-style")["labels"] == ["person", "traffic light"]
    assert params(skill, "python-style")["confidence_threshold"] == 45
    assert params(skill, "yaml-list")["labels"] == ["fire hydrant", "stop sign"]
    assert params(skill, "plain-text")["labels"] == ["car", "bus"]
    window = skill.node("window")
    assert window.type == "kan:export/cv2_imshow_export"
    assert window.params == {"insights_overlay": "true"}
    problems = {(p.code, p.node_id, p.param, p.severity) for p in validate_skill(skill)}
    assert problems == {
        ("unknown-node-type", "window", None, Severity.ERROR),
        ("param-invalid", "plain-text", "confidence_threshold", Severity.ERROR),  # 250 %
    }
    notes = "\n".join(report.notes)
    assert "node window" in notes and "cv2_imshow_export" in notes
    assert "node detector" in notes and "retraining" in notes


PAYLOADS = [  # (labels text, the labels it must give: not a list literal, so text split at commas)
    ("__import__('os').system('touch {marker}')", ["__import__('os').system('touch {marker}')"]),
    ("[__import__('os').system('touch {marker}')]", ["[__import__('os').system('touch {marker}')]"]),
    ("open('{marker}', 'w').write('x')", ["open('{marker}'", "'w').write('x')"]),
    ("exec(\"open('{marker}', 'w')\")", ["exec(\"open('{marker}'", "'w')\")"]),
]


@pytest.mark.parametrize(("payload", "expected"), PAYLOADS)
def test_label_payloads_are_text_never_executed(tmp_path: Path, payload: str, expected: list[str]):
    marker = tmp_path / "executed"
    resource = _resource([_filter("f", payload.format(marker=marker))])
    skill, _ = import_kan(load_kan_text(json.dumps(resource)))
    assert not marker.exists()
    assert params(skill, "f")["labels"] == [label.format(marker=marker) for label in expected]


@pytest.mark.parametrize(
    ("text", "labels"),
    [
        ('["person", "traffic light"]', ["person", "traffic light"]),
        ("['person', 'traffic light']", ["person", "traffic light"]),
        ("('car', 'bus')", ["car", "bus"]),
        ("car, bus , ", ["car", "bus"]),
        ('"person"', ["person"]),
        ("person", ["person"]),
        ("", []),
        ("[]", []),
        ('[" ", "x"]', ["x"]),
        ("[" * 5000 + "]" * 5000, ["[" * 5000 + "]" * 5000]),
    ],
    ids=lambda v: str(v)[:20],
)
def test_parse_kan_labels(text, labels):
    assert parse_kan_labels(text) == labels


def _resource(nodes, edges=(), **spec):
    return {
        "apiVersion": "ai.symphony/v1",
        "kind": "Skill",
        "metadata": {"name": "s"},
        "spec": {"displayName": "s", "nodes": list(nodes), "edges": list(edges), **spec},
    }


def _filter(node_id: str, labels: str) -> dict:
    return {
        "id": node_id,
        "type": "transform",
        "name": "filter_transform",
        "configurations": {"labels": labels, "confidence_threshold": "0"},
    }


def test_settings_fall_back_with_a_note():
    resource = _resource([], parameters={"fpsRetrieve": "nan", "accelerationRetrieve": "-"})
    skill, report = import_kan(load_kan_text(json.dumps(resource)))
    assert (skill.settings.fps, skill.settings.acceleration) == (15, "CPU")
    assert any("acceleration '-'" in n for n in report.notes)


def test_edges_to_missing_nodes_and_malformed_edges_are_reported():
    edges = [
        {"source": {"node": "f", "route": "f"}, "target": {"node": "ghost", "route": "f"}},
        {"source": "f"},
        "nonsense",
    ]
    skill, report = import_kan(load_kan_text(json.dumps(_resource([_filter("f", "[]")], edges))))
    assert [e.key() for e in skill.edges] == [("f", "out", "ghost", "in")]
    notes = "\n".join(report.notes)
    assert "missing node ghost" in notes
    assert notes.count("skipped") == 2
    dangling = [(p.code, p.node_id) for p in validate_skill(skill) if p.code == "edge-dangling"]
    assert dangling == [("edge-dangling", "f")]  # the one link kept, located at its known end


BROKEN = [
    ("kind: Deployment\napiVersion: apps/v1\n", "not a KAN Skill resource"),
    ("apiVersion: v2\nkind: Skill\nspec: {}\n", "apiVersion 'v2' is not ai.symphony/v1"),
    ("apiVersion: ai.symphony/v1\nkind: Skill\n", "has no spec"),
    ("", "not a KAN Skill resource"),
    ("- just\n- a list\n", "not a KAN Skill resource"),
    ('{"apiVersion": "ai.symphony/v1",\n "kind": "Skill", "spec": {,}}', "src:2:28: not valid JSON"),
    ("apiVersion: ai.symphony/v1\nkind: Skill\nspec: {nodes: 5}\n", "spec.nodes must be a list, not int"),
    ("apiVersion: ai.symphony/v1\nkind: Skill\nspec: {edges: {a: 1}}\n", "spec.edges must be a list"),
    ("apiVersion: ai.symphony/v1\nkind: Skill\nspec: {nodes: [x]}\n", "spec.nodes[0] must be a mapping"),
    (
        "apiVersion: ai.symphony/v1\nkind: Skill\nspec: {nodes: [{id: a, configurations: [1]}]}\n",
        "spec.nodes[0].configurations must be a mapping",
    ),
    (
        "apiVersion: ai.symphony/v1\nkind: Skill\nspec: {parameters: [1]}\n",
        "spec.parameters must be a mapping",
    ),
    ("apiVersion: ai.symphony/v1\nkind: Skill\nmetadata: x\nspec: {}\n", "metadata must be a mapping"),
    (
        "apiVersion: ai.symphony/v1\nkind: Skill\nmetadata: {labels: [a]}\nspec: {}\n",
        "metadata.labels must be a mapping",
    ),
]


@pytest.mark.parametrize(("text", "words"), BROKEN, ids=lambda v: v[:30])
def test_broken_resources_are_refused_with_the_place(text, words):
    with pytest.raises(KanError) as caught:
        load_kan_text(text, "src")
    assert words in str(caught.value)
    assert str(caught.value).startswith("src")


def test_broken_yaml_file_names_line_and_column():
    with pytest.raises(KanError) as caught:
        load("broken.yaml")
    assert str(caught.value).startswith("broken.yaml:10:")
    assert "not valid YAML" in str(caught.value)


def test_yaml_alias_bomb_is_refused():
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"{b}: &{b} [{', '.join([f'*{a}'] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
    text = "\n".join(levels) + "\napiVersion: ai.symphony/v1\nkind: Skill\nspec: {nodes: [{labels: *i}]}\n"
    with pytest.raises(KanError, match=r"bomb.yaml:2:\d+: .*aliases"):
        load_kan_text(text, "bomb.yaml")


def test_oversized_resource_is_refused():
    with pytest.raises(KanError, match="too large"):
        load_kan_text("#" * (6 * 1024 * 1024), "big.yaml")


# --- export ---------------------------------------------------------------------------------------


def _assert_kan_shape(resource: dict) -> None:
    assert resource["apiVersion"] == "ai.symphony/v1" and resource["kind"] == "Skill"
    spec = resource["spec"]
    ids = {node["id"] for node in spec["nodes"]}
    for node in spec["nodes"]:
        assert set(node) == {"id", "type", "name", "configurations"}
        assert node["type"] in {"source", "model", "transform", "export"}
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in node["configurations"].items())
    for edge in spec["edges"]:
        assert edge["source"]["route"] == edge["target"]["route"] == "f"
        assert {edge["source"]["node"], edge["target"]["node"]} <= ids
    assert all(isinstance(v, str) for v in spec["parameters"].values())


def test_tutorial_exports_back_to_the_kan_shape_and_reimports_the_same():
    skill, _ = load("tutorial-cascade.yaml")
    resource, report = export_kan(skill)
    _assert_kan_shape(resource)
    spec = resource["spec"]
    assert spec["displayName"] == "Vehicle colours at the gate"
    assert resource["metadata"]["labels"] == {"site": "harbour", "team": "vision"}
    by_id = {node["id"]: node for node in spec["nodes"]}
    assert (by_id["0"]["type"], by_id["0"]["name"]) == ("source", "rtsp")
    assert by_id["0"]["configurations"]["ip"] == "$param(rtsp)"
    assert by_id["1"]["name"] == "pedestrian-and-vehicle-detector"
    assert json.loads(by_id["3"]["configurations"]["labels"]) == ["vehicle"]
    assert by_id["3"]["configurations"]["confidence_threshold"] == "60"
    snippet = by_id["5"]["configurations"]
    assert (snippet["delay_buffer"], snippet["recording_duration"], snippet["insights_overlay"]) == (
        "2",
        "20",
        "true",
    )
    assert spec["parameters"]["fpsRetrieve"] == "10"
    assert spec["parameters"]["accelerationRetrieve"] == "Intel iGPU"
    assert spec["parameters"]["rtsp"] == "invalid"
    assert report.notes == []

    again, _ = import_kan(load_kan_text(dump_kan(resource)))
    assert [(n.id, n.type, n.params) for n in again.nodes] == [(n.id, n.type, n.params) for n in skill.nodes]
    assert sorted(e.key() for e in again.edges) == sorted(e.key() for e in skill.edges)
    assert again.settings == skill.settings


def test_grpc_and_unknown_kan_nodes_export_as_themselves():
    for name in ("grpc-exports.json", "odd-labels.yaml"):
        skill, _ = load(name)
        resource, _ = export_kan(skill)
        _assert_kan_shape(resource)
        again, _ = import_kan(load_kan_text(dump_kan(resource)))
        assert [(n.id, n.type, n.params) for n in again.nodes] == [
            (n.id, n.type, n.params) for n in skill.nodes
        ]
    by_id = {node["id"]: node for node in resource["spec"]["nodes"]}
    assert by_id["window"] == {
        "id": "window",
        "type": "export",
        "name": "cv2_imshow_export",
        "configurations": {"insights_overlay": "true"},
    }
    assert json.loads(by_id["python-style"]["configurations"]["labels"]) == ["person", "traffic light"]


def test_container_export_builds_the_endpoint_url():
    skill, _ = load("grpc-exports.json")
    params(skill, "counter")["route"] = "/grpc"
    resource, report = export_kan(skill)
    config = next(n for n in resource["spec"]["nodes"] if n["id"] == "counter")["configurations"]
    assert config["type"] == "container"
    assert config["endpoint_url"] == "counter:5001/grpc"
    assert config["port"] == "5001"
    assert any("node counter" in n and "constraints" in n for n in report.notes)


def test_nodes_kan_cannot_express_are_reported_and_bridged():
    skill = cascade()
    skill.edges = [e for e in skill.edges if e.target.node != "filter"]
    add_node(skill, "tracker@1", "track")
    add_node(skill, "zone@1", "zone")
    chain(skill, "detector", "track", "zone", "filter")
    add_node(skill, "insights-log@1", "log")
    connect(skill, "filter", "log")
    assert validate_skill(skill) == []

    resource, report = export_kan(skill)
    _assert_kan_shape(resource)
    spec = resource["spec"]
    assert {n["id"] for n in spec["nodes"]} == {"camera", "detector", "filter", "hub"}
    edges = sorted((e["source"]["node"], e["target"]["node"]) for e in spec["edges"])
    assert edges == [("camera", "detector"), ("detector", "filter"), ("filter", "hub")]
    notes = "\n".join(report.notes)
    for node_id in ("track", "zone", "log"):
        assert f"node {node_id} " in notes
    assert "cannot be expressed in KAN" in notes


def test_export_leaves_secrets_out_and_declares_placeholders():
    skill = cascade()
    params(skill, "camera").update(source="rtsp://cam.local/1", password="hunter2")
    params(skill, "hub")["connection_string"] = "HostName=x;SharedAccessKey=topsecret"
    add_node(skill, "mqtt@1", "mqtt", broker_address="$param(broker):1883", password="pa55word")
    add_node(skill, "grpc-endpoint@1", "grpc", endpoint_url="$param(grpc_host):6677")
    connect(skill, "filter", "mqtt")
    text = dump_kan(export_kan(skill)[0])
    for secret in ("hunter2", "topsecret", "pa55word", "rtsp://cam.local/1"):
        assert secret not in text
    resource, report = export_kan(skill)
    parameters = resource["spec"]["parameters"]
    standard = {"rtsp", "fps", "instance_displayname", "skill_displayname", "device_displayname", "device_id"}
    assert parameters == {
        **{name: "invalid" for name in standard | {"broker", "grpc_host"}},
        "fpsRetrieve": "15",
        "accelerationRetrieve": "CPU",
    }
    configs = {n["id"]: n["configurations"] for n in resource["spec"]["nodes"]}
    assert configs["camera"]["ip"] == "$param(rtsp)"
    assert configs["mqtt"] == {"broker_address": "$param(broker):1883", "delay_buffer": "30.0"}
    assert configs["hub"] == {"delay_buffer": "30.0"}
    assert any("node camera" in n and "rtsp" in n for n in report.notes)


def test_export_survives_values_it_cannot_read():
    skill = cascade()
    add_node(skill, "video-snippet@1", "clips", **VALID_PARAMS["video-snippet@1"], delay_buffer_s="soon")
    connect(skill, "filter", "clips")
    resource, _ = export_kan(skill)
    config = next(n for n in resource["spec"]["nodes"] if n["id"] == "clips")["configurations"]
    assert config["delay_buffer"] == "2"


def test_dump_kan_is_yaml_that_loads_back():
    resource, _ = export_kan(cascade("Gate, north"))
    loaded = load_kan_text(dump_kan(resource))
    assert loaded == resource
    assert yaml.safe_load(dump_kan(resource))["spec"]["displayName"] == "Gate, north"
    assert resource["metadata"]["name"] == "gate-north"  # a valid Kubernetes name, the package's id


def test_export_reports_the_rules_kan_would_refuse_the_skill_for():
    from designer.core.skill.build import minimal_skill

    _, report = export_kan(minimal_skill("log only", source="$param(rtsp)"))
    text = "\n".join(report.notes)
    assert '"At least one model node"' in text
    assert '"At least one Export Node needed"' in text  # the Insights Log has no KAN equivalent
    assert '"Graph should be connected" (node filter-1)' in text


def test_import_never_copies_camera_credentials_into_the_skill():
    resource = {
        "apiVersion": "ai.symphony/v1",
        "kind": "Skill",
        "spec": {
            "displayName": "cam",
            "nodes": [
                {
                    "id": "0",
                    "type": "source",
                    "name": "rtsp",
                    "configurations": {"ip": "rtsp://admin:hunter2@10.0.0.7:554/live"},
                }
            ],
            "edges": [],
        },
    }
    skill, report = import_kan(resource)
    assert skill.nodes[0].params["source"] == "$param(rtsp)"
    assert "hunter2" not in dump_skill(skill)
    assert any("credentials" in note for note in report.notes)


# --- codecs: one per node type on its spec, the walk generic ------------------------------------


def _one_node_export(spec, node_id: str = "it"):
    """A valid cascade plus one node of ``spec`` after its filter, exported to KAN."""
    skill = cascade()
    add_node(skill, spec.type_id, node_id, **VALID_PARAMS.get(spec.type_id, {}))
    if spec.inputs:
        connect(skill, "filter", node_id)
    return export_kan(skill)


@pytest.mark.parametrize("spec", SPECS, ids=lambda spec: spec.type_id)
def test_every_node_type_has_a_codec_or_is_a_warning_on_export(spec):
    resource, report = _one_node_export(spec)
    by_id = {node["id"]: node for node in resource["spec"]["nodes"]}
    if spec.kan is not None:
        assert by_id["it"]["type"] == spec.role
        assert not any("node it " in w for w in report.warnings)
    else:
        assert "it" not in by_id
        (warning,) = [w for w in report.warnings if w.startswith("node it ")]
        assert f"({spec.type_id}) cannot be expressed in KAN" in warning
        assert warning in report.notes  # the package exporter and the designer list every note


@pytest.mark.parametrize("spec", [s for s in SPECS if s.kan is not None], ids=lambda spec: spec.type_id)
def test_each_codec_round_trips_import_and_export(spec):
    resource, _ = _one_node_export(spec)
    (written,) = [node for node in resource["spec"]["nodes"] if node["id"] == "it"]
    # exactly one node type claims what this codec writes (gRPC: one KAN name, two of our types)
    readers = [
        s
        for s in SPECS
        if s.kan is not None
        and s.role == written["type"]
        and s.kan.reads(written["name"], written["configurations"])
    ]
    assert readers == [spec]
    # import -> export gives KAN the same node back
    skill, _ = import_kan(load_kan_text(dump_kan(resource)))
    assert skill.node("it").type == spec.type_id
    assert set(skill.node("it").params) >= set(spec.defaults())  # what KAN does not store keeps its default
    again, _ = export_kan(skill)
    assert again["spec"]["nodes"] == resource["spec"]["nodes"]


def test_grpc_nodes_share_one_kan_name_and_the_configuration_decides():
    codecs = {s.type_id: s.kan for s in SPECS if s.kan is not None and s.kan.name == "grpc_transform"}
    assert set(codecs) == {"grpc-endpoint@1", "grpc-container@1"}
    for config, type_id in (
        ({"type": "container"}, "grpc-container@1"),
        ({"type": "endpoint"}, "grpc-endpoint@1"),
        ({}, "grpc-endpoint@1"),
    ):
        assert [t for t, codec in codecs.items() if codec.reads("grpc_transform", config)] == [type_id]


def test_imported_parameters_kan_does_not_state_keep_the_spec_defaults():
    node = {"id": "hub", "type": "export", "name": "iothub_export", "configurations": {}}
    skill, _ = import_kan(load_kan_text(json.dumps(_resource([node]))))
    assert skill.node("hub").params == get_spec("iothub@1").defaults()


def test_the_kan_walk_names_no_node_type():
    """kan.py holds only the generic walk: node types and their KAN names live on the specs."""
    source = Path(kan_module.__file__).read_text(encoding="utf-8")
    literals = {
        n.value
        for n in ast.walk(ast.parse(source))
        if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }
    names = (
        {s.kind for s in SPECS}
        | {s.type_id for s in SPECS}
        | {s.kan.name for s in SPECS if s.kan and s.kan.name}
    )
    assert not literals & names


def test_export_kan_prints_left_out_nodes_and_refusals_as_warnings(tmp_path: Path, capsys):
    from designer.cli import main
    from designer.core.skill import save_skill
    from designer.core.skill.build import minimal_skill

    save_skill(minimal_skill("log only"), tmp_path / "s.skill.json")
    # KAN's portal refuses this skill (no model, no export KAN knows): said, and nothing written.
    assert main(["export-kan", str(tmp_path / "s.skill.json"), "-o", str(tmp_path / "s.yaml")]) == 1
    err = capsys.readouterr().err
    assert "warning: node insights-log-1 (insights-log@1) cannot be expressed in KAN" in err
    assert 'error: KAN refuses this skill: "At least one model node" (KAN needs a Run ML Model node).' in err
    assert "note: node camera-1: the camera source becomes the deployment parameter rtsp." in err
    assert "not exported: KAN would refuse or could not run it" in err
    assert not (tmp_path / "s.yaml").exists()
    args = ["export-kan", "--json", str(tmp_path / "s.skill.json"), "-o", str(tmp_path / "s.yaml")]
    assert main(args) == 1
    report = json.loads(capsys.readouterr().out)
    assert set(report["refused"]) <= set(report["warnings"]) < set(report["notes"])
    assert any("insights-log@1" in w for w in report["warnings"])
