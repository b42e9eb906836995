"""A deployment package's fleet files pass the targets' own checks (IoT Edge schemas, Kubernetes
API validation, KAN resource names), whatever the deployment, device, camera and skill are called."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml
from engine_helpers import skill_of
from onnx_factory import blob_detector, write_labels

from designer.cli import main
from designer.core.deployment import Camera, Deployment, Device, SkillRef, save_deployment
from designer.core.deployment.package import export_deployment
from designer.core.skill import save_skill

from . import deploy_checks

TOKEN = "tok-5e4d3c2b1a09"
PASSWORD = "pw-0a1b2c3d"


def test_the_fleet_files_deploy_once_filled_whatever_the_names(tmp_path):
    blob_detector(tmp_path / "blob.onnx")
    write_labels(tmp_path / "blob.txt", ["thing"])
    skill = skill_of(
        ("cam", "camera@1", {"source": "0"}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        ("log", "insights-log@1", {"path": "$param(log)"}),
        ("post", "http@1", {"url": "http://collector.local/in", "bearer_token": TOKEN}),
        links=[("cam", "det"), ("det", "log"), ("det", "post")],
    )
    skill.settings.name = "People counter (v2)"
    save_skill(skill, tmp_path / "People Counter.skill.json")
    people = SkillRef(skill="People Counter.skill.json", params={"log": "people.jsonl"})
    deployment = Deployment(
        name="Lot A — North_Side",
        device=Device(name="Orin Edge_1", acceleration="Nvidia Jetson (Jetpack 5)"),
        cameras=[
            Camera(
                name="Gate #1 (north)",
                source="rtsp://$param(gate_host)/1",
                username="viewer",
                password="$param(gate_password)",
                skills=[people],
            ),
            Camera(name="Yard Ä", source="$param(yard_url)", fps=5, skills=[people]),
            Camera(name="Yard Ö", source="$param(yard_url)", skills=[people]),  # the same DNS name
        ],
    )
    save_deployment(deployment, tmp_path / "lot.deploy.json")
    package = tmp_path / "lot.deploy.zip"
    report = export_deployment(tmp_path / "lot.deploy.json", package)
    (secret_env,) = report.required_env  # the skill's token, moved out of the package
    with zipfile.ZipFile(package) as archive:
        assert not any(TOKEN.encode() in archive.read(n) for n in archive.namelist())

    out = tmp_path / "filled"
    args = ["fill", str(package), "-o", str(out), "--param", "gate_host=10.0.0.7:554"]
    assert main([*args, "--param", "yard_url=rtsp://10.0.0.8/2"]) == 1  # the password is missing
    env = {"SKILL_PARAM_GATE_PASSWORD": PASSWORD, secret_env: TOKEN}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        assert main([*args, "--param", "nope=1"]) == 1  # a misspelt name is refused
        assert main([*args, "--param", "yard_url=rtsp://10.0.0.8/2"]) == 0
    edge = json.loads((out / "iotedge/deployment.json").read_text())
    runtime = (out / "k8s/runtime.yaml").read_text()
    instances = list(yaml.safe_load_all((out / "kan/instances.yaml").read_text()))

    assert deploy_checks.check_iotedge(edge, "iotedge/deployment.json") == []
    assert deploy_checks.check_kubernetes(runtime, "k8s/runtime.yaml") == []
    problems: list[str] = []
    for doc in instances:
        where = f"instances.yaml: {doc['metadata']['name']}"
        assert (doc["apiVersion"], doc["kind"]) == ("solution.symphony/v1", "Instance")
        for field, name in (
            ("metadata.name", doc["metadata"]["name"]),
            ("spec.solution", doc["spec"]["solution"]),
            ("spec.target.name", doc["spec"]["target"]["name"]),
        ):
            if not (deploy_checks.DNS1123_SUBDOMAIN.match(name) and len(name) <= 253):
                problems.append(f"{where}: {field} {name!r} is not a DNS-1123 subdomain")
        deploy_checks._labels(doc["metadata"].get("labels", {}), where, problems)
    assert problems == []
    assert len({doc["metadata"]["name"] for doc in instances}) == 3  # one Instance per camera
    rtsp = [p["parameters"]["rtsp"] for doc in instances for p in doc["spec"]["pipelines"]]
    assert sorted(rtsp) == ["rtsp://10.0.0.7:554/1", "rtsp://10.0.0.8/2", "rtsp://10.0.0.8/2"]

    # IoT Edge has no secret store: its module gets every value; Kubernetes reads secrets from a Secret
    ((name, module),) = edge["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"].items()
    assert module["env"]["SKILL_PARAM_GATE_PASSWORD"] == {"value": PASSWORD}
    assert module["env"][secret_env] == {"value": TOKEN}
    config, workload = yaml.safe_load_all(runtime)
    assert PASSWORD not in runtime and TOKEN not in runtime
    assert config["data"] == {
        "SKILL_PARAM_GATE_HOST": "10.0.0.7:554",
        "SKILL_PARAM_YARD_URL": "rtsp://10.0.0.8/2",
    }
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    refs = {e["name"]: e["valueFrom"] for e in container["env"] if "valueFrom" in e}
    secret = f"{name}-secrets"
    assert refs["SKILL_PARAM_GATE_PASSWORD"] == {
        "secretKeyRef": {"name": secret, "key": "SKILL_PARAM_GATE_PASSWORD"}
    }
    assert refs[secret_env] == {"secretKeyRef": {"name": secret, "key": secret_env}}
    assert refs["SKILL_PARAM_GATE_HOST"] == {
        "configMapKeyRef": {"name": f"{name}-params", "key": "SKILL_PARAM_GATE_HOST"}
    }
