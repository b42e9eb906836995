"""The package is a list of parts reading the compiled skill; node types add to deployments
through their spec's deploy hook, never through names the package knows."""

from __future__ import annotations

import dataclasses
import json
import re
import zipfile
from pathlib import Path

from designer.core.models.library import ModelLibrary
from designer.core.package import export, export_package
from designer.core.package.parts import PARTS, PartOutput
from designer.core.package.parts import manifest as manifest_part
from designer.core.skill import load_skill
from designer.core.skill.build import add_node, chain, connect
from designer.core.skill.catalog import CATALOG

from .pkg_helpers import CLASSIFIER, CLASSIFIER_LABELS, tiny_skill, write_skill

PACKAGE = Path(export.__file__).parent


def _files(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_the_package_code_names_no_node_type():
    kinds = {spec.kind for spec in CATALOG.values()}
    for source in sorted(PACKAGE.rglob("*.py")):
        text = source.read_text(encoding="utf-8")
        assert not re.search(r"\.kind\b", text), f"{source.name} compares a node kind"
        for kind in kinds - {"model"}:  # "model" is also a folder and file name in packages
            assert f'"{kind}"' not in text and f'"{kind}@' not in text, f"{source.name} names {kind}"
        assert "model@" not in text and "json_schema_extra" not in text and "model_construct" not in text


def test_a_new_target_is_one_part_and_the_manifest_lists_it(skill_dir, tmp_path, monkeypatch):
    def fleet_part(compiled, context):
        names = sorted(compiled.nodes)
        return PartOutput(
            {"deploy/fleet/nodes.txt": "\n".join(names).encode()}, ["fleet: hello"], ["no zones"]
        )

    assert PARTS[-1] is manifest_part.part
    monkeypatch.setattr(export, "PARTS", (*PARTS[:-1], fleet_part, PARTS[-1]))
    skill_path = write_skill(skill_dir, tiny_skill())
    out = tmp_path / "t.zip"
    report = export_package(load_skill(skill_path), skill_path, out, defaults={"rtsp": "rtsp://cam/1"})
    files = _files(out)
    assert files["deploy/fleet/nodes.txt"] == b"camera\ncolour\nlog"
    assert "deploy/fleet/nodes.txt" in json.loads(files["manifest.json"])["files"]
    assert "fleet: hello" in report.warnings and "no zones" in report.kan_notes


def test_a_node_type_deploys_a_container_and_a_route_through_its_hook(skill_dir, tmp_path, monkeypatch):
    def hook(node):
        return {
            "container": {
                "name": "broker",
                "image": "eclipse-mosquitto:2",
                "port": 1883,
                "restart_policy": "always",
                "create_options": "",
                "env": [("TOPIC", node.params.topic)],
                "acceleration": "CPU",
                "architecture": "X64",
                "env_param": "no-such-parameter",
                "endpoint_param": "broker_address",
            },
            "route": {"name": f"{node.id}ToUpstream", "output": "mqtt", "into": "$upstream"},
        }

    spec = CATALOG["mqtt@1"]
    monkeypatch.setitem(CATALOG, "mqtt@1", dataclasses.replace(spec, deploy=hook))
    skill = tiny_skill(source="0")
    add_node(skill, "mqtt@1", "mqtt", topic="$param(topic)")
    connect(skill, "colour", "mqtt")
    skill_path = write_skill(skill_dir, skill)
    out = tmp_path / "m.zip"
    export_package(load_skill(skill_path), skill_path, out, defaults={"topic": "cars"})
    files = _files(out)
    edge = json.loads(files["deploy/iotedge/deployment.json"])["modulesContent"]
    assert edge["$edgeAgent"]["properties.desired"]["modules"]["broker"]["env"] == {
        "TOPIC": {"value": "cars"}
    }
    assert edge["$edgeHub"]["properties.desired"]["routes"] == {
        "mqttToUpstream": "FROM /messages/modules/tiny-colours/outputs/mqtt INTO $upstream"
    }
    assert b"eclipse-mosquitto:2" in files["deploy/k8s/broker.yaml"]
    mqtt = next(n for n in json.loads(files["skill.json"])["nodes"] if n["id"] == "mqtt")
    assert mqtt["params"]["broker_address"] == "$param(broker.endpoint)"
    assert json.loads(files["manifest.json"])["params"]["broker.endpoint"]["default"] == "broker:1883"


def test_the_node_own_settings_win_over_the_library_as_in_the_engine(skill_dir, tmp_path):
    library = ModelLibrary(tmp_path / "data")
    library.add(
        "BGR colours",
        "classification",
        CLASSIFIER,
        CLASSIFIER_LABELS,
        preprocess={"color": "BGR", "scale": 0.5},
    )
    skill = tiny_skill(source="0")
    skill.nodes = [n for n in skill.nodes if n.id != "colour"]
    skill.edges.clear()
    add_node(skill, "model@1", "colour", model_id="bgr-colours", color_order="RGB")
    chain(skill, "camera", "colour", "log")
    skill_path = write_skill(skill_dir, skill)
    out = tmp_path / "lib.zip"
    export_package(load_skill(skill_path), skill_path, out, library=library)
    colour = next(n for n in json.loads(_files(out)["skill.json"])["nodes"] if n["id"] == "colour")
    assert colour["params"]["color_order"] == "RGB"  # the node's own
    assert colour["params"]["pixel_scale"] == 0.5  # the library's, now stated in the skill
    assert colour["params"]["model_type"] == "classification"
