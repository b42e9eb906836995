"""`skill-designer publish` to Azure Blob storage (a real Azurite), and the runtime taking the package
from there: download, digest check, cache, run; a new digest is the update."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient, ContainerSasPermissions, generate_container_sas

from designer.core.package import export_package
from designer.core.skill import load_skill
from designer.core.skill.build import add_node, connect

from . import deploy_checks
from .pkg_helpers import ROOT, tiny_skill, write_skill

ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CLIP = ROOT / "resources" / "video" / "vtest.avi"
CONTAINER = "packages"


def _azurite_executable() -> str:
    local = ROOT / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    found = os.environ.get("AZURITE_BLOB") or (
        str(local) if local.is_file() else shutil.which("azurite-blob")
    )
    if not found:
        pytest.fail("Azurite is needed: npm install --prefix .tools azurite@3 (see .ci/run)", pytrace=False)
    return found


class Blob:
    def __init__(self, folder: Path) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.folder = folder
        self.process: subprocess.Popen | None = None

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={self.account_url};"
        )

    def start(self) -> None:
        args = ["--blobHost", "127.0.0.1", "--blobPort", str(self.port), "--location", str(self.folder)]
        self.process = subprocess.Popen(
            [_azurite_executable(), *args, "--disableTelemetry", "--skipApiVersionCheck", "--silent"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        pytest.fail("azurite-blob did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def read_sas(self) -> str:
        expiry = datetime.now(UTC) + timedelta(hours=1)
        permission = ContainerSasPermissions(read=True)
        return generate_container_sas(
            ACCOUNT, CONTAINER, account_key=KEY, permission=permission, expiry=expiry
        )


@pytest.fixture
def blob(tmp_path: Path) -> Iterator[Blob]:
    server = Blob(tmp_path / "azurite")
    server.folder.mkdir()
    server.start()
    BlobServiceClient.from_connection_string(server.connection_string).create_container(CONTAINER)
    try:
        yield server
    finally:
        server.stop()


def _cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    code = "import sys; from designer.cli import main; sys.exit(main())"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        check=False,
    )


def _package(skill_dir: Path, out: Path, hub: bool = True) -> Path:
    skill = tiny_skill()
    if hub:  # an IoT Hub export: an edgeHub route (named from an id with a dot)
        add_node(skill, "iothub@1", "hub.main", output_name="metrics")
        connect(skill, "colour", "hub.main")
    path = write_skill(skill_dir, skill)
    export_package(load_skill(path), path, out, runtime_image="registry.example.com/skill-runtime:0.1.0")
    return out


def test_publish_uploads_once_and_writes_deploy_files_that_fetch_the_blob(blob, skill_dir, tmp_path):
    package = _package(skill_dir, tmp_path / "tiny.zip")
    args = ["publish", str(package), "--container", CONTAINER, "--json", "-o", str(tmp_path / "deploy")]
    result = _cli(
        *args,
        "--param",
        "rtsp=rtsp://10.0.0.7/s",
        "--kan-model",
        "colour=model-colour",
        env={"AZURE_STORAGE_CONNECTION_STRING": blob.connection_string},
    )
    assert result.returncode == 0, result.stderr
    published = json.loads(result.stdout)
    import hashlib

    sha = hashlib.sha256(package.read_bytes()).hexdigest()
    assert published["sha256"] == sha and published["uploaded"] is True
    assert published["url"] == f"{blob.account_url}/{CONTAINER}/tiny-colours/{sha}.zip"
    client = BlobServiceClient.from_connection_string(blob.connection_string).get_blob_client(
        CONTAINER, f"tiny-colours/{sha}.zip"
    )
    props = client.get_blob_properties()
    assert props.size == package.stat().st_size and props.metadata["sha256"] == sha
    assert KEY not in result.stdout + result.stderr

    # The deploy files name the blob and the digest instead of a file on the device.
    deployment = json.loads((tmp_path / "deploy" / "iotedge" / "deployment.json").read_text())
    assert deploy_checks.check_iotedge(deployment) == []
    runtime = deployment["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["tiny-colours"]
    assert runtime["env"]["SKILL_PACKAGE_URL"] == {"value": published["url"]}
    assert runtime["env"]["SKILL_PACKAGE_SHA256"] == {"value": sha}
    assert "package.zip" not in json.dumps(runtime["settings"])
    layered = json.loads((tmp_path / "deploy" / "iotedge" / "layered.json").read_text())
    assert deploy_checks.check_layered(layered) == []
    k8s = (tmp_path / "deploy" / "k8s" / "runtime.yaml").read_text()
    assert deploy_checks.check_kubernetes(k8s) == []
    assert sha in k8s and "hostPath" not in k8s

    again = _cli(
        "publish", str(package), "--connection-string", blob.connection_string, "--container", CONTAINER
    )
    assert again.returncode == 0 and again.stdout.startswith("already there: ")


def test_the_runtime_downloads_verifies_caches_and_updates(blob, skill_dir, tmp_path):
    first = _package(skill_dir, tmp_path / "v1.zip", hub=False)
    skill = tiny_skill()
    skill.settings.fps = 5  # a change: a different package, a different digest
    path = write_skill(skill_dir, skill)
    second = tmp_path / "v2.zip"
    export_package(load_skill(path), path, second)
    urls = {}
    for package in (first, second):
        result = _cli(
            "publish",
            str(package),
            "--connection-string",
            blob.connection_string,
            "--container",
            CONTAINER,
            "--json",
        )
        assert result.returncode == 0, result.stderr
        urls[package] = json.loads(result.stdout)
    assert urls[first]["sha256"] != urls[second]["sha256"]

    cache = tmp_path / "cache"
    work = tmp_path / "work"
    work.mkdir()

    def run(published: dict, sha: str | None = None) -> subprocess.CompletedProcess:
        env = {
            "SKILL_PACKAGE_URL": published["url"],
            "SKILL_PACKAGE_SHA256": sha or published["sha256"],
            "SKILL_PACKAGE_SAS": blob.read_sas(),
            "SKILL_PACKAGE_CACHE": str(cache),
            "SKILL_PARAM_RTSP": str(CLIP),
        }
        args = ["run", "/package.zip", "--max-frames", "3", "--realtime", "off", "--quiet"]
        return _cli(*args, "--insights", "out.jsonl", env=env, cwd=work)

    result = run(urls[first])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in cache.iterdir()) == [f"{urls[first]['sha256']}.zip"]
    assert len((work / "out.jsonl").read_text().splitlines()) == 3

    # A digest the blob does not have: refused in one line, nothing kept.
    wrong = run(urls[first], sha="0" * 64)
    assert wrong.returncode == 2 and "refusing it" in wrong.stderr and "Traceback" not in wrong.stderr
    assert sorted(p.name for p in cache.iterdir()) == [f"{urls[first]['sha256']}.zip"]

    # The update: a new digest downloads the new package and drops the old one.
    assert run(urls[second]).returncode == 0
    assert sorted(p.name for p in cache.iterdir()) == [f"{urls[second]['sha256']}.zip"]

    # Cached: the next start runs without the storage service.
    blob.stop()
    assert run(urls[second]).returncode == 0


def test_publish_refuses_clearly(blob, skill_dir, tmp_path):
    package = _package(skill_dir, tmp_path / "tiny.zip")
    read_only = f"{blob.account_url}/{CONTAINER}?{blob.read_sas()}"
    result = _cli("publish", str(package), "--container-url", read_only)
    assert result.returncode == 1 and "access refused (403)" in result.stderr
    assert "sig=" not in result.stderr and "Traceback" not in result.stderr
    result = _cli(
        "publish", str(package), "--connection-string", blob.connection_string, "--container", "nope"
    )
    assert result.returncode == 1 and "the container does not exist" in result.stderr
    tampered = tmp_path / "tampered.zip"
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tampered.write_bytes(bytes(data))
    result = _cli(
        "publish", str(tampered), "--connection-string", blob.connection_string, "--container", CONTAINER
    )
    assert result.returncode == 1 and "error:" in result.stderr
