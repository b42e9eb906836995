"""Packages in Azure Blob storage: ``skill-designer publish`` puts one there, a device's runtime
takes it from there.

A package is stored content-addressed, ``<skill id>/<sha256>.zip`` (its SHA-256 also in the blob's
metadata), so a published blob never changes and publishing the same package twice uploads
nothing. A deployment names the blob and the digest (``SKILL_PACKAGE_URL``,
``SKILL_PACKAGE_SHA256``); the runtime downloads it once (resuming after a dropped connection),
refuses it unless its SHA-256 is the stated one, keeps it in its cache and runs it. Changing the
digest in the deployment is the update: the next start downloads the new package and drops the
old ones from the cache.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from designer.core.package.archive import verify_package
from designer.core.package.context import sha256_file
from designer.core.package.manifest import PackageError

URL_ENV = "SKILL_PACKAGE_URL"
SHA_ENV = "SKILL_PACKAGE_SHA256"
SAS_ENV = "SKILL_PACKAGE_SAS"  # a secret: a read-only SAS token, when the device has no identity
CACHE_ENV = "SKILL_PACKAGE_CACHE"
SHA_RE = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Published:
    url: str
    """The blob's URL, without any SAS: what the deployment names (``SKILL_PACKAGE_URL``)."""
    sha256: str
    size: int
    uploaded: bool
    """False when the same package was there already (nothing sent)."""


def blob_name(skill_id: str, sha256: str) -> str:
    return f"{skill_id}/{sha256}.zip"


def _split_container_url(url: str) -> tuple[str, str]:
    """``(container URL without query, SAS query)``."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc or not parts.path.strip("/"):  # blob.py checks the rest
        raise PackageError(
            f"{urlunsplit((parts.scheme, parts.netloc, parts.path, '', ''))!r}: give the container's URL, "
            "https://<account>.blob.core.windows.net/<container> (with ?<SAS> or signed in to Azure)"
        )
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", "")), parts.query


def _blob_error(exc: Exception, where: str) -> PackageError:
    from designer.core.models.blob import BlobError, _short

    if isinstance(exc, BlobError):
        return PackageError(str(exc))
    status = getattr(exc, "status_code", None)
    if status in (401, 403):
        return PackageError(
            f"{where}: access refused ({status}): the SAS token, key or Azure sign-in cannot write "
            "there (publishing needs create and write permission on the container)"
        )
    if status == 404:
        return PackageError(f"{where}: the container does not exist; create it first")
    return PackageError(f"{where}: {_short(exc)}")


def publish_package(
    path: str | os.PathLike,
    *,
    container_url: str | None = None,
    connection_string: str | None = None,
    container: str | None = None,
    credential: Any = None,
) -> Published:
    """Verify the package, then upload it as ``<skill id>/<sha256>.zip`` into the container
    (``container_url`` with a SAS query or ``credential`` / DefaultAzureCredential, or a
    ``connection_string`` and ``container``)."""
    from azure.core.exceptions import AzureError, ResourceNotFoundError
    from azure.storage.blob import ContentSettings

    from designer.core.models.blob import BlobAccess, BlobError, RetryPolicy

    manifest = verify_package(path)
    sha256, size = sha256_file(Path(path))
    name = blob_name(manifest.skill.id, sha256)
    try:
        if connection_string is not None:
            if not container:
                raise PackageError("--connection-string needs --container (the container's name)")
            access = BlobAccess.from_connection_string(connection_string, container, name)
        else:
            if not container_url:
                raise PackageError(
                    "give the container: --container-url URL, or --connection-string and --container"
                )
            base, sas = _split_container_url(container_url)
            access = BlobAccess.from_url(f"{base}/{name}", sas_token=sas or None, credential=credential)
    except BlobError as exc:
        raise PackageError(str(exc)) from None
    where = f"blob {access.describe()}"
    client = access.client(RetryPolicy())
    try:
        try:
            props = client.get_blob_properties()
            if props.size == size and (props.metadata or {}).get("sha256") == sha256:
                return Published(access.describe(), sha256, size, uploaded=False)
        except ResourceNotFoundError:
            pass
        metadata = {"sha256": sha256, "skill": manifest.skill.id, "version": manifest.skill.version}
        with open(path, "rb") as data:
            client.upload_blob(
                data,
                length=size,
                overwrite=True,
                metadata=metadata,
                content_settings=ContentSettings(content_type="application/zip"),
            )
    except (AzureError, OSError) as exc:
        raise _blob_error(exc, where) from None
    return Published(access.describe(), sha256, size, uploaded=True)


def _sweep(cache: Path, keep: Path) -> None:
    """The update: packages of earlier digests and unfinished downloads go."""
    for old in cache.iterdir():
        if old != keep and (old.suffix == ".zip" or old.name.endswith(".part")) and old.is_file():
            try:
                old.unlink()
            except OSError:
                pass


def fetch_package(
    url: str,
    sha256: str,
    cache: str | os.PathLike,
    *,
    sas: str | None = None,
    credential: Any = None,
    retry: Any = None,
) -> Path:
    """The package at ``url`` whose SHA-256 is ``sha256``, from ``cache`` or downloaded into it."""
    from designer.core.models.blob import BlobAccess, BlobError, RetryPolicy, download

    sha256 = sha256.strip().lower()
    if not SHA_RE.match(sha256):
        raise PackageError(f"{SHA_ENV}={sha256!r}: not a SHA-256 (64 hexadecimal digits)")
    folder = Path(cache)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PackageError(f"{folder}: cannot create the package cache: {exc.strerror}") from None
    target = folder / f"{sha256}.zip"
    if target.is_file() and sha256_file(target)[0] == sha256:
        _sweep(folder, target)
        return target
    part = folder / f"{sha256}.{os.getpid()}.part"
    try:
        access = BlobAccess.from_url(url, sas_token=sas or None, credential=credential)
        got = download(access, part, retry=retry or RetryPolicy())
        if got.sha256 != sha256:
            raise PackageError(
                f"{access.describe()}: the package downloaded hashes to {got.sha256}, the deployment "
                f"states {sha256}; refusing it (the blob was replaced, or the deployment names the wrong one)"
            )
        os.replace(part, target)
    except BlobError as exc:
        raise PackageError(str(exc)) from None
    except OSError as exc:
        raise PackageError(f"{folder}: cannot store the package: {exc.strerror}") from None
    finally:
        part.unlink(missing_ok=True)
    _sweep(folder, target)
    return target


def package_to_run(given: str, environ: Mapping[str, str] | None = None) -> str:
    """What ``skill-designer run`` runs: ``given``, unless the deployment names a published
    package (``SKILL_PACKAGE_URL`` and ``SKILL_PACKAGE_SHA256``), which is fetched first."""
    environ = os.environ if environ is None else environ
    url = (environ.get(URL_ENV) or "").strip()
    if not url:
        return given
    sha256 = (environ.get(SHA_ENV) or "").strip()
    if not sha256:
        raise PackageError(
            f"{URL_ENV} is set but {SHA_ENV} is not: the runtime only runs a package whose SHA-256 the "
            "deployment states (skill-designer publish prints it)"
        )
    cache = environ.get(CACHE_ENV) or str(
        Path(environ.get("SKILL_DESIGNER_DATA") or Path.home() / ".skill-designer") / "packages"
    )
    return str(fetch_package(url, sha256, cache, sas=environ.get(SAS_ENV)))
