"""The model library's registry: one JSON file of added models, written atomically.

The registry is the user's record of what they added; losing it silently would lose their
work, so a file that cannot be read is backed up and reported, never replaced by an empty one.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from designer.core.models.errors import ModelError
from designer.core.models.info import ModelInfo, Task

try:  # POSIX: serialise read-modify-write between processes (GUI and CLI at once)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

REGISTRY_NAME = "model-library.json"
FORMAT_VERSION: Final = 1
SHA256_PATTERN = r"^[0-9a-f]{64}$"
ID_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class LibraryError(ModelError):
    """The model library cannot do what was asked (unknown id, duplicate name, broken file)."""


class RegistryCorruptError(LibraryError):
    """The registry file exists but cannot be read; a backup copy has been made."""


def slugify(name: str) -> str:
    """The library id for a model name: lower case, ASCII letters and digits joined by '-'."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.strip().lower()).strip("-")
    if not slug:
        raise LibraryError(
            f"model name {name!r}: it needs at least one ASCII letter or digit "
            "(the library id is made from it)"
        )
    return slug


class LocalSource(BaseModel):
    """A file the user picked on this machine (kept for reference; the cache holds the bytes)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["local"] = "local"
    path: str

    def describe(self) -> str:
        return self.path


class BlobSource(BaseModel):
    """A blob in Azure storage. Credentials are never stored: only where the blob lives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["blob"] = "blob"
    account_url: str
    container: str
    blob: str
    etag: str | None = None

    def describe(self) -> str:
        return f"{self.account_url.rstrip('/')}/{self.container}/{self.blob}"

    def same_blob(self, other: BlobSource) -> bool:
        return (self.account_url.rstrip("/"), self.container, self.blob) == (
            other.account_url.rstrip("/"),
            other.container,
            other.blob,
        )


class OptimizedSource(BaseModel):
    """A model this library made from another entry (``skill-designer models optimize``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["optimized"] = "optimized"
    model_id: str
    target: str

    def describe(self) -> str:
        return f"optimized from {self.model_id} ({self.target})"


Source = Annotated[LocalSource | BlobSource | OptimizedSource, Field(discriminator="kind")]


class StoredFile(BaseModel):
    """A file in the content-addressed cache and where it came from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: Source
    sha256: str = Field(pattern=SHA256_PATTERN)
    size: int = Field(ge=0)


class Overrides(BaseModel):
    """What the user set by hand at add time, re-applied whenever the model is inspected again."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    layout: str | dict | None = None
    preprocess: dict[str, object] = Field(default_factory=dict)


class Agreement(BaseModel):
    """How closely an optimized model answers like its source on held-out frames.

    Detectors: the optimized model's boxes matched to the source's (same class, IoU >= 0.5);
    precision and recall count them, ``mean_iou`` is over the matched pairs. Classifiers:
    ``top1`` is the share of frames where both name the same best class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    frames: int
    boxes_source: int = 0
    boxes_optimized: int = 0
    matched: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    mean_iou: float | None = None
    top1: float | None = None


class Optimization(BaseModel):
    """How an optimized entry was made from its source, and what the check against it found."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source_id: str
    target: str
    method: str
    calibration: str = ""  # where the calibration frames came from
    calibration_frames: int = 0
    held_out_frames: int = 0
    float_ops: list[str] = Field(default_factory=list)  # operators left in float, "Type name"
    agreement: Agreement
    ms_source: float  # median cost of one frame (pre-process, inference, decode), this machine
    ms_optimized: float
    size_source: int
    size_optimized: int
    passed: bool  # the agreement met the goals
    problems: list[str] = Field(default_factory=list)  # why it did not pass
    seconds: float = 0.0  # time to optimize and check

    @property
    def speedup(self) -> float:
        return self.ms_source / self.ms_optimized if self.ms_optimized > 0 else 0.0


class ModelEntry(BaseModel):
    """One added model. ``info`` is the inspection result (layout, pre-processing, tensors,
    opset, labels); its ``path`` is re-pointed at the cache by ``ModelLibrary.resolve``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1)
    type: Task
    format: Literal["onnx"] = "onnx"
    model_file: StoredFile
    labels_file: StoredFile | None = None
    description: str = ""
    tags: dict[str, str] = Field(default_factory=dict)
    info: ModelInfo
    overrides: Overrides = Field(default_factory=Overrides)
    inference_ms: float | None = None
    accelerations: list[str] = Field(default_factory=list)
    added_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    optimization: Optimization | None = None  # set on entries made by ``models optimize``

    @property
    def labels(self) -> list[str]:
        return list(self.info.labels)


class RegistryFile(BaseModel):
    """The registry file's schema."""

    model_config = ConfigDict(extra="forbid")

    format_version: Literal[1] = FORMAT_VERSION
    models: list[ModelEntry] = Field(default_factory=list)


class Registry:
    """Load and atomically rewrite the registry file at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()

    def load(self) -> RegistryFile:
        """The registry; empty when the file does not exist yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return RegistryFile()
        except OSError as exc:
            raise LibraryError(
                f"model registry {self.path}: cannot read it ({exc.strerror or exc}); "
                "check the file's permissions"
            ) from exc
        try:
            return RegistryFile.model_validate_json(raw)
        except ValidationError as exc:
            backup = self._backup(raw)
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(top level)"
            raise RegistryCorruptError(
                f"model registry {self.path} is not valid ({exc.error_count()} problem(s); "
                f"first at {where}: {first['msg']}). A copy was saved as {backup}. Repair the "
                "file, or delete it to start an empty library (the cached files stay)."
            ) from None

    def save(self, registry: RegistryFile) -> None:
        """Write to a temp file in the same folder, fsync, then ``os.replace`` over the old one,
        so a crash leaves either the old registry or the new one, never half of one."""
        data = json.dumps(registry.model_dump(mode="json"), indent=2, sort_keys=True, allow_nan=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(self.path.parent)

    def update(self, change: Callable[[RegistryFile], RegistryFile | None]) -> RegistryFile:
        """Read, change and write back under a lock (threads and, on POSIX, processes)."""
        with self._locked():
            registry = self.load()
            changed = change(registry)
            registry = changed if changed is not None else registry
            self.save(registry)
            return registry

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the registry lock (threads and processes) across several steps; not re-entrant
        across processes, so never call ``update`` inside it."""
        with self._locked():
            yield

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if fcntl is None:  # pragma: no cover - Windows
                yield
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock_file:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)

    def _backup(self, raw: bytes) -> Path:
        """Copy the unreadable bytes aside once per distinct content."""
        digest = hashlib.sha256(raw).hexdigest()[:12]
        backup = self.path.with_name(f"{self.path.name}.corrupt-{digest}")
        if not backup.exists():
            backup.write_bytes(raw)
        return backup


def _fsync_dir(path: Path) -> None:
    """Make the rename durable; not possible (nor needed) on every platform."""
    if os.name != "posix":  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
