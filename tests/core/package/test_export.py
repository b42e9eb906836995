"""Exporting a skill: what the package holds, reproducibly, and what it refuses."""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from pathlib import Path

import pytest

from designer.core.package import ExportError, export_package, open_package, verify_package
from designer.core.package.manifest import PACKAGE_FORMAT_VERSION
from designer.core.skill import load_skill
from designer.core.skill.build import add_node, connect

from .pkg_helpers import tiny_skill, write_skill


def _zip_texts(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def test_package_holds_the_skill_models_contract_manifests_and_checksums(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, tiny_skill())
    out = tmp_path / "tiny.zip"
    report = export_package(load_skill(skill_path), skill_path, out, defaults={"rtsp": "rtsp://cam/1"})

    files = _zip_texts(out)
    assert sorted(files) == sorted(
        [
            "manifest.json",
            "README.md",
            "skill.json",
            "models/colour/colour.onnx",
            "models/colour/labels.txt",
            "models/colour/model.json",
            "proto/custom_node.proto",
            "deploy/iotedge/deployment.json",
            "deploy/iotedge/layered.json",
            "deploy/k8s/params.yaml",
            "deploy/k8s/runtime.yaml",
        ]
    )
    assert zipfile.ZipFile(out).namelist()[0] == "manifest.json"
    manifest = json.loads(files["manifest.json"])
    assert manifest["format_version"] == PACKAGE_FORMAT_VERSION
    assert manifest["skill"]["id"] == "tiny-colours" and manifest["skill"]["name"] == "Tiny colours"
    assert manifest["acceleration"] == "CPU" and manifest["execution_providers"] == ["CPUExecutionProvider"]
    assert manifest["params"] == {
        "rtsp": {"default": "rtsp://cam/1", "env": "SKILL_PARAM_RTSP", "used_by": ["camera"]}
    }
    assert manifest["models"][0]["id"] == "colour" and manifest["models"][0]["opset"] == 17
    for name, entry in manifest["files"].items():
        assert hashlib.sha256(files[name]).hexdigest() == entry["sha256"]
        assert len(files[name]) == entry["size"]
    assert set(manifest["files"]) == set(files) - {"manifest.json"}

    packaged = json.loads(files["skill.json"])
    assert packaged["layout"] == {"nodes": {}}
    colour = next(n for n in packaged["nodes"] if n["id"] == "colour")
    assert colour["params"]["model_path"] == "models/colour/colour.onnx"
    assert colour["params"]["labels_path"] == "models/colour/labels.txt"
    settings = json.loads(files["models/colour/model.json"])
    assert settings["task"] == "classification" and settings["preprocess"]["width"] == 32
    assert files["models/colour/colour.onnx"] == (skill_dir / "models" / "colour.onnx").read_bytes()
    assert b"run tiny-colours" in files["README.md"] or b"skill-designer run" in files["README.md"]
    assert report.sha256 == hashlib.sha256(out.read_bytes()).hexdigest()
    assert verify_package(out).skill.id == "tiny-colours"


def test_the_same_skill_exported_twice_gives_the_same_bytes(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, tiny_skill())
    first = export_package(load_skill(skill_path), skill_path, tmp_path / "a.zip")
    # Elsewhere, later, from a copy of the folder (copy2 keeps the skill's save time).
    copy = shutil.copytree(skill_dir, tmp_path / "elsewhere" / "skill", copy_function=shutil.copy2)
    second = export_package(load_skill(copy / skill_path.name), copy / skill_path.name, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()
    assert first.sha256 == second.sha256
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        stamps = {info.date_time for info in archive.infolist()}
        created = json.loads(archive.read("manifest.json"))["created_at"]
    assert len(stamps) == 1  # one fixed time: the skill's save time, not the export's
    year, month, day, hour, minute = next(iter(stamps))[:5]
    assert f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}" == created[:16]


def test_a_skill_with_errors_is_refused_and_nothing_is_written(skill_dir, tmp_path):
    skill = tiny_skill()
    skill.edges.clear()  # nothing linked
    skill_path = write_skill(skill_dir, skill)
    out = tmp_path / "bad.zip"
    with pytest.raises(ExportError) as caught:
        export_package(load_skill(skill_path), skill_path, out)
    codes = {p.code for p in caught.value.problems}
    assert "camera-unconnected" in codes and "fix them before exporting" in str(caught.value)
    assert list(tmp_path.glob("*.zip")) == [] and list(tmp_path.glob(".*tmp")) == []


def test_a_model_file_missing_at_export_is_named(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, tiny_skill())
    (skill_dir / "models" / "colour.txt").unlink()
    with pytest.raises(ExportError, match=r"node colour: label file .*colour\.txt not found"):
        export_package(load_skill(skill_path), skill_path, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


SECRETS = {
    "camera_user": "camadmin",
    "camera_url_password": "Url-S3cret",
    "camera_password": "field-pass-99",
    "mqtt_password": "mqtt-pw-77",
    "http_token": "tok-abc-123",
    "hub": "SharedAccessKey=HUBKEY0000000000000000000000000000000000000=",
    "blob": "AccountKey=BLOBKEY111111111111111111111111111==",
    "sas": "sig=SASSIG222",
    "container_key": "container-api-key-333",
}


def secret_skill():
    skill = tiny_skill(
        source=f"rtsp://{SECRETS['camera_user']}:{SECRETS['camera_url_password']}@10.0.0.7/live"
    )
    skill.node("camera").params["password"] = SECRETS["camera_password"]
    extra = [
        ("mqtt@1", "mqtt", {"password": SECRETS["mqtt_password"], "username": "bob"}),
        ("http@1", "http", {"url": f"https://hooks.example.com/in?token={SECRETS['http_token']}&x=1"}),
        (
            "iothub@1",
            "hub",
            {"connection_string": f"HostName=h.azure-devices.net;DeviceId=d;{SECRETS['hub']}"},
        ),
        (
            "video-snippet@1",
            "clips",
            {
                "filename_prefix": "clip",
                "blob_connection_string": f"DefaultEndpointsProtocol=https;AccountName=a;{SECRETS['blob']}",
                "blob_container": f"https://a.blob.core.windows.net/c?sv=2022-11-02&se=2030&{SECRETS['sas']}",
            },
        ),
    ]
    for type_id, node_id, params in extra:
        add_node(skill, type_id, node_id, **params)
        connect(skill, "colour", node_id)
    add_node(
        skill,
        "grpc-container@1",
        "counter",
        container_name="counter",
        container_image="registry.example.com/counter:1",
        port=6677,
        env=[{"name": "API_KEY", "value": SECRETS["container_key"]}, {"name": "MODE", "value": "fast"}],
    )
    skill.edges = [e for e in skill.edges if not (e.source.node == "colour" and e.target.node == "log")]
    connect(skill, "colour", "counter")
    connect(skill, "counter", "log")
    return skill


def test_secrets_never_enter_a_package_and_each_move_is_reported(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, secret_skill())
    out = tmp_path / "s.zip"
    report = export_package(load_skill(skill_path), skill_path, out)

    files = _zip_texts(out)
    for name, data in files.items():
        for secret in SECRETS.values():
            assert secret.encode() not in data, f"{secret} leaked into {name}"
    manifest = json.loads(files["manifest.json"])
    assert (
        set(manifest["env"])
        == set(report.required_env)
        == {
            "CAMERA_PASSWORD",
            "CAMERA_SOURCE_USER",
            "CAMERA_SOURCE_PASSWORD",
            "MQTT_PASSWORD",
            "HTTP_URL_TOKEN",
            "HUB_CONNECTION_STRING",
            "CLIPS_BLOB_CONNECTION_STRING",
            "CLIPS_BLOB_CONTAINER_SAS",
            "COUNTER_API_KEY",
        }
    )
    assert manifest["env"]["COUNTER_API_KEY"]["used_by"] == "container:counter"
    assert len([w for w in report.warnings if "moved out of the package" in w]) == 9
    packaged = json.loads(files["skill.json"])
    nodes = {n["id"]: n["params"] for n in packaged["nodes"]}
    assert nodes["camera"]["source"] == "rtsp://${CAMERA_SOURCE_USER}:${CAMERA_SOURCE_PASSWORD}@10.0.0.7/live"
    assert nodes["http"]["url"] == "https://hooks.example.com/in?token=${HTTP_URL_TOKEN}&x=1"
    assert nodes["clips"]["blob_container"] == "https://a.blob.core.windows.net/c?${CLIPS_BLOB_CONTAINER_SAS}"
    assert nodes["mqtt"]["username"] == "bob"  # a user name alone is no secret
    edge = json.loads(files["deploy/iotedge/deployment.json"])
    modules = edge["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]
    assert modules["tiny-colours"]["env"]["MQTT_PASSWORD"] == {"value": "${MQTT_PASSWORD}"}
    assert modules["counter"]["env"] == {
        "API_KEY": {"value": "${COUNTER_API_KEY}"},
        "MODE": {"value": "fast"},
    }
    assert b"secretKeyRef" in files["deploy/k8s/counter.yaml"]

    # On the device the environment gives them back.
    environ = {name: f"value-of-{name}" for name in manifest["env"]}
    opened = open_package(out, environ=environ)
    try:
        filled = {n.id: n.params for n in opened.skill.nodes}
        assert filled["camera"]["password"] == "value-of-CAMERA_PASSWORD"
        assert filled["http"]["url"] == "https://hooks.example.com/in?token=value-of-HTTP_URL_TOKEN&x=1"
        # The container's own variables are the container's business, not the runtime's.
        assert filled["counter"]["env"][0]["value"] == "${COUNTER_API_KEY}"
    finally:
        opened.close()
    assert not opened.folder.exists()


def test_a_missing_secret_is_refused_by_name(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, secret_skill())
    out = tmp_path / "s.zip"
    export_package(load_skill(skill_path), skill_path, out)
    with pytest.raises(Exception, match=r"MQTT_PASSWORD \(node mqtt, password\)"):
        open_package(out, environ={"CAMERA_PASSWORD": "x"})


def test_defaults_must_name_a_parameter_and_hold_no_secret(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, tiny_skill())
    skill = load_skill(skill_path)
    with pytest.raises(ExportError, match="no \\$param\\(camera\\)"):
        export_package(skill, skill_path, tmp_path / "a.zip", defaults={"camera": "0"})
    with pytest.raises(ExportError, match="holds a secret"):
        export_package(skill, skill_path, tmp_path / "a.zip", defaults={"rtsp": "rtsp://u:p@cam/1"})
    assert not (tmp_path / "a.zip").exists()


def test_progress_reaches_the_end(skill_dir, tmp_path):
    skill_path = write_skill(skill_dir, tiny_skill())
    steps = []
    export_package(
        load_skill(skill_path), skill_path, tmp_path / "a.zip", progress=lambda *a: steps.append(a)
    )
    assert steps[0][0] == "validating" and steps[-1] == ("done", 1, 1)
    assert any(step.startswith("writing models/colour/colour.onnx") for step, _, _ in steps)
