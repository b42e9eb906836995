"""Download model and label files from Azure Blob storage, resumably and verified.

The SDK's own retries are turned off (their storage defaults back off for minutes); this
module retries transient failures itself and resumes with a ranged read from the byte it
reached, so a dropped connection costs a reconnect, not the whole download.
"""

from __future__ import annotations

import base64
import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit, urlunsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    DecodeError,
    HttpResponseError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobClient, BlobServiceClient

from designer.core.models.errors import ModelError
from designer.core.models.registry import BlobSource

Progress = Callable[[int, int], None]
FIRST_CHUNK = 4 * 1024 * 1024
MAX_CHUNK = 32 * 1024 * 1024
_TRANSIENT_STATUS = {408, 429, 500, 502, 503, 504}


class BlobError(ModelError):
    """A blob could not be reached, read or verified; the message names the blob."""


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try before giving up on a blob (tests shorten it)."""

    attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))


@dataclass(frozen=True)
class BlobAccess:
    """Where a blob lives and how to authenticate; the credential never reaches the registry
    (``source()`` drops it) nor ``repr``."""

    account_url: str
    container: str
    blob: str
    credential: Any = field(default=None, repr=False)
    connection_string: str | None = field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str, *, sas_token: str | None = None, credential: Any = None):
        """A blob URL ``https://<account>.blob.core.windows.net/<container>/<path>``, with or
        without a SAS query; no SAS and no credential means DefaultAzureCredential."""
        account_url, container, blob, query = split_blob_url(url)
        token = query or (sas_token.lstrip("?") if sas_token else None)
        return cls(
            account_url=account_url,
            container=container,
            blob=blob,
            credential=credential if credential is not None else (token or _default_credential()),
        )

    @classmethod
    def from_account(
        cls,
        account_url: str,
        container: str,
        blob: str,
        *,
        sas_token: str | None = None,
        credential: Any = None,
    ) -> BlobAccess:
        url = f"{account_url.rstrip('/')}/{container}/{blob.lstrip('/')}"
        return cls.from_url(url, sas_token=sas_token, credential=credential)

    @classmethod
    def from_connection_string(cls, connection_string: str, container: str, blob: str):
        try:
            service = BlobServiceClient.from_connection_string(connection_string)
        except ValueError:
            raise BlobError(
                "connection string: it is blank or malformed; copy it from the storage "
                "account's 'Access keys' page (DefaultEndpointsProtocol=...;AccountName=...;"
                "AccountKey=...)"
            ) from None
        _check_names(container, blob, "connection string")
        return cls(
            account_url=_without_query(service.url).rstrip("/"),
            container=container,
            blob=blob,
            connection_string=connection_string,
        )

    def sibling(self, blob: str) -> BlobAccess:
        """Another blob in the same container, reached with the same credential."""
        return BlobAccess(self.account_url, self.container, blob, self.credential, self.connection_string)

    def describe(self) -> str:
        return f"{self.account_url}/{self.container}/{self.blob}"

    def source(self, etag: str | None = None) -> BlobSource:
        return BlobSource(account_url=self.account_url, container=self.container, blob=self.blob, etag=etag)

    def client(self, retry: RetryPolicy) -> BlobClient:
        options: dict[str, Any] = {  # the SDK's keyword options (its **kwargs)
            "retry_total": 0,
            "connection_timeout": retry.connect_timeout_s,
            "read_timeout": retry.read_timeout_s,
            "max_single_get_size": MAX_CHUNK,  # one ranged GET per chunk we ask for
            "max_chunk_get_size": MAX_CHUNK,
        }
        if self.connection_string is not None:
            return BlobClient.from_connection_string(
                self.connection_string, self.container, self.blob, **options
            )
        return BlobClient(self.account_url, self.container, self.blob, credential=self.credential, **options)


@dataclass(frozen=True)
class BlobState:
    """What the service says about a blob before we read it."""

    etag: str
    size: int
    content_md5: bytes | None


@dataclass(frozen=True)
class Downloaded:
    """A finished, verified download."""

    path: Path
    state: BlobState
    sha256: str


def blob_state(access: BlobAccess, retry: RetryPolicy = RetryPolicy()) -> BlobState:
    """The blob's etag, size and Content-MD5 (None when the service has none)."""
    return _state(access, access.client(retry), retry)


def _state(access: BlobAccess, client: BlobClient, retry: RetryPolicy) -> BlobState:
    props = _with_retries(access, retry, client.get_blob_properties, "checking it")
    md5 = props.content_settings.content_md5
    return BlobState(etag=props.etag, size=props.size, content_md5=bytes(md5) if md5 else None)


