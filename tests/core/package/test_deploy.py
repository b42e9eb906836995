"""The fleet manifests in a package: IoT Edge against its published structure, Kubernetes against
the API schemas (kubernetes-validate, offline), and what each says about routes, GPUs and containers."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml

from designer.core.package import ExportError, export_package
from designer.core.skill import load_skill
from designer.core.skill.build import add_node, connect
from designer.core.skill.catalog.exports import edge_output_name

from . import deploy_checks
from .pkg_helpers import tiny_skill, write_skill


def fleet_skill(acceleration: str = "Nvidia dGPU", source: str = "0"):
    """Two containers, an IoT Hub export and an IoT Edge module export, on a GPU device."""
    skill = tiny_skill(acceleration=acceleration, source=source)
    skill.edges.clear()
    add_node(
        skill,
        "grpc-container@1",
        "counter",
        container_name="counter",
        container_image="$param(registry)/counter:1.2",
        port=6677,
        restart_policy="on-failure",
        acceleration=acceleration,
        architecture="ARM64" if "Jetson" in acceleration else "X64",
        create_options=json.dumps(
            {"HostConfig": {"ShmSize": 268435456, "Binds": ["/opt/" + "x" * 600 + ":/x"]}}
        ),
        env=[{"name": "MODE", "value": "fast"}, {"name": "UPSTREAM", "value": "http://$param(registry)/api"}],
    )
    add_node(skill, "iothub@1", "hub", output_name="metrics")
    add_node(skill, "iotedge@1", "edge", module_name="alerts", module_input="insights")
    for source_id, target in [
        ("camera", "colour"),
        ("colour", "counter"),
        ("counter", "log"),
        ("counter", "hub"),
        ("counter", "edge"),
    ]:
        connect(skill, source_id, target)
    return skill


@pytest.fixture
def fleet_package(skill_dir, tmp_path):
    def make(acceleration: str = "Nvidia dGPU") -> dict[str, bytes]:
        skill_path = write_skill(skill_dir, fleet_skill(acceleration))
        out = tmp_path / f"{acceleration[:6].strip()}.zip"
        export_package(
            load_skill(skill_path),
            skill_path,
            out,
            runtime_image="acr.io/skill-runtime:1-cuda",
            defaults={"registry": "acr.io"},
        )
        with zipfile.ZipFile(out) as archive:
            return {name: archive.read(name) for name in archive.namelist()}

    return make


def _create_options(settings: dict) -> dict:
    parts = [settings[k] for k in sorted(settings) if k.startswith("createOptions")]
    assert all(len(part) <= 512 for part in parts)
    return json.loads("".join(parts))


def test_iot_edge_manifest_validates_and_routes_the_exports(fleet_package):
    files = fleet_package("Nvidia dGPU")
    manifest = json.loads(files["deploy/iotedge/deployment.json"])
    assert deploy_checks.check_iotedge(manifest) == []

    agent = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]
    runtime = agent["modules"]["tiny-colours"]
    assert runtime["settings"]["image"] == "acr.io/skill-runtime:1-cuda"
    host = _create_options(runtime["settings"])["HostConfig"]
    assert host["DeviceRequests"] == [{"Count": -1, "Capabilities": [["gpu"]]}]  # the GPU runtime
    assert host["Devices"][0]["PathOnHost"] == "/dev/video0"  # webcam 0
    assert any(bind.endswith(":/package.zip:ro") for bind in host["Binds"])
    # A named volume: Docker creates it owned by the image's user; a host folder would be root's.
    assert "tiny-colours-output:/data" in host["Binds"]
    assert host["GroupAdd"] == ["video"]  # the webcam, opened by uid 10001
    assert runtime["env"]["SKILL_PARAM_COUNTER_ENDPOINT"] == {"value": "counter:6677"}

    counter = agent["modules"]["counter"]
    assert counter["restartPolicy"] == "on-failure"
    assert counter["settings"]["image"] == "acr.io/counter:1.2"
    assert counter["env"] == {"MODE": {"value": "fast"}, "UPSTREAM": {"value": "http://acr.io/api"}}
    options = _create_options(counter["settings"])  # long options split into createOptions01...
    assert "createOptions01" in counter["settings"]
    assert options["HostConfig"]["ShmSize"] == 268435456 and "DeviceRequests" in options["HostConfig"]

    routes = manifest["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    output = edge_output_name("alerts", "insights")
    assert routes == {
        "hubToUpstream": "FROM /messages/modules/tiny-colours/outputs/metrics INTO $upstream",
        "edgeToModule": f"FROM /messages/modules/tiny-colours/outputs/{output} INTO "
        'BrokeredEndpoint("/modules/alerts/inputs/insights")',
    }


def test_jetson_modules_use_the_nvidia_runtime(fleet_package):
    files = fleet_package("Nvidia Jetson (Jetpack 5)")
    manifest = json.loads(files["deploy/iotedge/deployment.json"])
    assert deploy_checks.check_iotedge(manifest) == []
    modules = manifest["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    assert _create_options(modules["tiny-colours"]["settings"])["HostConfig"]["Runtime"] == "nvidia"
    runtime = list(yaml.safe_load_all(files["deploy/k8s/runtime.yaml"]))[-1]
    assert runtime["spec"]["template"]["spec"]["nodeSelector"] == {"kubernetes.io/arch": "arm64"}
    assert json.loads(files["manifest.json"])["execution_providers"] == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_kubernetes_manifests_validate_and_wire_the_containers(fleet_package):
    files = fleet_package("Nvidia dGPU")
    names = sorted(n for n in files if n.startswith("deploy/k8s/"))
    assert names == ["deploy/k8s/counter.yaml", "deploy/k8s/params.yaml", "deploy/k8s/runtime.yaml"]
    docs = {}
    for name in names:
        assert deploy_checks.check_kubernetes(files[name], name) == []
        for doc in yaml.safe_load_all(files[name]):
            docs[(doc["kind"], doc["metadata"]["name"])] = doc

    runtime = docs[("Deployment", "tiny-colours")]["spec"]["template"]["spec"]
    box = runtime["containers"][0]
    assert box["resources"]["limits"]["nvidia.com/gpu"] == 1
    env = {e["name"]: e.get("valueFrom", e.get("value")) for e in box["env"]}
    assert env["SKILL_PARAM_COUNTER_ENDPOINT"] == {
        "configMapKeyRef": {"name": "tiny-colours-params", "key": "SKILL_PARAM_COUNTER_ENDPOINT"}
    }
    # The container's Service is named for the skill (two skills may both have a "counter").
    assert (
        docs[("ConfigMap", "tiny-colours-params")]["data"]["SKILL_PARAM_COUNTER_ENDPOINT"]
        == "tiny-colours-counter:6677"
    )
    assert {"name": "package", "mountPath": "/package.zip", "readOnly": True} in box["volumeMounts"]

    service = docs[("Service", "tiny-colours-counter")]["spec"]
    assert service["ports"][0]["port"] == 6677
    assert service["selector"] == {
        "app.kubernetes.io/name": "tiny-colours-counter",
        "app.kubernetes.io/instance": "tiny-colours",
    }
    counter = docs[("Deployment", "tiny-colours-counter")]["spec"]["template"]["spec"]["containers"][0]
    assert counter["image"] == "acr.io/counter:1.2"
    counter_env = {e["name"]: e for e in counter["env"]}
    assert counter_env["UPSTREAM"]["value"] == "http://$(SKILL_PARAM_REGISTRY)/api"  # expanded by Kubernetes
    assert list(counter_env).index("SKILL_PARAM_REGISTRY") < list(counter_env).index("UPSTREAM")

    # The packaged skill reaches the container by its Service / module name.
    packaged = json.loads(files["skill.json"])
    counter_node = next(n for n in packaged["nodes"] if n["id"] == "counter")
    assert counter_node["params"]["preview_endpoint"] == "$param(counter.endpoint)"


def test_kan_resource_lists_what_it_cannot_express(fleet_package):
    files = fleet_package("Nvidia dGPU")
    text = files["deploy/kan/skill.yaml"].decode()
    resource = yaml.safe_load(text)
    assert resource["kind"] == "Skill" and resource["apiVersion"].startswith("ai.symphony/")
    assert "# KAN cannot express: node log (insights-log@1)" in text


def test_container_names_must_be_distinct_and_create_options_fit(skill_dir, tmp_path):
    skill = fleet_skill("CPU")
    add_node(skill, "grpc-container@1", "twin", container_name="counter", container_image="x/y:1", port=7000)
    skill.edges = [e for e in skill.edges if e.target.node != "log"]
    connect(skill, "counter", "twin")
    connect(skill, "twin", "log")
    skill_path = write_skill(skill_dir, skill)
    with pytest.raises(ExportError, match=r"node twin: container name 'counter' is used twice"):
        export_package(load_skill(skill_path), skill_path, tmp_path / "x.zip", defaults={"registry": "r"})

    skill = fleet_skill("CPU")
    skill.node("counter").params["create_options"] = json.dumps({"Labels": {"a": "b" * 5000}})
    skill_path = write_skill(skill_dir, skill)
    with pytest.raises(
        ExportError, match=r"node counter: create options are .* IoT Edge takes at most 4,096"
    ):
        export_package(load_skill(skill_path), skill_path, tmp_path / "x.zip", defaults={"registry": "r"})
    assert not (tmp_path / "x.zip").exists()
