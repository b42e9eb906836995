"""Secrets never enter a package, a message or a log (issue 17, section 2), as a user runs the
commands: a skill with every node type and a secret in every place one can hide, each sample,
``$param`` defaults feeding secrets, and a run's log while an HTTP export posts to a URL whose
query holds a key."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from designer.core.engine.sources import mask_credentials
from designer.core.package.secrets import move_secrets
from designer.core.secrets import mask_secrets
from designer.core.skill import Skill, save_skill
from designer.core.skill.build import add_node, chain, connect
from designer.core.skill.catalog import CATALOG
from designer.core.skill.document import Settings, Tag
from tests.core.package.craft import cli, entries, one_line_refusal

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "resources" / "models"
SAMPLES = ROOT / "resources" / "samples"
CLIP = ROOT / "resources" / "video" / "vtest.avi"

#: Every secret, each one distinct so a leak names its place.
S = {
    "cam_url_password": "CamUrlPw-01",
    "cam_url_token": "CamTok-02",
    "cam_password": "CamPw-03",
    "db_pass": "DbPass-04",
    "mysql_pwd": "MyPwd-05",
    "api_token_env": "ApiTokEnv-06",
    "create_options_env": "CoEnv-07",
    "create_options_label": "CoLabel-08",
    "blob_key": "BlobKey-09",
    "hub_key": "HubKey-10",
    "mqtt_password": "MqttPw-11",
    "fn_code": "FnCode-12",
    "amz": "AmzSig-13",
    "goog": "GoogSig-14",
    "subscription": "SubKey-15",
    "api_key": "ApiKey-16",
    "apikey": "ApiKey2-17",
    "access_token": "AccTok-18",
    "bearer": "Bearer-19",
    "amz_credential": "AmzCred-20",
}
HTTP_URL = (
    "https://fn.example.net/api/ingest?code={fn_code}&X-Amz-Signature={amz}&X-Goog-Signature={goog}"
    "&subscription-key={subscription}&api-key={api_key}&apikey={apikey}&access_token={access_token}"
    "&X-Amz-Credential={amz_credential}&site=7"
).format(**S)


def every_secret_skill(folder: Path) -> Path:
    """Every node type once, with a secret in every secret field, URL, env row and create option."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
    shutil.copy2(MODELS / "color-classifier.labels.txt", folder / "colours.txt")
    skill = Skill(settings=Settings(name="Every Secret", tags=[Tag(name="site", value="7")]))
    add_node(
        skill,
        "camera@1",
        "cam",
        source=f"rtsp://admin:{S['cam_url_password']}@cam.example.net/live?token={S['cam_url_token']}",
        username="viewer",
        password=S["cam_password"],
    )
    add_node(skill, "model@1", "colour", model_path="colours.onnx", labels_path="colours.txt")
    add_node(skill, "filter@1", "filter")
    add_node(skill, "tracker@1", "tracker")
    add_node(skill, "zone@1", "zone")
    add_node(skill, "privacy-mask@1", "mask")
    add_node(skill, "grpc-endpoint@1", "endpoint", endpoint_url="grpc.example.net:50051")
    create_options = {
        "Env": [f"API_TOKEN={S['create_options_env']}", "LEVEL=1"],
        "Labels": {"auth_token": S["create_options_label"], "team": "vision"},
        "HostConfig": {},
    }
    add_node(
        skill,
        "grpc-container@1",
        "counter",
        container_name="counter",
        container_image="registry.example.net/counter:1.2",
        port=6677,
        create_options=json.dumps(create_options),
        env=[
            {"name": "DB_PASS", "value": S["db_pass"]},
            {"name": "MYSQL_PWD", "value": S["mysql_pwd"]},
            {"name": "SERVICE_AUTH", "value": S["api_token_env"]},
            {"name": "MODE", "value": "fast"},
        ],
    )
    blob = (
        f"DefaultEndpointsProtocol=https;AccountName=acct;accountkey={S['blob_key']};"
        "EndpointSuffix=core.windows.net"
    )
    add_node(skill, "video-snippet@1", "snip", filename_prefix="clip", blob_connection_string=blob)
    hub = f"HostName=hub.azure-devices.net;DeviceId=cam;sharedaccesskey={S['hub_key']}"
    add_node(skill, "iothub@1", "hub", connection_string=hub)
    add_node(skill, "iotedge@1", "edge", module_name="alerts", module_input="insights")
    add_node(skill, "mqtt@1", "mqtt", username="u", password=S["mqtt_password"])
    add_node(skill, "http@1", "http", url=HTTP_URL, bearer_token=S["bearer"])
    add_node(skill, "insights-log@1", "log")
    for a, b in itertools.pairwise(
        ["cam", "colour", "filter", "tracker", "zone", "mask", "endpoint", "counter"]
    ):
        connect(skill, a, b)
    for export in ("snip", "hub", "edge", "mqtt", "http", "log"):
        connect(skill, "counter", export)
    assert {node.type for node in skill.nodes} == set(CATALOG), "a node type is missing here"
    path = folder / "every.skill.json"
    save_skill(skill, path)
    return path


def _leaks(text: str | bytes) -> list[str]:
    data = text.encode() if isinstance(text, str) else text
    return sorted(name for name, secret in S.items() if secret.encode() in data)