def download(
    access: BlobAccess,
    dest: Path,
    *,
    progress: Progress | None = None,
    retry: RetryPolicy = RetryPolicy(),
    state: BlobState | None = None,
    on_retry: Callable[[str], None] | None = None,
) -> Downloaded:
    """Stream the blob into ``dest``; retry transient failures, resuming at the byte reached;
    verify size and Content-MD5.

    Each ranged GET asks for twice the previous one (4 MB up to 32 MB), starting again at
    4 MB after a failure: small first chunks give early progress and cheap retries, large
    later ones keep the per-request cost low (it dominates on a fast link).

    ``on_retry`` hears why each retry happens (the user sees a stalled bar otherwise).
    ``dest`` holds garbage on failure: the caller deletes it. Durability (fsync) is the
    cache's job, when it takes the file in."""
    client = access.client(retry)
    state = state or _state(access, client, retry)
    failures = 0
    chunk = FIRST_CHUNK
    if progress:
        progress(0, state.size)
    with open(dest, "wb") as out:
        sink = _Sink(out, state.size, progress, md5=state.content_md5 is not None)
        try:
            while sink.received < state.size:
                try:
                    client.download_blob(
                        offset=sink.received,
                        length=min(chunk, state.size - sink.received),
                        etag=state.etag,
                        match_condition=MatchConditions.IfNotModified,
                    ).readinto(sink)  # type: ignore[arg-type]  # the SDK only calls write(); its stub asks for IO
                    failures = 0
                    chunk = min(chunk * 2, MAX_CHUNK)
                except Exception as exc:  # classified below; anything not transient is re-raised
                    done = sink.received
                    _raise_unless_transient(access, exc, f"downloading it (at byte {done})")
                    failures += 1
                    if failures >= retry.attempts:
                        raise BlobError(
                            f"blob {access.describe()}: the connection failed {failures} times "
                            f"in a row at byte {done} of {state.size} ({_short(exc)}); nothing "
                            "was kept. Check the network and that the storage service is up, "
                            "then try again."
                        ) from None
                    if on_retry:
                        on_retry(
                            f"{access.blob}: {_short(exc)} at byte {done}; retry {failures} of "
                            f"{retry.attempts - 1}, resuming there"
                        )
                    chunk = FIRST_CHUNK
                    time.sleep(retry.delay(failures))
        finally:
            sha256, md5 = sink.close()
    done = sink.received
    if done != state.size or dest.stat().st_size != state.size:
        raise BlobError(
            f"blob {access.describe()}: got {done} bytes, the service announced {state.size}; try again"
        )
    expected_md5 = state.content_md5  # md5 is computed only when the service announced one
    if md5 is not None and expected_md5 is not None and md5 != expected_md5:
        raise BlobError(
            f"blob {access.describe()}: Content-MD5 mismatch (service says "
            f"{base64.b64encode(expected_md5).decode()}, downloaded bytes hash to "
            f"{base64.b64encode(md5).decode()}); the download was corrupted, try again"
        )
    return Downloaded(path=dest, state=state, sha256=sha256)


class _Sink:
    """The SDK writes the blob here; worker threads write it to disk and hash it (SHA-256 for
    the cache, MD5 to check Content-MD5) while the next chunk downloads. hashlib and file
    writes release the GIL, so this overlaps the network instead of adding to it.

    ``received`` counts the bytes the SDK handed over, which is where a retry resumes."""

    def __init__(self, out: BinaryIO, size: int, progress: Progress | None, *, md5: bool):
        self.received = 0
        self._size = size
        self._progress = progress
        self._sha256 = hashlib.sha256()
        self._md5 = hashlib.md5(usedforsecurity=False) if md5 else None
        self._error: Exception | None = None

        def store(data: bytes) -> None:
            out.write(data)
            self._sha256.update(data)

        steps: list[Callable[[bytes], object]] = [store]
        if self._md5 is not None:
            steps.append(self._md5.update)
        self._workers = [_Worker(step, self._failed) for step in steps]

    def write(self, data: bytes) -> int:
        if self._error is not None:
            raise self._error
        for worker in self._workers:
            worker.queue.put(data)
        self.received += len(data)
        if self._progress:
            self._progress(self.received, self._size)
        return len(data)

    def close(self) -> tuple[str, bytes | None]:
        """Wait for the workers; ``(sha256 hex, md5 digest or None)``."""
        for worker in self._workers:
            worker.finish()
        if self._error is not None:
            raise self._error
        return self._sha256.hexdigest(), self._md5.digest() if self._md5 else None

    def _failed(self, exc: Exception) -> None:
        self._error = exc


