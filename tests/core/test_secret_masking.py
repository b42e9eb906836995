"""Credentials never reach a message, a log line or an exported file."""

from __future__ import annotations

import json

import pytest
import yaml

from designer.cli import main
from designer.core.secrets import has_secrets, mask_secrets, split_url_secrets
from designer.core.skill import Settings, Skill, save_skill
from designer.core.skill.build import add_node, chain, minimal_skill

SECRET = "S3cr3tPa55"


@pytest.mark.parametrize(
    "text",
    [
        f"rtsp://admin:{SECRET}@10.0.0.7/live",
        f"rtsp://admin:pa/{SECRET}@10.0.0.7/live",  # a password holding "/"
        f"cannot open htp://user:{SECRET}@10.0.0.7/x (give a URL)",  # a mistyped scheme
        f"video file not found: rstp:/user:{SECRET}@10.0.0.7/live",  # "//" collapsed by a path
        f"rtsp://10.0.0.7/live?user=admin&password={SECRET}",
        f"https://hooks.example.com/in?token={SECRET}&kind=people",
        f"https://acct.blob.core.windows.net/c/m.onnx?sv=2024&sig={SECRET}",
        f"https://h/x?pwd={SECRET}",
        f"https://h/x?key={SECRET}",
        f"https://h/x?secret={SECRET}",
        f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={SECRET};EndpointSuffix=x",
    ],
)
def test_mask_secrets_hides_every_credential(text):
    masked = mask_secrets(text)
    assert SECRET not in masked
    assert has_secrets(text)


@pytest.mark.parametrize(
    "text",
    ["rtsp://10.0.0.7:554/live?channel=2", "127.0.0.1:6677", "C:/videos/lot.mp4", "https://h/x?kind=people"],
)
def test_mask_secrets_leaves_the_rest_alone(text):
    assert mask_secrets(text) == text and not has_secrets(text)


def test_split_url_secrets_keeps_the_address():
    url, secrets = split_url_secrets(f"rtsp://admin:{SECRET}@cam/live?password={SECRET}x&channel=1")
    assert url == "rtsp://cam/live?channel=1"
    assert secrets["username"] == "admin" and secrets["password"] == SECRET


def test_export_kan_writes_no_credential_from_an_http_export(tmp_path, capsys):
    # A skill KAN accepts (its portal needs a model node): camera -> library model -> HTTP.
    skill = Skill(settings=Settings(name="hook"))
    add_node(skill, "camera@1", "cam", source="$param(rtsp)")
    add_node(skill, "model@1", "detector", model_id="yolov3-tiny-coco")
    add_node(skill, "http@1", "hook", url=f"https://user:{SECRET}@hooks.example.com/in?token={SECRET}")
    chain(skill, "cam", "detector", "hook")
    save_skill(skill, tmp_path / "s.skill.json")
    assert main(["export-kan", str(tmp_path / "s.skill.json"), "-o", str(tmp_path / "k.yaml")]) == 0
    out = capsys.readouterr()
    text = (tmp_path / "k.yaml").read_text()
    assert SECRET not in text and SECRET not in out.err + out.out
    resource = yaml.safe_load(text)
    (http,) = [n for n in resource["spec"]["nodes"] if n["name"] == "http_export"]
    assert http["configurations"]["url"].startswith("$param(")
    assert "hook" in out.err and "credential" in out.err  # the user is told


@pytest.mark.parametrize("scheme", ["htp", "rstp"])
def test_validate_and_run_never_print_a_mistyped_urls_password(tmp_path, monkeypatch, capsys, scheme):
    monkeypatch.chdir(tmp_path)
    url = f"{scheme}://user:{SECRET}@10.0.0.7/live"
    save_skill(minimal_skill("cam", source=url), tmp_path / "s.skill.json")
    code = main(["validate", "s.skill.json"])
    out = capsys.readouterr()
    assert code == 1
    assert SECRET not in out.out + out.err
    assert f"{scheme}://" in out.out + out.err and "not supported" in out.out + out.err
    save_skill(minimal_skill("cam"), tmp_path / "t.skill.json")
    code = main(["run", "t.skill.json", "--source", url, "--max-frames", "1"])
    out = capsys.readouterr()
    assert code in (1, 2)
    assert SECRET not in out.out + out.err
    assert out.err.count("not supported") == 1, out.err


def kan_with(camera_ip: str, http_url: str = "https://h.example.com/in") -> dict:
    return {
        "apiVersion": "ai.symphony/v1",
        "kind": "Skill",
        "metadata": {"name": "s"},
        "spec": {
            "displayName": "S",
            "nodes": [
                {"id": "cam", "type": "source", "name": "rtsp", "configurations": {"ip": camera_ip}},
                {"id": "det", "type": "model", "name": "yolo", "configurations": {}},
                {"id": "out", "type": "export", "name": "http_export", "configurations": {"url": http_url}},
            ],
            "edges": [
                {"source": {"node": "cam", "route": "f"}, "target": {"node": "det", "route": "f"}},
                {"source": {"node": "det", "route": "f"}, "target": {"node": "out", "route": "f"}},
            ],
            "parameters": {},
        },
    }


@pytest.mark.parametrize(
    ("ip", "url"),
    [
        (f"rtsp://10.0.0.7/live?user=admin&password={SECRET}", "https://h.example.com/in"),
        (f"rtsp://admin:pa/{SECRET}@10.0.0.7/live", "https://h.example.com/in"),
        ("$param(rtsp)", f"https://h.example.com/in?token={SECRET}"),
    ],
)
def test_import_kan_moves_credentials_into_params(tmp_path, capsys, ip, url):
    source = tmp_path / "k.json"
    source.write_text(json.dumps(kan_with(ip, url)))
    assert main(["import-kan", str(source), "-o", str(tmp_path / "s.skill.json")]) == 0
    out = capsys.readouterr()
    text = (tmp_path / "s.skill.json").read_text()
    assert SECRET not in text and SECRET not in out.out + out.err
    assert "$param(" in text


def test_the_engine_masks_what_it_reports(tmp_path):
    from engine_helpers import Recorder

    from designer.core.engine.events import NodeErrorEvent
    from designer.core.engine.executor import Engine

    engine = Engine(minimal_skill("x", source="clip.avi"))
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.emit(NodeErrorEvent("x", f"cannot reach https://u:{SECRET}@h/x"))
    assert SECRET not in recorder.errors[0].message
