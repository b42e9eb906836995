"""Blob downloads against a real Azurite blob service."""

from __future__ import annotations

import base64
import hashlib
import os
import signal
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.storage.blob import BlobSasPermissions, ContentSettings, generate_blob_sas

from designer.core.models.blob import (
    BlobAccess,
    BlobError,
    RetryPolicy,
    blob_state,
    download,
    split_blob_url,
)

QUICK = RetryPolicy(attempts=3, backoff_s=0.1, max_backoff_s=0.3, connect_timeout_s=2, read_timeout_s=5)
MB = 1024 * 1024


@pytest.fixture(scope="module")
def big_blob(azurite):
    """A 50 MB blob of random bytes (uploaded once per module) and its SHA-256."""
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.create_container("bigfiles")
    data = os.urandom(50 * MB)
    container.upload_blob("big/model.bin", data, overwrite=True)
    yield "bigfiles", "big/model.bin", hashlib.sha256(data).hexdigest()
    container.delete_container()


def test_streams_a_50mb_blob_with_progress_and_checksums(connection_string: str, big_blob, tmp_path: Path):
    container, blob, sha = big_blob
    access = BlobAccess.from_connection_string(connection_string, container, blob)
    state = blob_state(access, QUICK)
    assert state.size == 50 * MB and state.content_md5 is not None

    calls: list[tuple[int, int]] = []
    result = download(access, tmp_path / "out", progress=lambda d, t: calls.append((d, t)), retry=QUICK)

    assert result.sha256 == sha
    assert hashlib.sha256((tmp_path / "out").read_bytes()).hexdigest() == sha
    assert calls[0] == (0, 50 * MB) and calls[-1] == (50 * MB, 50 * MB)
    between = [d for d, _ in calls if 0 < d < 50 * MB]
    assert len(between) >= 3, "progress must be reported while the download runs, not at the end"
    done = [d for d, _ in calls]
    assert done == sorted(done)


def test_wrong_content_md5_is_refused(connection_string: str, container, tmp_path: Path):
    blob = container.upload_blob("labels.txt", b"person\ncar\n")
    blob.set_http_headers(ContentSettings(content_md5=hashlib.md5(b"something else").digest()))
    access = BlobAccess.from_connection_string(connection_string, container.container_name, "labels.txt")
    with pytest.raises(BlobError, match="Content-MD5 mismatch"):
        download(access, tmp_path / "out", retry=QUICK)


def test_etag_changes_when_the_blob_changes(connection_string: str, container, tmp_path: Path):
    container.upload_blob("m.bin", b"version one")
    access = BlobAccess.from_connection_string(connection_string, container.container_name, "m.bin")
    first = download(access, tmp_path / "a", retry=QUICK)
    assert blob_state(access, QUICK).etag == first.state.etag
    container.upload_blob("m.bin", b"version two!", overwrite=True)
    second = download(access, tmp_path / "b", retry=QUICK)
    assert second.state.etag != first.state.etag
    assert (tmp_path / "b").read_bytes() == b"version two!"
    expected_md5 = base64.b64encode(hashlib.md5(b"version two!").digest())
    assert base64.b64encode(second.state.content_md5) == expected_md5


def test_empty_blob_downloads_as_empty_file(connection_string: str, container, tmp_path: Path):
    container.upload_blob("empty.txt", b"")
    access = BlobAccess.from_connection_string(connection_string, container.container_name, "empty.txt")
    result = download(access, tmp_path / "out", retry=QUICK)
    assert (tmp_path / "out").read_bytes() == b""
    assert result.sha256 == hashlib.sha256(b"").hexdigest()


