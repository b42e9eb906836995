"""The model library: add, list, resolve and remove the user's own ONNX models.

A model is inspected (and run once on a blank frame) before it is accepted, so whatever is
in the library is something the engine can run; its files live in the content-addressed
cache and the registry says where they came from.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from pydantic import ValidationError

import designer
from designer.core.models.cache import CacheError, ContentCache, free_space_ok
from designer.core.models.errors import ModelError
from designer.core.models.info import ModelInfo, Task
from designer.core.models.optimize_targets import target_notes
from designer.core.models.providers import CPU, supported_accelerations
from designer.core.models.registry import (
    REGISTRY_NAME,
    BlobSource,
    LibraryError,
    LocalSource,
    ModelEntry,
    Optimization,
    OptimizedSource,
    Overrides,
    Registry,
    RegistryFile,
    StoredFile,
    slugify,
)
from designer.core.paths import data_dir

# numpy, onnx, onnxruntime and the Azure SDK are imported where they are used: listing and
# describing models must not pay for them (their first import holds the interpreter, so a
# window listing the library on a worker would freeze for most of a second).
if TYPE_CHECKING:
    from typing_extensions import TypeIs  # typing.TypeIs is 3.13+; only mypy reads it here

    from designer.core.models.blob import BlobAccess, BlobState, RetryPolicy

FileSpec: TypeAlias = "str | Path | BlobAccess"
LibraryProgress = Callable[[str, int, int], None]
"""``(what, bytes_done, bytes_total)``; ``what`` names the file being downloaded."""

BUNDLED_ID = "yolov3-tiny-coco"
TASKS: tuple[Task, ...] = ("detection", "classification")


class ModelNotFoundError(LibraryError):
    """No model with that id is in the library."""


class DuplicateModelError(LibraryError):
    """A model with the same name (hence the same id) is already in the library."""


@dataclass(frozen=True)
class ModelDescription:
    """What the skill validator needs to know about a library model."""

    task: Task
    accelerations: set[str]
    labels: tuple[str, ...] = ()  # the classes it names, in class order (empty: unknown)
    #: acceleration -> why this model's form does not suit a device with it (an optimized entry)
    target_notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CacheProblem:
    """A cached file that is missing or whose bytes no longer match its hash."""

    model_id: str
    role: str
    path: Path
    problem: str

    def message(self) -> str:
        return (
            f"model {self.model_id}: {self.role} file {self.path} {self.problem}; remove the "
            f"model and add it again (skill-designer models remove {self.model_id})"
        )


@dataclass
class _Fetched:
    """A file ready to inspect: staged (new bytes) or already in the cache (etag unchanged);
    ``what`` is where the user's file came from (path or blob URL), for messages."""

    path: Path
    stored: StoredFile
    staged: bool
    what: str


def resources_dir() -> Path:
    return Path(designer.__file__).parent.parent / "resources"


