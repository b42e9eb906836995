"""`export SITE.deploy.json -o SITE.deploy.zip`: every skill and every model once; the package runs
and refuses to run when changed."""

from __future__ import annotations

import json
import zipfile

import pytest
import yaml
from test_deployment_run import _bright_square, _write_skills
from video_factory import write_video

from designer.cli import main
from designer.core.deployment import Camera, Deployment, SkillRef, save_deployment
from designer.core.deployment.package import (
    DeploymentPackageError,
    export_deployment,
    open_deployment_package,
)


@pytest.fixture
def site(tmp_path):
    _write_skills(tmp_path)
    write_video(tmp_path / "a.avi", frames=6, draw=_bright_square)
    skills = [
        SkillRef(skill="things.skill.json"),
        SkillRef(skill="kept.skill.json", params={"log": "kept.jsonl"}),
    ]
    deployment = Deployment(
        name="Site",
        cameras=[
            Camera(name="Gate", source="$param(gate)", loop=False, skills=skills),
            Camera(name="Yard", source="$param(yard)", loop=False, skills=skills[:1]),
        ],
    )
    save_deployment(deployment, tmp_path / "site.deploy.json")
    return tmp_path


def test_every_skill_and_model_once_and_the_package_runs(site, capsys, monkeypatch):
    report = export_deployment(site / "site.deploy.json", site / "out" / "site.deploy.zip")
    assert report.skills == ["kept", "things"] and report.models == ["models/blob"]
    with zipfile.ZipFile(report.path) as archive:
        names = archive.namelist()
        assert sum(n.endswith(".onnx") for n in names) == 1
        skill = json.loads(archive.read("skills/kept/skill.json"))
        paths = [n["params"].get("model_path") for n in skill["nodes"] if "model_path" in n["params"]]
        assert paths == ["../../models/blob/blob.onnx"]
    assert report.model_bytes_saved > 0
    with zipfile.ZipFile(report.path) as archive:
        edge = json.loads(archive.read("deploy/iotedge/deployment.json"))
        module = edge["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["site"]
        assert set(module["env"]) == {"SKILL_PARAM_GATE", "SKILL_PARAM_YARD"}
        assert json.loads(module["settings"]["createOptions"])["Entrypoint"][-1] == "/package.deploy.zip"
        kan = list(yaml.safe_load_all(archive.read("deploy/kan/instances.yaml")))
        assert [d["spec"]["parameters"]["configure_data"] for d in kan] == [
            '{"Gate": ["kept", "things"]}',
            '{"Yard": ["things"]}',
        ]
        k8s = list(yaml.safe_load_all(archive.read("deploy/k8s/runtime.yaml")))
        assert [d["kind"] for d in k8s] == ["ConfigMap", "Deployment"]
    # The same deployment gives the same bytes.
    again = export_deployment(site / "site.deploy.json", site / "out" / "again.deploy.zip")
    assert again.sha256 == report.sha256

    monkeypatch.chdir(site / "out")
    video = str(site / "a.avi")
    args = ["run", "site.deploy.zip", "--realtime", "off", "--quiet", "--param", f"gate={video}"]
    monkeypatch.setenv("SKILL_PARAM_YARD", video)  # what the IoT Edge and Kubernetes files set
    assert main(args) == 0
    assert "sessions loaded: 1" in capsys.readouterr().err
    assert len((site / "out/Gate/Kept/kept.jsonl").read_text().splitlines()) == 6
    assert len((site / "out/Yard/Things/things.jsonl").read_text().splitlines()) == 6


def test_a_changed_package_is_refused_naming_the_entry(site, tmp_path):
    report = export_deployment(site / "site.deploy.json", site / "site.deploy.zip")
    tampered = tmp_path / "bad.deploy.zip"
    with zipfile.ZipFile(report.path) as source, zipfile.ZipFile(tampered, "w") as sink:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "skills/kept/skill.json":
                data = data.replace(b"Kept", b"KepT")
            sink.writestr(info, data)
    with pytest.raises(DeploymentPackageError, match=r"skills/kept/skill\.json: changed"):
        open_deployment_package(tampered)
    evil = tmp_path / "evil.deploy.zip"
    with zipfile.ZipFile(evil, "w") as sink:
        sink.writestr(
            "manifest.json", json.dumps({"format": "skill-designer/deployment-package", "format_version": 1})
        )
        sink.writestr("../escape.txt", b"x")
    with pytest.raises(DeploymentPackageError, match=r"'\.\./escape.txt' has '\.\.'"):
        open_deployment_package(evil)


def test_a_password_is_never_packaged(site):
    deployment = json.loads((site / "site.deploy.json").read_text())
    deployment["cameras"][0]["password"] = "hunter2"
    (site / "site.deploy.json").write_text(json.dumps(deployment))
    with pytest.raises(
        DeploymentPackageError,
        match=r"cameras\[0\]\.password: a password written in the file.*never packaged",
    ):
        export_deployment(site / "site.deploy.json", site / "x.deploy.zip")