def test_sas_url_reads_the_blob(azurite, container, tmp_path: Path):
    container.upload_blob("dir/m.bin", b"payload")
    sas = generate_blob_sas(
        azurite.account_name,
        container.container_name,
        "dir/m.bin",
        account_key=azurite.account_key,
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    url = f"{azurite.account_url}/{container.container_name}/dir/m.bin?{sas}"
    access = BlobAccess.from_url(url)
    assert "sig=" not in repr(access) and access.blob == "dir/m.bin"
    download(access, tmp_path / "out", retry=QUICK)
    assert (tmp_path / "out").read_bytes() == b"payload"


def test_wrong_account_key_is_reported_as_refused_credentials(azurite, container, tmp_path: Path):
    container.upload_blob("m.bin", b"payload")
    wrong = azurite.connection_string.replace(azurite.account_key, base64.b64encode(b"x" * 64).decode())
    access = BlobAccess.from_connection_string(wrong, container.container_name, "m.bin")
    with pytest.raises(BlobError, match="credentials were refused"):
        download(access, tmp_path / "out", retry=QUICK)


def test_forged_sas_token_is_reported_as_refused_credentials(azurite, container):
    container.upload_blob("m.bin", b"payload")
    sas = generate_blob_sas(
        azurite.account_name,
        container.container_name,
        "m.bin",
        account_key=base64.b64encode(b"y" * 64).decode(),
        permission=BlobSasPermissions(read=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    access = BlobAccess.from_url(f"{azurite.account_url}/{container.container_name}/m.bin", sas_token=sas)
    with pytest.raises(BlobError, match="credentials were refused"):
        blob_state(access, QUICK)


def test_missing_container_and_missing_blob_are_told_apart(connection_string: str, container):
    no_container = BlobAccess.from_connection_string(connection_string, "nosuchcontainer", "m")
    with pytest.raises(BlobError, match="container 'nosuchcontainer' does not exist"):
        blob_state(no_container, QUICK)
    no_blob = BlobAccess.from_connection_string(connection_string, container.container_name, "missing.onnx")
    with pytest.raises(BlobError, match="no such blob") as info:
        blob_state(no_blob, QUICK)
    assert "missing.onnx" in str(info.value)


def test_malformed_connection_string_and_urls_are_refused():
    with pytest.raises(BlobError, match="connection string: it is blank or malformed"):
        BlobAccess.from_connection_string("not a connection string", "models", "m.onnx")
    with pytest.raises(BlobError, match="expected https://"):
        BlobAccess.from_url("ftp://example.com/c/b", sas_token="sv=1")
    with pytest.raises(BlobError, match="not a valid container name"):
        BlobAccess.from_url("https://acct.blob.core.windows.net/Bad_Name/b", sas_token="sv=1")
    with pytest.raises(BlobError, match="expected https://"):
        BlobAccess.from_url("https://acct.blob.core.windows.net/only-container", sas_token="x")


def test_blob_urls_split_into_account_container_and_path():
    assert split_blob_url("https://acct.blob.core.windows.net/models/a/b%20c.onnx?sv=1&sig=2") == (
        "https://acct.blob.core.windows.net",
        "models",
        "a/b c.onnx",
        "sv=1&sig=2",
    )
    assert split_blob_url("http://127.0.0.1:10000/devstoreaccount1/models/m.onnx") == (
        "http://127.0.0.1:10000/devstoreaccount1",
        "models",
        "m.onnx",
        "",
    )


def test_unreachable_service_fails_with_a_clear_message(azurite, unused_port: int):
    cs = azurite.connection_string.replace(str(azurite.port), str(unused_port))
    access = BlobAccess.from_connection_string(cs, "models", "m.onnx")
    with pytest.raises(BlobError, match="cannot reach the storage service after 3 tries"):
        blob_state(access, QUICK)


@pytest.fixture
def own_azurite(azurite_factory):
    return azurite_factory()


def _upload(server, size: int) -> tuple[BlobAccess, str]:
    from azure.storage.blob import BlobServiceClient

    data = os.urandom(size)
    service = BlobServiceClient.from_connection_string(server.connection_string)
    service.create_container("drops").upload_blob("big.bin", data)
    access = BlobAccess.from_connection_string(server.connection_string, "drops", "big.bin")
    return access, hashlib.sha256(data).hexdigest()


def test_stalled_transfer_resumes_from_the_byte_reached(own_azurite, tmp_path: Path):
    access, sha = _upload(own_azurite, 24 * MB)
    pid = own_azurite.process.pid
    calls: list[int] = []
    frozen = threading.Event()

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if done >= 8 * MB and not frozen.is_set():
            frozen.set()  # freeze the service longer than the read timeout, then let it go
            os.kill(pid, signal.SIGSTOP)
            threading.Timer(1.5, os.kill, (pid, signal.SIGCONT)).start()

    retry = RetryPolicy(attempts=5, backoff_s=0.2, max_backoff_s=0.5, connect_timeout_s=1, read_timeout_s=0.5)
    retries: list[str] = []
    result = download(access, tmp_path / "out", progress=progress, retry=retry, on_retry=retries.append)

    assert frozen.is_set() and retries, "the freeze must have cost at least one retry"
    assert "resuming there" in retries[0]
    assert result.sha256 == sha
    assert calls == sorted(calls), "the download resumed at the byte reached, not from zero"
    assert calls.count(0) == 1


def test_service_killed_mid_download_gives_a_clear_error(own_azurite, tmp_path: Path):
    access, _ = _upload(own_azurite, 40 * MB)

    def progress(done: int, total: int) -> None:
        if done >= 8 * MB:
            own_azurite.stop()

    with pytest.raises(BlobError) as info:
        download(access, tmp_path / "out", progress=progress, retry=QUICK)
    message = str(info.value)
    assert "drops/big.bin" in message and "failed 3 times in a row" in message
    assert "try again" in message


def test_no_azure_sign_in_says_how_to_sign_in(monkeypatch):
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_USERNAME",
        "AZURE_FEDERATED_TOKEN_FILE",
        "IDENTITY_ENDPOINT",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")  # no `az`, `azd` or PowerShell to ask
    access = BlobAccess.from_url("https://nosuchaccount.blob.core.windows.net/models/m.onnx")
    with pytest.raises(BlobError, match=r"no Azure sign-in found.*az login"):
        blob_state(access, QUICK)
