"""Adding models from Azure Blob storage (a real Azurite service)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobSasPermissions, BlobServiceClient, generate_blob_sas

from designer.core.models.blob import BlobAccess, BlobError
from designer.core.models.errors import LabelError, ModelError
from designer.core.models.library import ModelLibrary
from designer.core.models.registry import BlobSource


def nothing_kept(library: ModelLibrary) -> bool:
    files = library.cache.files
    staging = library.cache.staging
    return (
        library.list() == []
        and not (files.exists() and any(files.iterdir()))
        and not (staging.exists() and any(staging.iterdir()))
    )


@pytest.fixture
def uploaded(container, detector: Path, detector_labels: Path):
    container.upload_blob("models/det.onnx", detector.read_bytes())
    container.upload_blob("models/det.labels.txt", detector_labels.read_bytes())
    return container


def test_add_from_blob_with_connection_string(
    library: ModelLibrary, connection_string: str, uploaded, detector: Path
):
    access = BlobAccess.from_connection_string(connection_string, uploaded.container_name, "models/det.onnx")
    calls: list[tuple[str, int, int]] = []
    entry = library.add(
        "Blob Det",
        "detection",
        access,
        access.sibling("models/det.labels.txt"),
        progress=lambda what, d, t: calls.append((what, d, t)),
    )

    assert entry.labels == ["person", "fork lift", "pallet"]
    source = entry.model_file.source
    assert isinstance(source, BlobSource) and source.blob == "models/det.onnx"
    assert source.container == uploaded.container_name and source.etag
    size = detector.stat().st_size
    assert ("model: models/det.onnx", size, size) in calls
    assert any(what.startswith("labels:") for what, _, _ in calls)
    onnx_path, _, _ = library.resolve("blob-det")
    assert onnx_path.read_bytes() == detector.read_bytes()

    registry_text = (library.data / "model-library.json").read_text()
    assert "AccountKey" not in registry_text and "Eby8vdM02" not in registry_text


def test_add_from_sas_url(library: ModelLibrary, azurite, uploaded):
    sas = generate_blob_sas(
        azurite.account_name,
        uploaded.container_name,
        "models/det.onnx",
        account_key=azurite.account_key,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    url = f"{azurite.account_url}/{uploaded.container_name}/models/det.onnx?{sas}"
    entry = library.add("sas det", "detection", BlobAccess.from_url(url))
    assert entry.model_file.source.describe().endswith("/models/det.onnx")
    assert "sig=" not in (library.data / "model-library.json").read_text()


def test_unchanged_blob_is_not_downloaded_again_and_changed_one_is(
    library: ModelLibrary, connection_string: str, uploaded, make_detector, tmp_path: Path
):
    access = BlobAccess.from_connection_string(connection_string, uploaded.container_name, "models/det.onnx")
    first = library.add("first", "detection", access)

    calls: list[int] = []
    second = library.add("second", "detection", access, progress=lambda w, d, t: calls.append(d))
    assert calls == [], "same etag: the cached file is used"
    assert second.model_file.sha256 == first.model_file.sha256

    entry, changed = library.refresh("first", access, progress=lambda w, d, t: calls.append(d))
    assert not changed and calls == [] and entry == library.get("first")

    newer = make_detector(tmp_path / "newer.onnx", boxes=200)
    uploaded.upload_blob("models/det.onnx", newer.read_bytes(), overwrite=True)
    entry, changed = library.refresh("first", access, progress=lambda w, d, t: calls.append(d))
    assert changed and calls
    assert entry.model_file.sha256 != first.model_file.sha256
    assert entry.model_file.source.etag != first.model_file.source.etag
    assert entry.info.outputs[0].shape == [1, 200, 8]
    onnx_path, _, _ = library.resolve("first")
    assert onnx_path.read_bytes() == newer.read_bytes()
    # "second" still has the old version, so the old file stays in the cache
    assert library.resolve("second")[0].read_bytes() != newer.read_bytes()


def test_refresh_of_a_local_model_is_refused(
    library: ModelLibrary, detector: Path, connection_string: str, uploaded
):
    library.add("local", "detection", detector)
    access = BlobAccess.from_connection_string(connection_string, uploaded.container_name, "models/det.onnx")
    with pytest.raises(ModelError, match="added from a local file"):
        library.refresh("local", access)


def test_wrong_credentials_keep_nothing(library: ModelLibrary, azurite, uploaded):
    wrong = azurite.connection_string.replace(azurite.account_key, "d3Jvbmc=" * 11)
    access = BlobAccess.from_connection_string(wrong, uploaded.container_name, "models/det.onnx")
    with pytest.raises(BlobError, match="credentials were refused"):
        library.add("det", "detection", access)
    assert nothing_kept(library)


def test_missing_container_and_blob(library: ModelLibrary, connection_string: str, uploaded):
    with pytest.raises(BlobError, match="container 'absent' does not exist"):
        library.add(
            "det", "detection", BlobAccess.from_connection_string(connection_string, "absent", "m.onnx")
        )
    with pytest.raises(BlobError, match="no such blob"):
        library.add(
            "det",
            "detection",
            BlobAccess.from_connection_string(connection_string, uploaded.container_name, "models/typo.onnx"),
        )
    access = BlobAccess.from_connection_string(connection_string, uploaded.container_name, "models/det.onnx")
    with pytest.raises(BlobError, match="no such blob"):
        library.add("det", "detection", access, access.sibling("models/missing-labels.txt"))
    assert nothing_kept(library)


def test_truncated_onnx_blob_names_the_blob(
    library: ModelLibrary, connection_string: str, container, detector: Path
):
    container.upload_blob("cut.onnx", detector.read_bytes()[:1000])
    access = BlobAccess.from_connection_string(connection_string, container.container_name, "cut.onnx")
    with pytest.raises(ModelError) as info:
        library.add("cut", "detection", access)
    assert f"{container.container_name}/cut.onnx" in str(info.value)
    assert "staging" not in str(info.value)
    assert nothing_kept(library)


def test_label_blob_in_wrong_encoding(library: ModelLibrary, connection_string: str, uploaded):
    uploaded.upload_blob("models/latin1.txt", "person\nfork lift\npal\u00e9tte\n".encode("cp1252"))
    access = BlobAccess.from_connection_string(connection_string, uploaded.container_name, "models/det.onnx")
    with pytest.raises(LabelError, match="line 3 is not valid UTF-8") as info:
        library.add("det", "detection", access, access.sibling("models/latin1.txt"))
    assert "models/latin1.txt" in str(info.value)
    assert nothing_kept(library)


def test_connection_dropped_mid_download_keeps_nothing(library: ModelLibrary, azurite_factory):
    server = azurite_factory()
    service = BlobServiceClient.from_connection_string(server.connection_string)
    service.create_container("drop").upload_blob("big.onnx", os.urandom(50 * 1024 * 1024))
    access = BlobAccess.from_connection_string(server.connection_string, "drop", "big.onnx")
    seen: list[int] = []

    def progress(what: str, done: int, total: int) -> None:
        seen.append(done)
        if done >= 8 * 1024 * 1024:
            server.stop()

    retries: list[str] = []
    library.on_retry = retries.append
    with pytest.raises(BlobError, match=r"failed 3 times in a row at byte \d+ of 52428800"):
        library.add("big", "detection", access, progress=progress)
    assert len(retries) == 2 and "resuming there" in retries[0]
    assert max(seen) < 50 * 1024 * 1024
    assert nothing_kept(library)