def test_a_skill_with_every_node_type_exports_no_secret_anywhere(tmp_path):
    skill = every_secret_skill(tmp_path / "work")
    package = tmp_path / "every.zip"
    result = cli("export", str(skill), "-o", str(package), "--json")
    assert result.returncode == 0, result.stderr
    assert _leaks(result.stdout + result.stderr) == []
    for name, data in entries(package).items():
        assert _leaks(data) == [], name
    report = json.loads(result.stdout)
    for env in ("CONTAINER_COUNTER_DB_PASS", "CONTAINER_COUNTER_MYSQL_PWD", "CONTAINER_COUNTER_SERVICE_AUTH"):
        assert any(name.endswith(env.split("CONTAINER_")[1]) for name in report["required_env"]), report
    verify = cli("verify", str(package))
    assert verify.returncode == 0, verify.stderr
    assert _leaks(verify.stdout + verify.stderr) == []
    verify_json = cli("verify", "--json", str(package))
    assert _leaks(verify_json.stdout) == []
    # the create options still parse, their secrets now references the device fills
    skill_json = json.loads(entries(package)["skill.json"])
    counter = next(n for n in skill_json["nodes"] if n["id"] == "counter")
    options = json.loads(counter["params"]["create_options"])
    assert options["Env"][0].startswith("API_TOKEN=${") and options["Env"][1] == "LEVEL=1"
    assert options["Labels"]["team"] == "vision"


@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.skill.json")))
def test_each_sample_exports_verifies_and_holds_no_path_outside(sample, tmp_path):
    package = tmp_path / "sample.zip"
    result = cli("export", str(SAMPLES / sample), "-o", str(package))
    assert result.returncode == 0, result.stderr
    verify = cli("verify", str(package))
    assert verify.returncode == 0, verify.stderr
    skill_json = entries(package)["skill.json"].decode()
    assert "../" not in skill_json and str(ROOT) not in skill_json


def test_a_default_feeding_a_secret_is_refused(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
    skill = Skill(settings=Settings(name="Param secrets"))
    add_node(
        skill, "camera@1", "cam", source="rtsp://$param(user):$param(campw)@cam/live", password="$param(pw)"
    )
    add_node(skill, "model@1", "colour", model_path="colours.onnx")
    add_node(skill, "http@1", "http", url="https://fn.example.net/api?code=$param(code)&site=$param(site)")
    chain(skill, "cam", "colour", "http")
    path = folder / "p.skill.json"
    save_skill(skill, path)
    # a URL's user name moves out like its password: a default for it is refused too
    for name, value in (
        ("pw", "Hunter-21"),
        ("campw", "Hunter-22"),
        ("code", "Hunter-23"),
        ("user", "viewer"),
    ):
        out = tmp_path / f"{name}.zip"
        result = cli("export", str(path), "-o", str(out), "--default", f"{name}={value}", "--json")
        line = one_line_refusal(result)
        assert f"default for {name!r}" in line and "secret" in line and value not in line
        assert not out.exists()
    ok = cli("export", str(path), "-o", str(tmp_path / "ok.zip"), "--default", "site=7")
    assert ok.returncode == 0, ok.stderr


def test_a_description_or_tag_holding_a_secret_warns(tmp_path):
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
    skill = Skill(
        settings=Settings(
            name="Chatty",
            description="feed: rtsp://admin:Desc-24@cam/live",
            tags=[Tag(name="hub", value="HostName=h;DeviceId=d;SharedAccessKey=Tag-25")],
        )
    )
    add_node(skill, "camera@1", "cam", source="0")
    add_node(skill, "model@1", "colour", model_path="colours.onnx")
    add_node(skill, "insights-log@1", "log")
    chain(skill, "cam", "colour", "log")
    path = folder / "c.skill.json"
    save_skill(skill, path)
    result = cli("export", str(path), "-o", str(tmp_path / "c.zip"))
    assert result.returncode == 0, result.stderr
    assert "the skill's description holds what looks like a secret" in result.stderr
    assert "tag 'hub' holds what looks like a secret" in result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert not any("Desc-24" in line or "Tag-25" in line for line in warnings)


def test_one_masking_rule_for_camera_urls_and_messages():
    url = "rtsp://admin:pw@cam/live?token=abc&channel=1"
    assert mask_credentials(url) == mask_secrets(url) == "rtsp://***:***@cam/live?token=***&channel=1"


def test_lower_case_connection_string_keys_move_out():
    skill = Skill(settings=Settings(name="x"))
    add_node(skill, "iothub@1", "hub", connection_string="hostname=h;deviceid=d;sharedaccesskey=Low-26")
    packaged, moved = move_secrets(skill)
    assert moved and "Low-26" not in json.dumps(packaged.model_dump())


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_run_posting_to_a_url_with_a_key_logs_no_key(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        folder = tmp_path / "work"
        folder.mkdir()
        shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
        skill = Skill(settings=Settings(name="Poster"))
        add_node(skill, "camera@1", "cam", source=str(CLIP))
        add_node(skill, "model@1", "colour", model_path="colours.onnx")
        url = f"http://127.0.0.1:{server.server_port}/api/ingest?code=RunCode-27&site=7"
        add_node(skill, "http@1", "http", url=url)
        chain(skill, "cam", "colour", "http")
        path = folder / "post.skill.json"
        save_skill(skill, path)
        data = tmp_path / "data"
        env = {**os.environ, "SKILL_DESIGNER_DATA": str(data)}
        result = cli(
            "run", str(path), "--max-frames", "3", "--realtime", "off", "--quiet", env=env, cwd=tmp_path
        )
        assert result.returncode == 0, result.stderr
        assert "RunCode-27" not in result.stdout + result.stderr
        logs = list(data.rglob("run.log*"))
        assert logs, "the run wrote no run.log"
        assert all("RunCode-27" not in p.read_text(encoding="utf-8") for p in logs)
    finally:
        server.shutdown()
        server.server_close()
