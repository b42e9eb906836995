"""Each deploy-file fix of issue 17 section 3, as a user meets it: `skill-designer fill`, route names,
Kubernetes names/selectors/security/probes/storage, the KAN resource, the runtime image warnings; and
the checks of ``deploy_checks`` catch what the targets refuse (so a passing check means something)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from designer.core.package import export_package
from designer.core.skill import load_skill, save_skill
from designer.core.skill.build import add_node, connect
from designer.core.skill.document import Tag
from designer.core.skill.kan import export_kan, load_kan_text

from . import deploy_checks
from .pkg_helpers import ROOT, tiny_skill, write_skill

SECRET = "Sup3r-s3cret-value"


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    code = "import sys; from designer.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
        check=False,
    )


def _export(skill_dir: Path, skill, out: Path, **kwargs) -> tuple[Path, dict[str, bytes]]:
    path = write_skill(skill_dir, skill)
    report = export_package(load_skill(path), path, out, **kwargs)
    with zipfile.ZipFile(out) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    files["__report__"] = json.dumps({"warnings": report.warnings, "notes": report.kan_notes}).encode()
    return out, files


def _fleet(name: str = "Tiny colours"):
    """A camera on $param(rtsp) (required), a container with a long image parameter, exports to
    IoT Hub (id with a dot) and MQTT with a password."""
    skill = tiny_skill(name=name)
    skill.edges.clear()
    add_node(
        skill,
        "grpc-container@1",
        "counter",
        container_name="counter",
        container_image="$param(registry)/counter:1.2",
        port=6677,
        env=[{"name": "MODE", "value": "fast"}],
    )
    add_node(skill, "iothub@1", "hub.main", output_name="metrics")
    add_node(skill, "mqtt@1", "mqtt", topic="plant/7", qos=1, tls=True, username="u", password=SECRET)
    for a, b in [("camera", "colour"), ("colour", "counter"), ("counter", "log"), ("counter", "hub.main")]:
        connect(skill, a, b)
    connect(skill, "counter", "mqtt")
    return skill


def test_fill_replaces_the_packages_names_only_and_refuses_what_is_missing(skill_dir, tmp_path):
    package, files = _export(skill_dir, _fleet(), tmp_path / "fleet.zip")
    raw = files["deploy/iotedge/deployment.json"].decode()
    assert "${SKILL_PARAM_RTSP}" in raw and "$edgeAgent" in raw and "$upstream" in raw
    env_names = sorted(json.loads(files["manifest.json"])["env"])
    assert env_names  # the MQTT password, moved out

    missing = _cli("fill", str(package), "-o", str(tmp_path / "out"))
    assert missing.returncode == 1 and "--param registry=VALUE" in missing.stderr
    assert "--param rtsp=VALUE" in missing.stderr and env_names[0] in missing.stderr
    assert not (tmp_path / "out").exists()

    long_registry = "registry.example.com/" + "a" * 700  # the value outgrows a createOptions part
    args = ["fill", str(package), "-o", str(tmp_path / "out"), "--param", "rtsp=rtsp://10.0.0.7/s"]
    args += ["--param", f"registry={long_registry}", "--kan-model", "colour=model-colour"]
    secrets = dict.fromkeys(env_names, SECRET)
    done = _cli(*args, env=secrets)
    assert done.returncode == 0, done.stderr
    deployment = json.loads((tmp_path / "out" / "iotedge" / "deployment.json").read_text())
    assert deploy_checks.check_iotedge(deployment) == []  # $edgeAgent, $edgeHub and $upstream intact
    runtime = deployment["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["tiny-colours"]
    assert runtime["env"]["SKILL_PARAM_RTSP"] == {"value": "rtsp://10.0.0.7/s"}
    routes = deployment["modulesContent"]["$edgeHub"]["properties.desired"]["routes"]
    assert routes["hub_mainToUpstream"].endswith("INTO $upstream")  # node id hub.main: no dot in the name
    counter = deployment["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["counter"]
    assert counter["settings"]["image"] == f"{long_registry}/counter:1.2"
    for name in ("iotedge/layered.json", "k8s/params.yaml", "k8s/counter.yaml", "kan/skill.yaml"):
        path = tmp_path / "out" / name
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    params = yaml.safe_load((tmp_path / "out" / "k8s" / "params.yaml").read_text())
    assert params["data"]["SKILL_PARAM_RTSP"] == "rtsp://10.0.0.7/s"
    for name in ("params.yaml", "runtime.yaml", "counter.yaml"):
        assert deploy_checks.check_kubernetes((tmp_path / "out" / "k8s" / name).read_text(), name) == []
    kan = yaml.safe_load((tmp_path / "out" / "kan" / "skill.yaml").read_text())
    assert next(n for n in kan["spec"]["nodes"] if n["id"] == "colour")["name"] == "model-colour"
    assert SECRET not in (tmp_path / "out" / "k8s" / "params.yaml").read_text()

    again = _cli(*args, env=secrets)
    assert again.returncode == 1 and "--force" in again.stderr
    k8s_only = _cli(*args, "--target", "k8s", "--force")  # Kubernetes reads secrets from its Secret
    assert k8s_only.returncode == 0, k8s_only.stderr


def test_kubernetes_files_as_a_kubernetes_engineer_expects(skill_dir, tmp_path):
    skill = _fleet("7 Dock")  # a skill id starting with a digit
    _, files = _export(skill_dir, skill, tmp_path / "a.zip", defaults={"registry": "r.example.com"})
    docs = {
        (d["kind"], d["metadata"]["name"]): d
        for name, data in files.items()
        if name.startswith("deploy/k8s/")
        for d in yaml.safe_load_all(data)
    }
    assert ("Service", "s-7-dock-counter") in docs  # a DNS-1035 label
    params = docs[("ConfigMap", "7-dock-params")]["data"]
    assert params["SKILL_PARAM_RTSP"] == "${SKILL_PARAM_RTSP}"  # never '' (fill refuses to leave it)
    assert params["SKILL_PARAM_COUNTER_ENDPOINT"] == "s-7-dock-counter:6677"
    runtime = docs[("Deployment", "7-dock")]
    assert runtime["spec"]["strategy"] == {"type": "Recreate"}
    pod = runtime["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["fsGroup"] == 10001
    box = pod["containers"][0]
    assert box["securityContext"]["allowPrivilegeEscalation"] is False
    assert box["securityContext"]["readOnlyRootFilesystem"] is True
    assert "exec" in box["livenessProbe"] and "exec" in box["startupProbe"]
    assert {"name": "SKILL_HEALTH_FILE", "value": "/tmp/skill-health"} in box["env"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["output"] == {"name": "output", "persistentVolumeClaim": {"claimName": "7-dock-output"}}
    assert ("PersistentVolumeClaim", "7-dock-output") in docs
    counter = docs[("Deployment", "s-7-dock-counter")]["spec"]["template"]["spec"]["containers"][0]
    assert counter["resources"]["requests"] and "tcpSocket" in counter["readinessProbe"]
    selector = docs[("Service", "s-7-dock-counter")]["spec"]["selector"]
    assert selector == {"app.kubernetes.io/name": "s-7-dock-counter", "app.kubernetes.io/instance": "7-dock"}

    # Another skill with a container of the same name: nothing collides.
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    (other_dir / "models").symlink_to(skill_dir / "models")
    _, other = _export(other_dir, _fleet("Gate"), tmp_path / "b.zip", defaults={"registry": "r.example.com"})
    names = {
        d["metadata"]["name"]
        for n, v in other.items()
        if n.startswith("deploy/k8s/")
        for d in yaml.safe_load_all(v)
    }
    mine = {name for _, name in docs}
    assert not names & mine


def test_gpu_pods_on_one_node_are_said(skill_dir, tmp_path):
    skill = _fleet()
    skill.settings.acceleration = "Nvidia dGPU"
    skill.node("counter").params["acceleration"] = "Nvidia dGPU"
    _, files = _export(skill_dir, skill, tmp_path / "g.zip", defaults={"registry": "r.example.com"})
    warnings = json.loads(files["__report__"])["warnings"]
    assert any("2 pods request a whole nvidia.com/gpu" in n and "time-slicing" in n for n in warnings)
    assert any("does not look like that build" in w for w in warnings)  # the default (CPU) image
    assert any("names no registry" in w for w in warnings)


def test_layered_deployment_adds_only_the_skill(skill_dir, tmp_path):
    _, files = _export(
        skill_dir, _fleet(), tmp_path / "l.zip", defaults={"registry": "r.example.com", "rtsp": "0"}
    )
    layered = json.loads(files["deploy/iotedge/layered.json"])
    assert deploy_checks.check_layered(layered) == []
    assert sorted(layered["modulesContent"]["$edgeAgent"]) == [
        "properties.desired.modules.counter",
        "properties.desired.modules.tiny-colours",
    ]
    assert list(layered["modulesContent"]["$edgeHub"]) == ["properties.desired.routes.hub_mainToUpstream"]
    module = layered["modulesContent"]["$edgeAgent"]["properties.desired.modules.tiny-colours"]
    binds = json.loads("".join(v for k, v in sorted(module["settings"].items()) if k.startswith("create")))
    assert "tiny-colours-output:/data" in binds["HostConfig"]["Binds"]  # a named volume, not a host folder


def test_kan_resource_is_one_name_valid_labels_and_lists_what_kan_drops(skill_dir, tmp_path):
    skill = _fleet()
    skill.settings.description = "Counts colours"
    skill.settings.tags = [Tag(name="Plant 7 / Dock A", value="Bay #3")]
    skill.node("colour").params["confidence_threshold"] = 40
    add_node(skill, "http@1", "web", url="https://example.com/in", bearer_token=SECRET)
    connect(skill, "counter", "web")
    _, files = _export(skill_dir, skill, tmp_path / "k.zip", defaults={"registry": "r.example.com"})
    text = files["deploy/kan/skill.yaml"].decode()
    resource = yaml.safe_load(text)
    assert deploy_checks.check_kan(resource) == []
    assert resource["metadata"]["name"] == json.loads(files["manifest.json"])["skill"]["id"]
    assert resource["metadata"]["labels"] == {"Plant-7-Dock-A": "Bay-3"}
    for dropped in ("Topic", "QoS", "TLS", "User name", "Password", "Bearer token", "Confidence threshold"):
        assert dropped in text, dropped
    assert "description" in text and SECRET not in text
    node = next(n for n in resource["spec"]["nodes"] if n["id"] == "colour")
    assert node["name"] == "${KAN_MODEL_COLOUR}"

    # export-kan: the same name; a model named by its file needs its KAN Model resource.
    path = write_skill(skill_dir, skill)
    out = tmp_path / "k.yaml"
    refused = _cli("export-kan", str(path), "-o", str(out))
    assert refused.returncode == 1 and "--kan-model colour=MODEL_NAME" in refused.stderr and not out.exists()
    done = _cli("export-kan", str(path), "-o", str(out), "--kan-model", "colour=colours-v2")
    assert done.returncode == 0, done.stderr
    exported = yaml.safe_load(out.read_text())
    assert exported["metadata"]["name"] == resource["metadata"]["name"]
    assert next(n for n in exported["spec"]["nodes"] if n["id"] == "colour")["name"] == "colours-v2"
    assert deploy_checks.check_kan(exported) == []


def test_import_kan_refuses_what_the_crd_refuses(tmp_path):
    old = tmp_path / "old.yaml"
    old.write_text(
        "apiVersion: ai.symphony/v1\nkind: Skill\nmetadata: {name: old}\n"
        "spec:\n  displayName: Old\n  models:\n  - name: detector\n"
    )
    result = _cli("import-kan", str(old), "-o", str(tmp_path / "old.skill.json"))
    assert result.returncode == 2 and "spec.models is the format of older KAN releases" in result.stderr
    assert not (tmp_path / "old.skill.json").exists()
    with pytest.raises(Exception, match=r"spec.nodes\[0\] has no name"):
        load_kan_text(
            "apiVersion: ai.symphony/v1\nkind: Skill\nspec: {nodes: [{id: a, type: source}], edges: []}"
        )


def test_kan_refuses_a_graph_kans_portal_refuses(skill_dir, tmp_path):
    skill = tiny_skill()  # its only export is an Insights Log, which KAN has not
    _, files = _export(skill_dir, skill, tmp_path / "t.zip", defaults={"rtsp": "0"})
    assert "deploy/kan/skill.yaml" not in files
    notes = json.loads(files["__report__"])["notes"]
    assert any(
        n.startswith('not written: KAN refuses this skill: "At least one Export Node needed"') for n in notes
    )
    _, report = export_kan(skill)
    assert report.refusals


def test_the_checks_catch_what_the_targets_refuse():
    agent_module = {
        "version": "1.0",
        "type": "docker",
        "status": "running",
        "restartPolicy": "always",
        "settings": {"image": "${REGISTRY}/x:1", "createOptions": "{" + "x" * 600},
    }
    bad = {
        "modulesContent": {
            "$edgeAgent": {"properties.desired.modules.bad.name": agent_module},
            "$edgeHub": {"properties.desired.routes.a.b": "FROM x"},
        }
    }
    problems = " | ".join(deploy_checks.check_layered(bad))
    for expected in (
        "image '${REGISTRY}/x:1'",
        "createOptions is 601 characters",
        "route name 'a.b'",
        "not FROM",
    ):
        assert expected in problems, expected
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "9x", "labels": {"a": "b c"}},
        "spec": {},
    }
    problems = " | ".join(deploy_checks.check_kubernetes(yaml.safe_dump(service)))
    assert "Service name '9x'" in problems and "label value 'b c'" in problems
    kan = {
        "apiVersion": "ai.symphony/v1",
        "kind": "Skill",
        "metadata": {"name": "a"},
        "spec": {"nodes": [{"id": "x"}]},
    }
    problems = " | ".join(deploy_checks.check_kan(kan))
    assert "'edges' is a required property" in problems and "'name' is a required property" in problems


def test_a_skill_file_still_saves(skill_dir):
    save_skill(_fleet(), skill_dir / "x.skill.json")  # the helper skill is a valid skill file
    assert load_skill(skill_dir / "x.skill.json").node("hub.main") is not None