class ModelLibrary:
    """The library under ``data`` (see ``designer.core.paths.data_dir``)."""

    def __init__(
        self,
        data: str | Path | None = None,
        *,
        retry: RetryPolicy | None = None,
        on_retry: Callable[[str], None] | None = None,
    ):
        self.data = data_dir(data)
        self.registry = Registry(self.data / REGISTRY_NAME)
        self.cache = ContentCache(self.data / "cache")
        self._retry = retry
        self.on_retry = on_retry  # told about each retried download (network trouble)

    @property
    def retry(self) -> RetryPolicy:
        """How downloads retry (the blob module is imported on the first download, not before)."""
        if self._retry is None:
            from designer.core.models.blob import RetryPolicy

            self._retry = RetryPolicy()
        return self._retry

    @retry.setter
    def retry(self, policy: RetryPolicy) -> None:
        self._retry = policy

    # -- reading ---------------------------------------------------------------------------

    def list(self) -> list[ModelEntry]:
        return sorted(self.registry.load().models, key=lambda e: e.id)

    def find(self, model_id: str) -> ModelEntry | None:
        return next((e for e in self.registry.load().models if e.id == model_id), None)

    def get(self, model_id: str) -> ModelEntry:
        entry = self.find(model_id)
        if entry is None:
            known = ", ".join(e.id for e in self.list()) or "none yet"
            raise ModelNotFoundError(
                f"model {model_id!r} is not in the model library (models: {known}); add it "
                "with `skill-designer models add` or pick another model"
            )
        return entry

    def resolve(self, model_id: str) -> tuple[Path, Path | None, ModelEntry]:
        """The cached ONNX and label files for the engine; ``entry.info.path`` points at the
        cached ONNX file."""
        entry = self.get(model_id)
        onnx_path = self._cached(entry, entry.model_file, "model")
        labels_path = self._cached(entry, entry.labels_file, "labels") if entry.labels_file else None
        info = entry.info.model_copy(update={"path": str(onnx_path)})
        return onnx_path, labels_path, entry.model_copy(update={"info": info})

    def describe(self, model_id: str) -> ModelDescription | None:
        """Task and accelerations of a model, or None when the id is unknown. Accelerations are
        computed now (providers may have been installed since the model was added)."""
        entry = self.find(model_id)
        if entry is None:
            return None
        notes = target_notes(entry.optimization.target) if entry.optimization is not None else {}
        if "onnxruntime" not in sys.modules:
            # Validation runs on every edit; importing onnxruntime only to list its providers would
            # stall the window. Until something has loaded it, the providers found at add time hold.
            return ModelDescription(entry.type, set(entry.accelerations), tuple(entry.labels), notes)
        return ModelDescription(
            entry.type, set(supported_accelerations(entry.format.upper())), tuple(entry.labels), notes
        )

    def verify(self) -> builtins.list[CacheProblem]:  # ``list`` here is the method above
        """Re-hash every cached file the registry refers to."""
        problems = []
        for entry in self.list():
            for role, stored in (("model", entry.model_file), ("labels", entry.labels_file)):
                if stored is None:
                    continue
                path = self.cache.path(stored.sha256)
                actual = self.cache.hash_of(stored.sha256)
                if actual is None:
                    problems.append(CacheProblem(entry.id, role, path, "is missing"))
                elif actual != stored.sha256:
                    problems.append(
                        CacheProblem(entry.id, role, path, f"is damaged (its SHA-256 is {actual})")
                    )
        return problems

    # -- changing --------------------------------------------------------------------------

    def add(
        self,
        name: str,
        task: str,
        model: FileSpec,
        labels: FileSpec | None = None,
        *,
        description: str = "",
        tags: dict[str, str] | None = None,
        layout: str | dict[str, Any] | None = None,
        preprocess: dict[str, Any] | None = None,
        progress: LibraryProgress | None = None,
    ) -> ModelEntry:
        """Fetch, inspect, time and register a model; on any failure nothing is kept."""
        model_id = slugify(name)
        if task not in TASKS:
            raise LibraryError(f"model {name!r}: type {task!r} must be one of {', '.join(TASKS)}")
        tags = _checked_tags(tags or {}, name)
        self._refuse_duplicate(self.registry.load(), model_id, name)
        self.cache.sweep_staging()
        overrides = Overrides(layout=layout, preprocess=dict(preprocess or {}))
        with contextlib.ExitStack() as stack:
            fetched_model = self._fetch(stack, model, ".onnx", "model", progress)
            fetched_labels = self._fetch(stack, labels, ".txt", "labels", progress) if labels else None
            info, ms = self._inspect(fetched_model, fetched_labels, task, overrides)
            info = self._pointed_at_cache(info, fetched_model.stored)
            entry = ModelEntry(
                id=model_id,
                name=name.strip(),
                type=info.task,
                model_file=fetched_model.stored,
                labels_file=fetched_labels.stored if fetched_labels else None,
                description=description,
                tags=tags,
                info=info,
                overrides=overrides,
                inference_ms=ms,
                accelerations=supported_accelerations("ONNX"),
            )
            committed: set[str] = set()

            def insert(registry: RegistryFile) -> None:
                self._refuse_duplicate(registry, model_id, name)
                # Under the registry lock: a concurrent remove of a model sharing these bytes
                # cannot delete them between this commit and the entry that now names them.
                committed.update(self._commit(fetched_model, fetched_labels))
                registry.models.append(entry)

            try:
                self.registry.update(insert)
            except BaseException:
                self._drop_unreferenced(committed)
                raise
        return entry

    def add_optimized(
        self, source: ModelEntry, model_path: Path, name: str, optimization: Optimization
    ) -> ModelEntry:
        """Register an optimized form of ``source`` (see ``designer.core.models.optimize``): its
        labels, layout and pre-processing are the source's, its file is ``model_path``, and
        ``optimization`` (the check against the source) is stored with it."""
        model_id = slugify(name)
        self._refuse_duplicate(self.registry.load(), model_id, name)
        self.cache.sweep_staging()
        overrides = Overrides(
            layout=source.info.layout.model_dump(mode="json"),
            preprocess=source.info.preprocess.model_dump(mode="json"),
        )
        origin = OptimizedSource(model_id=source.id, target=optimization.target)
        with contextlib.ExitStack() as stack:
            staged = stack.enter_context(self.cache.staged(".onnx"))
            sha, size = self.cache.stage_copy(Path(model_path), staged)
            stored = StoredFile(source=origin, sha256=sha, size=size)
            fetched_model = _Fetched(staged, stored, True, origin.describe())
            fetched_labels = None
            if source.labels_file is not None:
                labels = self._cached(source, source.labels_file, "labels")
                fetched_labels = _Fetched(labels, source.labels_file, False, labels.name)
            info, ms = self._inspect(fetched_model, fetched_labels, source.type, overrides)
            info = self._pointed_at_cache(info, stored)
            entry = ModelEntry(
                id=model_id,
                name=name.strip(),
                type=info.task,
                model_file=stored,
                labels_file=source.labels_file,
                description=f"{source.name}, {optimization.method}.",
                tags={"optimized": optimization.target, "source-model": source.id},
                info=info,
                overrides=overrides,
                inference_ms=ms,
                accelerations=supported_accelerations("ONNX"),
                optimization=optimization,
            )
            committed: set[str] = set()

            def insert(registry: RegistryFile) -> None:
                self._refuse_duplicate(registry, model_id, name)
                if not any(e.id == source.id for e in registry.models):
                    raise ModelNotFoundError(f"model {source.id!r} was removed meanwhile; nothing added")
                committed.update(self._commit(fetched_model, fetched_labels))
                registry.models.append(entry)

            try:
                self.registry.update(insert)
            except BaseException:
                self._drop_unreferenced(committed)
                raise
        return entry

    def optimized_forms(self, model_id: str) -> builtins.list[ModelEntry]:
        """The entries made from ``model_id`` by ``optimize``."""
        return [e for e in self.list() if e.optimization is not None and e.optimization.source_id == model_id]

    def refresh(
        self,
        model_id: str,
        model: BlobAccess,
        labels: BlobAccess | None = None,
        *,
        progress: LibraryProgress | None = None,
    ) -> tuple[ModelEntry, bool]:
        """Download a blob-sourced model again if its etag changed; ``(entry, changed)``.

        Credentials are not stored, so the caller passes the same kind of access as at add."""
        entry = self.get(model_id)
        if not isinstance(entry.model_file.source, BlobSource):
            raise LibraryError(
                f"model {model_id}: it was added from a local file; add the new file under a "
                "new name (or remove this one first)"
            )
        with contextlib.ExitStack() as stack:
            fetched_model = self._fetch(stack, model, ".onnx", "model", progress)
            fetched_labels = None
            if labels is not None:
                fetched_labels = self._fetch(stack, labels, ".txt", "labels", progress)
            elif entry.labels_file is not None:
                path = self._cached(entry, entry.labels_file, "labels")
                fetched_labels = _Fetched(path, entry.labels_file, False, entry.labels_file.source.describe())
            if not fetched_model.staged and (fetched_labels is None or not fetched_labels.staged):
                return entry, False
            info, ms = self._inspect(fetched_model, fetched_labels, entry.type, entry.overrides)
            info = self._pointed_at_cache(info, fetched_model.stored)
            new = entry.model_copy(
                update={
                    "model_file": fetched_model.stored,
                    "labels_file": fetched_labels.stored if fetched_labels else None,
                    "info": info,
                    "inference_ms": ms,
                    "accelerations": supported_accelerations("ONNX"),
                }
            )
            committed: set[str] = set()

            def replace(registry: RegistryFile) -> None:
                committed.update(self._commit(fetched_model, fetched_labels))  # under the lock
                registry.models[:] = [new if e.id == model_id else e for e in registry.models]

            try:
                self.registry.update(replace)
            except BaseException:
                self._drop_unreferenced(committed)
                raise
        self._drop_unreferenced({entry.model_file.sha256} | _shas(entry.labels_file))
        return new, True

    def set_preprocess(self, model_id: str, preprocess: dict[str, Any]) -> ModelEntry:
        """Re-inspect and re-time a model with new pre-processing overrides (PreprocessSettings
        fields over what inspection found); the entry keeps them for every later inspection.
        Skills that use the model run with them from their next start."""
        entry = self.get(model_id)
        path = self._cached(entry, entry.model_file, "model")
        labels = self._cached(entry, entry.labels_file, "labels") if entry.labels_file else None
        overrides = entry.overrides.model_copy(update={"preprocess": dict(preprocess)})
        what = entry.model_file.source.describe()
        fetched = _Fetched(path, entry.model_file, False, what)
        fetched_labels = (
            _Fetched(labels, entry.labels_file, False, what) if labels and entry.labels_file else None
        )
        info, ms = self._inspect(fetched, fetched_labels, entry.type, overrides)
        new = entry.model_copy(update={"info": info, "overrides": overrides, "inference_ms": ms})

        def replace(registry: RegistryFile) -> None:
            if not any(e.id == model_id for e in registry.models):
                raise ModelNotFoundError(f"model {model_id!r} was removed meanwhile; nothing changed")
            registry.models[:] = [new if e.id == model_id else e for e in registry.models]

        self.registry.update(replace)
        return new

    def try_model(self, model_id: str, image_bgr: Any, top_k: int = 5) -> builtins.list[Any]:
        """Run a model on one picture the way a skill would: a classifier's ``top_k`` classes
        (Classification), or a detector's boxes (Detection, normalised to the picture). For
        checking the pre-processing before the model is used."""
        from designer.core.models.session import OnnxModel

        _, _, entry = self.resolve(model_id)
        model = OnnxModel(entry.info, CPU, 0)
        if entry.info.task == "classification":
            return list(model.classify(image_bgr, 0.0, top_k))
        return list(model.detect(image_bgr, 0.25))

    def remove(self, model_id: str) -> ModelEntry:
        """Drop the entry, and its cached files unless another model shares them."""
        entry = self.get(model_id)

        with self.registry.locked():  # an add of the same bytes waits until this is done
            registry = self.registry.load()
            registry.models[:] = [e for e in registry.models if e.id != model_id]
            self.registry.save(registry)
            self._remove_unused(registry, {entry.model_file.sha256} | _shas(entry.labels_file))
        return entry

    def ensure_bundled_sample(self) -> ModelEntry:
        """Register the bundled yolov3-tiny COCO detector unless it is already there.

        Adding inspects and times the model, which loads onnx and onnxruntime. When this process
        has not loaded them yet (a window opening the library for the first time), the add runs
        in a child process: their first import holds the interpreter for most of a second, and a
        window waiting for the library on a worker would freeze for that long.
        """
        existing = self.find(BUNDLED_ID)
        if existing is not None:
            return existing
        if "onnxruntime" not in sys.modules and _add_bundled_in_child(self.data):
            added = self.find(BUNDLED_ID)
            if added is not None:
                return added
        return self._add_bundled()  # here: the child could not run, or the error is told here

    def _add_bundled(self) -> ModelEntry:
        models = resources_dir() / "models"
        try:
            return self.add(
                BUNDLED_ID,
                "detection",
                models / f"{BUNDLED_ID}.onnx",
                models / f"{BUNDLED_ID}.labels.txt",
                description="Bundled sample: Darknet yolov3-tiny trained on COCO (80 classes).",
                tags={"source": "bundled"},
            )
        except DuplicateModelError:  # another window or process registered it meanwhile
            return self.get(BUNDLED_ID)

    # -- helpers ---------------------------------------------------------------------------

    def _fetch(
        self,
        stack: contextlib.ExitStack,
        spec: FileSpec,
        suffix: str,
        role: str,
        progress: LibraryProgress | None,
    ) -> _Fetched:
        if _is_blob(spec):
            return self._fetch_blob(stack, spec, suffix, role, progress)
        src = Path(spec).expanduser()
        if not src.is_file():
            raise LibraryError(
                f"{role} file {src}: "
                + ("it is a folder; pass the file itself" if src.is_dir() else "no such file")
            )
        staged = stack.enter_context(self.cache.staged(suffix))
        sha, size = self.cache.stage_copy(src, staged)
        stored = StoredFile(source=LocalSource(path=str(src.resolve())), sha256=sha, size=size)
        return _Fetched(staged, stored, True, str(src))

    def _fetch_blob(
        self,
        stack: contextlib.ExitStack,
        access: BlobAccess,
        suffix: str,
        role: str,
        progress: LibraryProgress | None,
    ) -> _Fetched:
        from designer.core.models.blob import blob_state, download

        state = blob_state(access, self.retry)
        what = access.describe()
        known = self._cached_blob(access.source(), state)
        if known is not None:
            return _Fetched(self.cache.path(known.sha256), known, False, what)
        if not free_space_ok(self.cache.staging, state.size):
            raise CacheError(
                f"{role} blob {what}: {state.size} bytes do not fit in {self.cache.staging}; free some "
                "disk space or set SKILL_DESIGNER_DATA to a bigger disk"
            )
        staged = stack.enter_context(self.cache.staged(suffix))
        label = f"{role}: {access.blob}"
        hook = (lambda done, total: progress(label, done, total)) if progress else None
        done = download(access, staged, progress=hook, retry=self.retry, state=state, on_retry=self.on_retry)
        stored = StoredFile(source=access.source(state.etag), sha256=done.sha256, size=state.size)
        return _Fetched(staged, stored, True, what)

    def _cached_blob(self, source: BlobSource, state: BlobState) -> StoredFile | None:
        """A file from this very blob version (same etag) already in the cache."""
        for entry in self.registry.load().models:
            for stored in (entry.model_file, entry.labels_file):
                if (
                    stored is not None
                    and isinstance(stored.source, BlobSource)
                    and stored.source.same_blob(source)
                    and stored.source.etag == state.etag
                    and self.cache.contains(stored.sha256)
                ):
                    return stored
        return None

    def _inspect(
        self, model: _Fetched, labels: _Fetched | None, task: Task, overrides: Overrides
    ) -> tuple[ModelInfo, float | None]:
        """Inspect and time the model, naming the user's file (not the staging copy) in errors."""
        from designer.core.models.inspect import inspect_model

        try:
            info = inspect_model(
                model.path,
                labels.path if labels else None,
                task=task,
                layout=overrides.layout,
                **overrides.preprocess,
            )
            ms = measure_inference_ms(info)
        except ModelError as exc:
            message = str(exc).replace(str(model.path), model.what)
            if labels is not None:
                message = message.replace(str(labels.path), labels.what)
            raise type(exc)(message) from None
        except ValidationError as exc:  # an override of the wrong type or value
            problem = exc.errors()[0]
            field = ".".join(str(p) for p in problem["loc"]) or "override"
            raise LibraryError(
                f"model {model.what}: the setting {field} is not valid ({problem['msg']}); "
                "fix the layout / pre-processing override"
            ) from None
        except (ValueError, TypeError) as exc:  # overrides that do not fit the model
            raise LibraryError(
                f"model {model.what}: cannot run it with these settings ({exc}); check the "
                "layout / pre-processing overrides"
            ) from None
        return info, ms

    def _pointed_at_cache(self, info: ModelInfo, stored: StoredFile) -> ModelInfo:
        return info.model_copy(update={"path": str(self.cache.path(stored.sha256))})

    def _commit(self, model: _Fetched, labels: _Fetched | None) -> set[str]:
        """Move staged files into the cache; return the hashes that were not there before."""
        added = set()
        for fetched in (model, labels):
            if fetched is None or not fetched.staged:
                continue
            sha = fetched.stored.sha256
            if not self.cache.contains(sha):
                added.add(sha)
            self.cache.commit(fetched.path, sha)
        return added

    def _drop_unreferenced(self, shas: set[str]) -> None:
        """Delete the cached files no entry names; references are re-read under the lock."""
        with self.registry.locked():
            self._remove_unused(self.registry.load(), shas)

    def _remove_unused(self, registry: RegistryFile, shas: set[str]) -> None:
        """Call with the registry lock held, ``registry`` read under it."""
        used = set()
        for entry in registry.models:
            used |= {entry.model_file.sha256} | _shas(entry.labels_file)
        for sha in shas - used:
            self.cache.remove(sha)

    def _cached(self, entry: ModelEntry, stored: StoredFile, role: str) -> Path:
        path = self.cache.path(stored.sha256)
        if not path.is_file():
            raise LibraryError(
                f"model {entry.id}: its cached {role} file {path} is missing; remove the model "
                f"and add it again (skill-designer models remove {entry.id})"
            )
        return path

    @staticmethod
    def _refuse_duplicate(registry: RegistryFile, model_id: str, name: str) -> None:
        for existing in registry.models:
            if existing.id == model_id:
                raise DuplicateModelError(
                    f"model name {name!r}: the library already has {existing.name!r} with id "
                    f"{model_id!r}; choose another name, or remove it first "
                    f"(skill-designer models remove {model_id})"
                )