class _Worker:
    """One thread applying ``step`` to each chunk in order; after a failure it only drains
    its queue, so the downloader never blocks on it."""

    def __init__(self, step: Callable[[bytes], object], on_error: Callable[[Exception], None]):
        self.queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._step = step
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name="blob-sink", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        self.queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        failed = False
        while (data := self.queue.get()) is not None:
            if failed:
                continue
            try:
                self._step(data)
            except Exception as exc:  # any failure must reach the download, never kill this thread
                failed = True
                self._on_error(exc)


def _with_retries(access: BlobAccess, retry: RetryPolicy, call: Callable[[], Any], doing: str):
    failures = 0
    while True:
        try:
            return call()
        except Exception as exc:  # classified below
            _raise_unless_transient(access, exc, doing)
            failures += 1
            if failures >= retry.attempts:
                raise BlobError(
                    f"blob {access.describe()}: cannot reach the storage service after "
                    f"{failures} tries ({_short(exc)}); check the account URL, the network and "
                    "that the service is up"
                ) from None
            time.sleep(retry.delay(failures))


def _raise_unless_transient(access: BlobAccess, exc: Exception, doing: str) -> None:
    """Turn permanent failures into a BlobError that says what to do; return for transient."""
    where = f"blob {access.describe()}"
    if isinstance(exc, ResourceNotFoundError):
        code = str(getattr(exc, "error_code", "") or "")
        if code == "ContainerNotFound":
            raise BlobError(
                f"{where}: container {access.container!r} does not exist in "
                f"{access.account_url}; check the container name"
            ) from None
        raise BlobError(
            f"{where}: no such blob in container {access.container!r}; check the blob path "
            "(it is case-sensitive)"
        ) from None
    if isinstance(exc, ResourceModifiedError):
        raise BlobError(f"{where}: the blob changed on the service while {doing}; try again") from None
    if "DefaultAzureCredential" in str(exc):
        raise BlobError(
            f"{where}: no Azure sign-in found for DefaultAzureCredential; sign in with "
            "`az login` (or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET), or use a "
            "SAS URL or a connection string instead"
        ) from None
    if _is_auth_failure(exc):
        raise BlobError(
            f"{where}: the credentials were refused ({_short(exc)}); check the connection "
            "string or account key, that the SAS token is valid and not expired, and that the "
            "signed-in identity may read blobs (role 'Storage Blob Data Reader')"
        ) from None
    if isinstance(exc, (ServiceRequestError, ServiceResponseError, DecodeError, ConnectionError)):
        return
    if isinstance(exc, HttpResponseError):
        if exc.status_code is None or exc.status_code in _TRANSIENT_STATUS:
            return
        raise BlobError(f"{where}: the service refused {doing} ({_short(exc)})") from None
    if isinstance(exc, OSError):
        raise BlobError(f"{where}: local file error while {doing} ({exc})") from None
    raise exc


def _is_auth_failure(exc: Exception) -> bool:
    if isinstance(exc, ClientAuthenticationError):
        return True
    if type(exc).__name__ == "CredentialUnavailableError":
        return True
    return isinstance(exc, HttpResponseError) and exc.status_code in (401, 403)


def split_blob_url(url: str) -> tuple[str, str, str, str]:
    """``(account_url, container, blob, sas_query)``; Azurite-style URLs
    (``http://127.0.0.1:10000/<account>/<container>/<blob>``) keep the account in the path."""
    parts = urlsplit(url.strip())
    segments = [unquote(s) for s in parts.path.lstrip("/").split("/")]
    host = parts.hostname or ""
    emulator = host in ("127.0.0.1", "localhost", "::1")
    account_path = ""
    if emulator and segments:
        account_path = "/" + segments.pop(0)
    if parts.scheme not in ("http", "https") or not host or len(segments) < 2:
        raise BlobError(
            f"blob URL {_without_query(url)!r}: expected https://<account>.blob.core."
            "windows.net/<container>/<blob path>"
        )
    container, blob = segments[0], "/".join(segments[1:])
    _check_names(container, blob, f"blob URL {_without_query(url)!r}")
    account_url = urlunsplit((parts.scheme, parts.netloc, account_path, "", ""))
    return account_url, container, blob, parts.query


def _check_names(container: str, blob: str, where: str) -> None:
    valid = 3 <= len(container) <= 63 and all(
        c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in container
    )
    if not valid and container not in ("$root", "$web"):
        raise BlobError(
            f"{where}: {container!r} is not a valid container name (3-63 lower-case letters, digits and '-')"
        )
    if not blob.strip("/"):
        raise BlobError(f"{where}: the blob path is empty; name the blob inside {container!r}")


def _default_credential():
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def _without_query(url: str) -> str:
    return url.split("?", 1)[0]


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return f"{type(exc).__name__}: {first}"[:300]
