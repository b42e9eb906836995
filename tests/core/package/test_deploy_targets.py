"""Every sample, and a skill with every node type (secrets in every secret field, awkward node ids),
exported as a package: its IoT Edge, Kubernetes and KAN files pass the targets' own schemas
(``deploy_checks``), for the oldest and newest Kubernetes."""

from __future__ import annotations

import itertools
import json
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from designer.core.package import export_package
from designer.core.package.fill import fill_deploy_files
from designer.core.skill import Skill, load_skill, save_skill
from designer.core.skill.build import add_node, connect
from designer.core.skill.catalog import CATALOG
from designer.core.skill.document import Settings, Tag

from . import deploy_checks
from .pkg_helpers import CLASSIFIER, CLASSIFIER_LABELS, RESOURCES

SAMPLES = RESOURCES / "samples"
SECRET = "s3cr3t-Value-42"
CONNECTION = f"HostName=hub.azure-devices.net;DeviceId=cam;SharedAccessKey={SECRET}"
BLOB = f"DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={SECRET};EndpointSuffix=core.windows.net"


def everything_skill(folder: Path) -> Path:
    """Every node type once, with secrets in every secret field and ids IoT Edge and Kubernetes
    would refuse as names (a dot, a leading digit, upper case)."""
    models = folder / "models"
    models.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CLASSIFIER, models / "colour.onnx")
    shutil.copy2(CLASSIFIER_LABELS, models / "colour.txt")
    skill = Skill(
        settings=Settings(
            name="Every Node",
            acceleration="Nvidia dGPU",
            tags=[Tag(name="Plant 7 / Dock A", value="Bay #3 (north)")],
        )
    )
    add_node(skill, "camera@1", "cam", source="$param(rtsp)", password=SECRET)
    add_node(
        skill, "model@1", "Colour.Model", model_path="models/colour.onnx", labels_path="models/colour.txt"
    )
    add_node(skill, "filter@1", "filter")
    add_node(skill, "tracker@1", "tracker")
    add_node(skill, "zone@1", "zone")
    add_node(skill, "privacy-mask@1", "mask")
    add_node(skill, "grpc-endpoint@1", "endpoint", endpoint_url="grpc.example.com:50051")
    add_node(
        skill,
        "grpc-container@1",
        "9counter",
        container_name="counter",
        container_image="$param(registry)/counter:1.2",
        port=6677,
        acceleration="Nvidia dGPU",
        env=[{"name": "MODE", "value": "fast"}],
    )
    add_node(skill, "video-snippet@1", "snip.1", filename_prefix="clip", blob_connection_string=BLOB)
    add_node(skill, "iothub@1", "hub.main", connection_string=CONNECTION)
    add_node(skill, "iotedge@1", "7edge", module_name="alerts", module_input="insights")
    add_node(skill, "mqtt@1", "mqtt", username="u", password=SECRET)
    add_node(skill, "http@1", "http", url="https://example.com/ingest", bearer_token=SECRET)
    add_node(skill, "insights-log@1", "log")
    chain = ["cam", "Colour.Model", "filter", "tracker", "zone", "mask", "endpoint", "9counter"]
    for a, b in itertools.pairwise(chain):
        connect(skill, a, b)
    for export in ("snip.1", "hub.main", "7edge", "mqtt", "http", "log"):
        connect(skill, "9counter", export)
    assert {node.type for node in skill.nodes} == set(CATALOG), "a node type is missing here"
    path = folder / "every.skill.json"
    save_skill(skill, path)
    return path


def _export(skill_path: Path, out: Path, **kwargs) -> dict[str, bytes]:
    export_package(load_skill(skill_path), skill_path, out, **kwargs)
    with zipfile.ZipFile(out) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def check_deploy_files(
    package: Path, params: dict[str, str] | None = None, source: str | None = None
) -> list[str]:
    """Every deployment file of a package, filled as the README says (``skill-designer fill``),
    against its target; the KAN resource as written."""
    with zipfile.ZipFile(package) as archive:
        raw = {name: archive.read(name) for name in archive.namelist()}
        manifest = json.loads(raw["manifest.json"])
    secrets = {name: "device-secret" for name in manifest.get("env", {})}
    skill = json.loads(raw["skill.json"])
    models = {
        n["id"]: "model-" + n["id"].lower().replace(".", "-")
        for n in skill["nodes"]
        if n["type"] == "model@1"
    }
    files = fill_deploy_files(package, params or {}, environ=secrets, source=source, kan_models=models).files
    assert {"iotedge/deployment.json", "iotedge/layered.json", "k8s/runtime.yaml"} <= set(files)
    if "deploy/kan/skill.yaml" in raw:
        assert "kan/skill.yaml" in files
    problems: list[str] = []
    for name, data in files.items():
        if name == "iotedge/deployment.json":
            problems += deploy_checks.check_iotedge(json.loads(data), name)
        elif name == "iotedge/layered.json":
            problems += deploy_checks.check_layered(json.loads(data), name)
        elif name.startswith("k8s/"):
            problems += deploy_checks.check_kubernetes(data, name)
        elif name == "kan/skill.yaml":
            problems += deploy_checks.check_kan(yaml.safe_load(data), name)
    return problems


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.skill.json")))
def test_each_sample_deploys_as_its_targets_accept(sample, tmp_path):
    path = SAMPLES / sample
    report = export_package(
        load_skill(path),
        path,
        tmp_path / "sample.zip",
        runtime_image="registry.example.com/skill-runtime:0.1.0",
    )
    with zipfile.ZipFile(tmp_path / "sample.zip") as archive:
        if "deploy/kan/skill.yaml" not in archive.namelist():  # KAN's portal would refuse it: said so
            assert any("not written: KAN refuses this skill" in note for note in report.kan_notes)
    params = {"rtsp": "rtsp://10.0.0.7/stream"} if "$param(rtsp)" in path.read_text() else {}
    assert check_deploy_files(tmp_path / "sample.zip", params, source="rtsp://10.0.0.8/stream") == []


def test_a_skill_with_every_node_type_deploys_as_its_targets_accept(tmp_path):
    path = everything_skill(tmp_path / "skill")
    files = _export(
        path,
        tmp_path / "every.zip",
        runtime_image="registry.example.com/skill-runtime:0.1.0-cuda",
        defaults={"registry": "registry.example.com"},
    )
    assert check_deploy_files(tmp_path / "every.zip", {"rtsp": "rtsp://10.0.0.7/stream"}) == []
    for name, data in files.items():
        if name.endswith((".onnx",)):
            continue
        assert SECRET.encode() not in data, f"{name} holds a secret"