def measure_inference_ms(info: ModelInfo) -> float:
    """Run the model twice on a blank frame on the CPU; return the second run's time (the
    first one pays for memory allocation and is not the model's cost)."""
    import numpy as np

    from designer.core.models.session import OnnxModel

    model = OnnxModel(info, CPU, 0)
    frame = np.zeros((info.preprocess.height, info.preprocess.width, 3), np.uint8)
    run = model.detect if info.task == "detection" else model.classify
    run(frame)
    start = time.perf_counter()
    run(frame)
    return round((time.perf_counter() - start) * 1000.0, 2)


def _add_bundled_in_child(data: Path) -> bool:
    """Register the bundled sample from a child Python; False when that did not work (the caller
    then adds it here and reports what goes wrong)."""
    code = (
        "import sys\n"
        "from designer.core.models.library import ModelLibrary\n"
        "ModelLibrary(sys.argv[1])._add_bundled()"
    )
    root = str(Path(designer.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH"))))}
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, str(data)], capture_output=True, timeout=300, env=env, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _is_blob(spec: object) -> TypeIs[BlobAccess]:
    """Whether ``spec`` is a BlobAccess; without importing the Azure SDK to find out (nobody made
    one if the blob module was never imported)."""
    blob = sys.modules.get("designer.core.models.blob")
    return blob is not None and isinstance(spec, blob.BlobAccess)


def _checked_tags(tags: dict[str, str], name: str) -> dict[str, str]:
    clean = {}
    for key, value in tags.items():
        if not str(key).strip():
            raise LibraryError(f"model {name!r}: a tag has an empty name; write tags as name=value")
        clean[str(key).strip()] = str(value)
    return clean


def _shas(stored: StoredFile | None) -> set[str]:
    return {stored.sha256} if stored is not None else set()
