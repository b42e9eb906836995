"""Fixtures for the model library: a real Azurite blob service and tiny real ONNX models."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[3]
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, documented; not a secret).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
INSTALL_HINT = (
    "Azurite (the Azure Storage emulator) is needed for these tests and was not found. "
    "Install it with `npm install --prefix .tools azurite@3` in the repository root, "
    "or set AZURITE_BLOB to the path of the azurite-blob executable."
)


def find_azurite() -> str:
    """``$AZURITE_BLOB``, else ``<repo>/.tools/node_modules/.bin/azurite-blob``, else PATH."""
    env = os.environ.get("AZURITE_BLOB")
    if env:
        if not Path(env).is_file():
            pytest.fail(f"AZURITE_BLOB={env} does not exist. {INSTALL_HINT}", pytrace=False)
        return env
    local = REPO / ".tools" / "node_modules" / ".bin" / "azurite-blob"
    if local.is_file():
        return str(local)
    found = shutil.which("azurite-blob")
    if found is None:
        pytest.fail(INSTALL_HINT, pytrace=False)
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Azurite:
    """A running Azurite blob service that a test may stop and start again (same port and
    data folder), to cut a download off mid-transfer."""

    executable: str
    port: int
    location: Path
    process: subprocess.Popen | None = None

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    account_name = ACCOUNT
    account_key = ACCOUNT_KEY

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.account_url};"
        )

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.executable,
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                str(self.port),
                "--location",
                str(self.location),
                "--disableTelemetry",
                "--skipApiVersionCheck",
                "--silent",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace") if self.process.stderr else ""
                pytest.fail(f"azurite-blob exited at start ({self.process.returncode}): {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail(f"azurite-blob did not listen on 127.0.0.1:{self.port} within 30 s")

    def stop(self) -> None:
        """Kill the emulator at once (what a dropped connection looks like to the client)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stderr:
            self.process.stderr.close()


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    server = Azurite(find_azurite(), free_port(), tmp_path_factory.mktemp("azurite"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def azurite_factory(tmp_path: Path):
    """Start private Azurite instances that a test may freeze or kill without hurting others."""
    started: list[Azurite] = []

    def start() -> Azurite:
        location = tmp_path / f"azurite-{len(started)}"
        location.mkdir()
        server = Azurite(find_azurite(), free_port(), location)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def connection_string(azurite: Azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def container(azurite: Azurite):
    """A fresh container per test (named after it), as a ContainerClient."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    name = f"t{uuid.uuid4().hex[:20]}"
    client = service.create_container(name)
    yield client
    if azurite.process is not None and azurite.process.poll() is None:
        client.delete_container()


def tiny_detector(
    path: Path,
    num_classes: int = 3,
    *,
    size: int = 32,
    boxes: int = 100,
    dynamic: bool = False,
    metadata: dict[str, str] | None = None,
) -> Path:
    """A real YOLOv5-style ONNX detector: input [1, 3, size, size] -> [1, boxes, 5 + C].

    The output is a constant (a learned bias) plus 0 x the mean pixel, so it runs in
    onnxruntime and its result does not depend on the frame."""
    rng = np.random.default_rng(0)
    bias = rng.uniform(0.0, 1.0, (1, boxes, 5 + num_classes)).astype(np.float32)
    dims: list = ["batch", 3, "height", "width"] if dynamic else [1, 3, size, size]
    out_dims: list = ["batch", boxes, 5 + num_classes] if dynamic else [1, boxes, 5 + num_classes]
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["images"], ["mean"], keepdims=0),
            helper.make_node("Mul", ["mean", "zero"], ["nothing"]),
            helper.make_node("Add", ["bias", "nothing"], ["output"]),
        ],
        "tiny_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_dims)],
        initializer=[
            numpy_helper.from_array(bias, "bias"),
            numpy_helper.from_array(np.zeros((), np.float32), "zero"),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    for key, value in (metadata or {}).items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=key, value=value))
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def tiny_classifier(path: Path, num_classes: int = 4, size: int = 16) -> Path:
    """A real classifier: input [1, 3, size, size] -> logits [1, C]."""
    weights = np.linspace(-1, 1, 3 * num_classes, dtype=np.float32).reshape(3, num_classes)
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["pooled"], axes=[2, 3], keepdims=0),
            helper.make_node("MatMul", ["pooled", "w"], ["logits"]),
        ],
        "tiny_classifier",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, num_classes])],
        initializer=[numpy_helper.from_array(weights, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


def write_labels(path: Path, labels: list[str]) -> Path:
    path.write_text("\n".join(labels) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def make_detector():
    return tiny_detector


@pytest.fixture
def make_classifier():
    return tiny_classifier


@pytest.fixture
def detector(tmp_path: Path) -> Path:
    return tiny_detector(tmp_path / "tiny-det.onnx")


@pytest.fixture
def detector_labels(tmp_path: Path) -> Path:
    return write_labels(tmp_path / "tiny-det.labels.txt", ["person", "fork lift", "pallet"])


@pytest.fixture
def library(tmp_path: Path):
    from designer.core.models.blob import RetryPolicy
    from designer.core.models.library import ModelLibrary

    quick = RetryPolicy(attempts=3, backoff_s=0.1, max_backoff_s=0.5, connect_timeout_s=2, read_timeout_s=5)
    return ModelLibrary(tmp_path / "data", retry=quick)
