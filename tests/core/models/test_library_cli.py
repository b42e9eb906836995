"""`skill-designer models ...` end to end, in process, with a real Azurite for blob adds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from designer.cli import main
from designer.commands.models import CONNECTION_ENV
from designer.core.paths import DATA_ENV


@pytest.fixture
def cli(tmp_path: Path, monkeypatch, capsys):
    """Run the CLI against a private library; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.delenv(CONNECTION_ENV, raising=False)

    def run(*argv: str) -> tuple[int, str, str]:
        try:
            code = main(["models", *argv])
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_add_list_show_remove_a_local_model(cli, detector: Path, detector_labels: Path):
    code, out, err = cli(
        "add",
        "--name",
        "Forklift Detector",
        "--type",
        "detection",
        "--file",
        str(detector),
        "--labels",
        str(detector_labels),
        "--tag",
        "site=north",
        "--description",
        "warehouse",
        "--json",
    )
    assert code == 0, err
    added = json.loads(out)
    assert added["id"] == "forklift-detector" and added["tags"] == {"site": "north"}

    code, out, _ = cli("list", "--json")
    assert code == 0 and [m["id"] for m in json.loads(out)] == ["forklift-detector"]

    code, out, _ = cli("list")
    assert code == 0 and "forklift-detector" in out and "yolov5" in out

    code, out, _ = cli("show", "forklift-detector")
    assert code == 0
    for expected in (
        "yolov5",
        "fork lift",
        "images [1, 3, 32, 32]",
        "ms on a blank frame",
        "site=north",
        str(detector.resolve()),
    ):
        assert expected in out

    code, out, _ = cli("verify")
    assert code == 0 and "match their SHA-256" in out

    code, out, _ = cli("remove", "forklift-detector")
    assert code == 0 and "removed forklift-detector" in out
    code, out, _ = cli("list", "--json")
    assert json.loads(out) == []


def test_add_from_blob_with_connection_string_from_env(
    cli, monkeypatch, connection_string, container, detector: Path, detector_labels: Path
):
    container.upload_blob("det.onnx", detector.read_bytes())
    container.upload_blob("det.labels.txt", detector_labels.read_bytes())
    monkeypatch.setenv(CONNECTION_ENV, connection_string)
    code, out, err = cli(
        "add",
        "--name",
        "blob det",
        "--type",
        "detection",
        "--container",
        container.container_name,
        "--blob",
        "det.onnx",
        "--labels",
        "det.labels.txt",
        "--json",
    )
    assert code == 0, err
    entry = json.loads(out)
    assert entry["model_file"]["source"]["kind"] == "blob"
    assert entry["labels_file"]["source"]["blob"] == "det.labels.txt"
    assert entry["info"]["labels"] == ["person", "fork lift", "pallet"]

    code, out, _ = cli("refresh", "blob-det", "--json")
    assert code == 0 and json.loads(out)["changed"] is False


def test_add_from_blob_url_with_explicit_connection_string(
    cli, connection_string, container, detector: Path, azurite
):
    container.upload_blob("dir/det.onnx", detector.read_bytes())
    code, out, err = cli(
        "add",
        "--name",
        "cs",
        "--type",
        "detection",
        "--connection-string",
        connection_string,
        "--container",
        container.container_name,
        "--blob",
        "dir/det.onnx",
    )
    assert code == 0, err
    assert out.startswith("added cs: detection, layout yolov5")


@pytest.mark.parametrize(
    "argv",
    [
        ("add", "--name", "x", "--type", "detection"),
        ("add", "--name", "x", "--type", "detection", "--file", "m.onnx", "--container", "c"),
        ("add", "--name", "x", "--type", "detection", "--file", "m.onnx", "--tag", "novalue"),
        ("add", "--name", "x", "--type", "detection", "--file", "m.onnx", "--tag", "a=1", "--tag", "a=2"),
        ("add", "--name", "x", "--type", "detection", "--container", "c", "--blob", "b"),
        ("add", "--name", "x", "--type", "segmentation", "--file", "m.onnx"),
        ("add", "--name", "x", "--type", "detection", "--file", "m.onnx", "--blob-url", "u"),
        ("add", "--name", "x", "--type", "detection", "--file", "m.onnx", "--layout", "{bad"),
        ("show",),
        (),
    ],
    ids=[
        "no-source",
        "file-and-container",
        "bad-tag",
        "tag-twice",
        "no-credentials",
        "bad-type",
        "two-sources",
        "bad-layout-json",
        "show-without-id",
        "no-action",
    ],
)
def test_usage_errors_exit_2_without_traceback(cli, argv):
    code, _, err = cli(*argv)
    assert code == 2
    assert "Traceback" not in err and err.strip()


def test_bad_inputs_exit_1_with_one_clear_line(cli, tmp_path: Path, detector: Path):
    not_onnx = tmp_path / "notes.onnx"
    not_onnx.write_text("just text")
    cases = [
        (("add", "--name", "a", "--type", "detection", "--file", str(not_onnx)), "notes.onnx"),
        (
            ("add", "--name", "b", "--type", "detection", "--file", str(tmp_path / "gone.onnx")),
            "no such file",
        ),
        (("add", "--name", "c", "--type", "detection", "--blob-url", "ftp://x/y/z"), "expected https://"),
        (
            (
                "add",
                "--name",
                "d",
                "--type",
                "detection",
                "--connection-string",
                "nonsense",
                "--container",
                "models",
                "--blob",
                "m.onnx",
            ),
            "blank or malformed",
        ),
        (("show", "ghost"), "'ghost' is not in the model library"),
        (("remove", "ghost"), "'ghost' is not in the model library"),
    ]
    for argv, expected in cases:
        code, _, err = cli(*argv)
        assert code == 1, argv
        assert err.startswith("error: ") and expected in err and "Traceback" not in err

    assert cli("add", "--name", "det", "--type", "detection", "--file", str(detector))[0] == 0
    code, _, err = cli("add", "--name", "DET", "--type", "detection", "--file", str(detector))
    assert code == 1 and "already has 'det'" in err


def test_dynamic_model_added_with_preprocess_overrides(cli, make_detector, tmp_path: Path):
    dynamic = make_detector(tmp_path / "dyn.onnx", dynamic=True)
    code, _, err = cli("add", "--name", "dyn", "--type", "detection", "--file", str(dynamic))
    assert code == 1 and "width=..., height=..." in err
    code, out, err = cli(
        "add",
        "--name",
        "dyn",
        "--type",
        "detection",
        "--file",
        str(dynamic),
        "--preprocess",
        "width=96",
        "--preprocess",
        "height=64",
        "--json",
    )
    assert code == 0, err
    preprocess = json.loads(out)["info"]["preprocess"]
    assert (preprocess["width"], preprocess["height"]) == (96, 64)


def test_verify_fails_when_a_cached_file_is_damaged(cli, detector: Path, tmp_path: Path):
    assert cli("add", "--name", "det", "--type", "detection", "--file", str(detector))[0] == 0
    cached = next((tmp_path / "data" / "cache" / "sha256").iterdir())
    os.chmod(cached, 0o644)
    cached.write_bytes(b"bit rot")
    code, out, err = cli("verify")
    assert code == 1 and "is damaged" in err and "models remove det" in err
    code, out, _ = cli("verify", "--json")
    assert code == 1 and json.loads(out)[0]["model_id"] == "det"


def test_sas_url_with_labels_next_to_the_model_and_refresh(
    cli,
    monkeypatch,
    azurite,
    container,
    connection_string,
    detector: Path,
    detector_labels: Path,
    make_detector,
    tmp_path: Path,
):
    from datetime import UTC, datetime, timedelta

    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    container.upload_blob("m/det.onnx", detector.read_bytes())
    container.upload_blob("m/det.labels.txt", detector_labels.read_bytes())
    sas = generate_container_sas(
        azurite.account_name,
        container.container_name,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    url = f"{azurite.account_url}/{container.container_name}/m/det.onnx?{sas}"
    code, out, err = cli(
        "add",
        "--name",
        "sas",
        "--type",
        "detection",
        "--blob-url",
        url,
        "--labels",
        "m/det.labels.txt",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["info"]["labels"] == ["person", "fork lift", "pallet"]
    assert sas.split("sig=")[1][:10] not in (tmp_path / "data" / "model-library.json").read_text()

    code, out, err = cli("refresh", "sas", "--sas-token", sas)
    assert code == 0 and "unchanged (same etag)" in out, err
    bigger = make_detector(tmp_path / "bigger.onnx", boxes=300)
    container.upload_blob("m/det.onnx", bigger.read_bytes(), overwrite=True)
    monkeypatch.setenv(CONNECTION_ENV, connection_string)
    code, out, err = cli("refresh", "sas", "--json")
    assert code == 0, err
    result = json.loads(out)
    assert result["changed"] and result["entry"]["info"]["outputs"][0]["shape"] == [1, 300, 8]
    assert result["entry"]["labels_file"]["source"]["blob"] == "m/det.labels.txt"


def test_refresh_of_a_local_model_fails_clearly(cli, detector: Path):
    assert cli("add", "--name", "det", "--type", "detection", "--file", str(detector))[0] == 0
    code, _, err = cli("refresh", "det")
    assert code == 1 and "added from a local file" in err
