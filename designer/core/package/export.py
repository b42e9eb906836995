"""``export_package``: a skill and everything it needs, in one checked, reproducible zip.

The designer calls ``export_package(skill, skill_path, out_path, progress=cb)`` and shows
the returned ``ExportReport``; ``skill-designer export`` prints it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import designer
from designer.core.models.errors import ModelError
from designer.core.models.inspect import ModelInfo, inspect_model
from designer.core.models.targets import check_target, target_providers
from designer.core.package import deploy
from designer.core.package.archive import EPOCH_1980, write_zip
from designer.core.package.manifest import (
    MANIFEST_NAME,
    SKILL_NAME,
    EnvInfo,
    FileEntry,
    Manifest,
    ModelInfoEntry,
    PackageError,
    ParamInfo,
    SkillInfo,
)
from designer.core.package.readme import package_readme
from designer.core.package.secrets import MovedSecret, env_name, move_secrets
from designer.core.secrets import has_secrets
from designer.core.skill import Problem, Skill, dump_skill, find_placeholders, get_spec, validate_skill
from designer.core.skill.catalog.process import ModelParams
from designer.core.skill.fields import PARAM_NAME_RE
from designer.core.skill.kan import dump_kan, export_kan
from designer.core.skill.problems import error, warning

Progress = Callable[[str, int, int], None]
"""``(step, done, total)``: a step's text, and how far it got (bytes or items)."""

DEFAULT_RUNTIME_IMAGE = f"skill-designer-runtime:{designer.__version__}"
PROTO_FILE = Path(designer.__file__).parent / "customnode" / "custom_node.proto"
SLUG_RE = re.compile(r"[^a-z0-9]+")


class ExportError(PackageError):
    """The skill cannot be exported; ``problems`` lists the validation errors, located."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


@dataclass
class ExportReport:
    """What an export wrote and what the user should know about it."""

    path: Path
    size: int
    sha256: str
    skill_id: str
    version: str
    files: list[str]
    warnings: list[str] = field(default_factory=list)
    moved_secrets: list[MovedSecret] = field(default_factory=list)
    required_env: list[str] = field(default_factory=list)
    params: dict[str, str | None] = field(default_factory=dict)
    execution_providers: list[str] = field(default_factory=list)
    kan_notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "size": self.size,
            "sha256": self.sha256,
            "skill_id": self.skill_id,
            "version": self.version,
            "files": self.files,
            "warnings": self.warnings,
            "required_env": self.required_env,
            "params": self.params,
            "execution_providers": self.execution_providers,
            "kan_notes": self.kan_notes,
            "seconds": round(self.seconds, 3),
        }


def slug(text: str, fallback: str = "skill") -> str:
    """A name usable as a module, Kubernetes object and folder name: ``[a-z0-9-]``, at most 50."""
    value = SLUG_RE.sub("-", text.lower()).strip("-")[:50].strip("-")
    return value or fallback


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _created_at(skill_path: Path | None, created_at: datetime | None) -> datetime:
    """Fixed per input so exports are reproducible: given, else ``SOURCE_DATE_EPOCH``, else the
    time the skill file was last saved."""
    if created_at is None:
        epoch = os.environ.get("SOURCE_DATE_EPOCH")
        if epoch and epoch.isdigit():
            created_at = datetime.fromtimestamp(int(epoch), UTC)
        elif skill_path is not None and skill_path.exists():
            created_at = datetime.fromtimestamp(int(skill_path.stat().st_mtime), UTC)
        else:
            created_at = datetime(1980, 1, 1, tzinfo=UTC)
    created_at = created_at.astimezone(UTC).replace(microsecond=0)
    return max(created_at, datetime(1980, 1, 1, tzinfo=UTC))


@dataclass
class _Model:
    id: str
    nodes: list[str]
    onnx: Path
    labels: Path | None
    info: ModelInfo
    source: str
    overrides: dict
    stem: str

    @property
    def onnx_name(self) -> str:
        return f"models/{self.id}/{self.stem}.onnx"


def _model_params(values: dict) -> ModelParams:
    """A model node's parameters (validated before), unknown keys (kept, warned about) left out."""
    return ModelParams.model_validate({k: v for k, v in values.items() if k in ModelParams.model_fields})


def _node_overrides(p: ModelParams) -> tuple[dict, str | None, str | None]:
    """The engine's reading of a node's own model settings (see ModelRuntime.open)."""
    overrides = p.preprocess_overrides()
    task = None if p.model_type == "auto" else p.model_type
    layout = None if p.layout == "auto" else p.layout
    return overrides, task, layout


def _collect_models(skill: Skill, skill_dir: Path, library: Any) -> tuple[dict[str, _Model], dict[str, dict]]:
    """Each distinct model file once, and each model node's rewritten parameters."""
    models: dict[str, _Model] = {}
    by_content: dict[tuple[str, str | None, str], str] = {}
    rewrites: dict[str, dict] = {}
    for node in sorted(skill.nodes, key=lambda n: n.id):
        spec = get_spec(node.type)
        if spec is None or spec.kind != "model":
            continue
        p = _model_params(node.params)
        new = dict(node.params)
        if p.model_id:
            if library is None:
                raise ExportError(
                    f"node {node.id}: model {p.model_id!r} is a library model, and the model "
                    "library is not available"
                )
            try:
                onnx_path, labels_path, entry = library.resolve(p.model_id)
            except ModelError as exc:
                raise ExportError(f"node {node.id}: {exc}") from None
            base, stem, source = entry.id, entry.id, "library"
            saved = entry.overrides
            preprocess = dict(saved.preprocess)
            # The library's saved settings become the node's own, so the packaged skill reads the
            # files exactly as the library did.
            if p.model_type == "auto":
                new["model_type"] = entry.type
            if p.layout == "auto" and isinstance(saved.layout, str):
                new["layout"] = saved.layout
            for key, param in (("color", "color_order"), ("resize", "resize")):
                if key in preprocess and new.get(param, "auto") == "auto":
                    new[param] = preprocess.pop(key)
            for key, param in (("scale", "pixel_scale"), ("mean", "mean"), ("std", "std")):
                if key in preprocess and new.get(param) is None:
                    value = preprocess.pop(key)
                    new[param] = list(value) if isinstance(value, list | tuple) else value
            if preprocess or isinstance(saved.layout, dict):
                keys = sorted(preprocess) + (["layout"] if isinstance(saved.layout, dict) else [])
                raise ExportError(
                    f"node {node.id}: model {p.model_id!r} was added with settings a skill file cannot "
                    f"state ({', '.join(keys)}); export the model with those baked in, or add it without them"
                )
            overrides = {"layout": saved.layout, "preprocess": dict(saved.preprocess)}
        else:
            onnx_path = (skill_dir / p.model_path).expanduser()
            labels_path = (skill_dir / p.labels_path).expanduser() if p.labels_path else None
            # The engine names a classifier's attribute after the file: its name travels unchanged.
            stem = Path(p.model_path).stem or "model"
            base, source, overrides = slug(stem, "model"), "file", {}
        for role, path in (("ONNX file", onnx_path), ("label file", labels_path)):
            if path is not None and not Path(path).is_file():
                raise ExportError(f"node {node.id}: {role} {path} not found; the package needs it")
        onnx_path, labels_path = Path(onnx_path), Path(labels_path) if labels_path else None
        key = (_sha256_file(onnx_path)[0], _sha256_file(labels_path)[0] if labels_path else None, stem)
        model_id = by_content.get(key)
        if model_id is None:
            model_id, n = base, 2
            while model_id in models:
                model_id, n = f"{base}-{n}", n + 1
            by_content[key] = model_id
            models[model_id] = _Model(model_id, [], onnx_path, labels_path, None, source, overrides, stem)  # type: ignore[arg-type]
        models[model_id].nodes.append(node.id)
        new.update(
            model_id="",
            model_path=models[model_id].onnx_name,
            labels_path=f"models/{model_id}/labels.txt" if labels_path else "",
        )
        rewrites[node.id] = new
        # Inspect as the engine will read the packaged skill: this checks the settings still fit.
        params = _model_params(new)
        node_overrides, task, layout = _node_overrides(params)
        try:
            info = inspect_model(onnx_path, labels_path, task=task, layout=layout, **node_overrides)
        except (ModelError, ValueError, TypeError) as exc:
            raise ExportError(f"node {node.id}: {exc}") from None
        if models[model_id].info is None:
            models[model_id].info = info
    return models, rewrites


def _model_settings(model: _Model) -> bytes:
    info = model.info
    data = {
        "id": model.id,
        "nodes": model.nodes,
        "source": model.source,
        "task": info.task,
        "layout": info.layout.model_dump(),
        "preprocess": info.preprocess.model_dump(),
        "labels_source": info.labels_source,
        "num_classes": info.num_classes,
        "opset": info.opset,
        "inputs": [t.model_dump() for t in info.inputs],
        "outputs": [t.model_dump() for t in info.outputs],
        "producer": info.producer,
        "overrides": model.overrides,
    }
    return (json.dumps(data, indent=2, sort_keys=True, default=list, allow_nan=False) + "\n").encode()


def _container_endpoints(skill: Skill, defaults: dict[str, str]) -> Skill:
    """gRPC container nodes reach their container by name on the device: ``$param(<name>.endpoint)``,
    by default ``<name>:<port>`` (the IoT Edge module, the Kubernetes Service)."""
    nodes = []
    for node in skill.nodes:
        spec = get_spec(node.type)
        params = node.params
        if spec is not None and spec.kind == "grpc-container":
            name = str(params.get("container_name", node.id))
            param = f"{name}.endpoint"
            defaults.setdefault(param, f"{name}:{params.get('port')}")
            params = {**params, "preview_endpoint": f"$param({param})"}
        nodes.append(node.model_copy(update={"params": params}))
    return skill.model_copy(update={"nodes": nodes})


def _version(skill: Skill, skill_json: bytes) -> str:
    tagged = next(
        (t.value for t in skill.settings.tags if t.name.strip().lower() == "version" and t.value), None
    )
    return tagged or f"0+{hashlib.sha256(skill_json).hexdigest()[:12]}"


def target_problems(skill: Skill, skill_dir: Path, library: Any) -> list[Problem]:
    """The target device's checks: each model's operators against the acceleration's providers."""
    problems: list[Problem] = []
    acceleration = skill.settings.acceleration
    try:
        target_providers(acceleration)
    except ValueError:
        return problems  # validation reports the unknown acceleration
    for node in sorted(skill.nodes, key=lambda n: n.id):
        spec = get_spec(node.type)
        if spec is None or spec.kind != "model":
            continue
        try:
            p = _model_params(node.params)
            if p.model_id:
                if library is None:
                    continue
                path = Path(library.resolve(p.model_id)[0])
            elif p.model_path:
                path = skill_dir / p.model_path
            else:
                continue
            if not path.is_file():
                continue  # the export names the missing file
            report = check_target(path, acceleration)
        except Exception as exc:
            problems.append(
                error(
                    "target-model-unreadable",
                    f"Cannot check the model for {acceleration}: {exc}",
                    node.id,
                    "model_path",
                )
            )
            continue
        if report.missing:
            ops = ", ".join(u.describe() for u in report.missing)
            problems.append(
                error(
                    "target-operator-unsupported",
                    f"onnxruntime has no kernel for {ops}: the model cannot run on {acceleration} "
                    "(nor on any device). Export it at another opset, or replace the operators.",
                    node.id,
                    "model_path",
                )
            )
        for provider, ops in sorted(report.cpu_fallback.items()):
            names = ", ".join(u.describe() for u in ops)
            problems.append(
                warning(
                    "target-cpu-fallback",
                    f"{provider} has no kernel for {names}: those run on the CPU on the device.",
                    node.id,
                    "model_path",
                )
            )
    return problems


def export_package(
    skill: Skill,
    skill_path: str | os.PathLike | None,
    out_path: str | os.PathLike,
    *,
    library: Any = None,
    runtime_image: str = DEFAULT_RUNTIME_IMAGE,
    defaults: dict[str, str] | None = None,
    created_at: datetime | None = None,
    progress: Progress | None = None,
) -> ExportReport:
    """Validate ``skill`` for its target and write the package to ``out_path``.

    ``skill_path`` locates the files the skill names (models, labels); ``defaults`` gives
    ``$param`` defaults the device may override. Raises ExportError (with located
    ``problems`` for validation errors) and writes nothing when anything is wrong.
    """
    started = time.monotonic()
    step = progress or (lambda *_: None)
    skill_path = Path(skill_path) if skill_path is not None else None
    skill_dir = skill_path.resolve().parent if skill_path is not None else Path.cwd()
    out_path = Path(out_path)
    step("validating", 0, 1)
    problems = validate_skill(skill, library, target=True) + target_problems(skill, skill_dir, library)
    errors = [p for p in problems if p.is_error]
    if errors:
        lines = "; ".join(f"{p.located()}: {p.message}" for p in errors)
        raise ExportError(f"the skill has {len(errors)} error(s); fix them before exporting: {lines}", errors)
    warnings = [f"{p.located()}: {p.message}" for p in problems]
    defaults = dict(defaults or {})
    placeholders = find_placeholders(skill)
    for name in sorted(set(defaults) - set(placeholders)):
        raise ExportError(
            f"default for {name!r}: the skill has no $param({name}) "
            f"(its parameters: {', '.join(placeholders) or 'none'})"
        )

    for name, value in defaults.items():
        if move_secrets_in_value(value):
            raise ExportError(
                f"default for {name!r} holds a secret (credentials, a key or a token); "
                "give it on the device instead"
            )

    step("collecting models", 0, 1)
    models, rewrites = _collect_models(skill, skill_dir, library)
    nodes = [n.model_copy(update={"params": rewrites[n.id]}) if n.id in rewrites else n for n in skill.nodes]
    packaged = _container_endpoints(skill.model_copy(update={"nodes": nodes}), defaults)
    packaged, moved = move_secrets(packaged)
    for node in packaged.nodes:
        spec = get_spec(node.type)
        if spec is not None and spec.kind == "camera":
            source = str(node.params.get("source", ""))
            if source and not source.isdigit() and "://" not in source and "$param(" not in source:
                warnings.append(
                    f"node {node.id}: its source is a local video file ({source}), which is not "
                    "packaged: give the device --source or make it a $param"
                )
    for secret in moved:
        warnings.append(secret.warning())

    used = find_placeholders(packaged)
    params: dict[str, ParamInfo] = {}
    env_of: dict[str, str] = {}
    for name, users in used.items():
        env = env_name("SKILL_PARAM", name)
        if env in env_of:
            raise ExportError(
                f"parameters {env_of[env]!r} and {name!r} both become the environment "
                f"variable {env}; rename one"
            )
        env_of[env] = name
        params[name] = ParamInfo(default=defaults.get(name), env=env, used_by=users)
    env_info = {
        s.env: EnvInfo(node=s.node, param=s.param, used_by=s.used_by, description=s.what) for s in moved
    }

    skill_id = slug(skill.settings.name)
    skill_json = dump_skill(packaged.without_layout()).encode()
    version = _version(skill, skill_json)
    when = _created_at(skill_path, created_at)
    package_file = f"{skill_id}-{slug(version, 'v')}.zip"

    entries: dict[str, bytes | Path] = {SKILL_NAME: skill_json}
    for model in models.values():
        entries[model.onnx_name] = model.onnx
        if model.labels is not None:
            entries[f"models/{model.id}/labels.txt"] = model.labels
        entries[f"models/{model.id}/model.json"] = _model_settings(model)
    entries["proto/custom_node.proto"] = PROTO_FILE.read_bytes()

    step("writing deployment manifests", 0, 1)
    data = deploy.DeployInput(
        skill=packaged,
        runtime_name=skill_id,
        runtime_image=runtime_image,
        package_file=package_file,
        params={n: (p.env, p.default) for n, p in params.items()},
        secrets={name: info.used_by for name, info in env_info.items()},
    )
    try:
        edge = deploy.iotedge_deployment(data)
        k8s = deploy.kubernetes_manifests(data)
    except ValueError as exc:
        raise ExportError(str(exc)) from None
    entries["deploy/iotedge/deployment.json"] = (
        json.dumps(edge, indent=2, sort_keys=True, allow_nan=False) + "\n"
    ).encode()
    for name, docs in k8s.items():
        entries[f"deploy/k8s/{name}"] = deploy.dump_yaml_documents(docs).encode()
    warnings += data.notes
    resource, kan_report = export_kan(move_secrets(skill)[0], skill_id)  # model names as the user wrote them
    header = "".join(f"# KAN cannot express: {note}\n" for note in kan_report.notes)
    entries["deploy/kan/skill.yaml"] = (header + dump_kan(resource)).encode()

    providers = target_providers(skill.settings.acceleration)
    entries["README.md"] = package_readme(
        skill=packaged,
        skill_id=skill_id,
        version=version,
        package_file=package_file,
        params=params,
        env=env_info,
        providers=providers,
        runtime_image=runtime_image,
        containers=k8s,
    ).encode()

    files: dict[str, FileEntry] = {}
    for name, value in sorted(entries.items()):
        if isinstance(value, bytes):
            files[name] = FileEntry(sha256=hashlib.sha256(value).hexdigest(), size=len(value))
        else:
            sha, size = _sha256_file(value)
            files[name] = FileEntry(sha256=sha, size=size)
    manifest = Manifest(
        skill=SkillInfo(id=skill_id, name=skill.settings.name, version=version),
        designer_version=designer.__version__,
        created_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        acceleration=skill.settings.acceleration,
        execution_providers=providers,
        params=params,
        env=env_info,
        models=[
            ModelInfoEntry(
                id=m.id,
                nodes=m.nodes,
                task=m.info.task,
                opset=m.info.opset,
                files=sorted(n for n in entries if n.startswith(f"models/{m.id}/")),
            )
            for m in models.values()
        ],
        files=files,
    )
    entries[MANIFEST_NAME] = manifest.dump()
    date_time = max(when.timetuple()[:6], EPOCH_1980)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_zip(out_path, entries, date_time=date_time, progress=progress)
    except OSError as exc:
        raise ExportError(f"{out_path}: cannot write: {exc.strerror or exc}") from None
    sha, size = _sha256_file(out_path)
    step("done", 1, 1)
    return ExportReport(
        path=out_path,
        size=size,
        sha256=sha,
        skill_id=skill_id,
        version=version,
        files=sorted(entries),
        warnings=warnings,
        moved_secrets=moved,
        required_env=sorted(env_info),
        params={n: p.default for n, p in params.items()},
        execution_providers=providers,
        kan_notes=list(kan_report.notes),
        seconds=time.monotonic() - started,
    )


def move_secrets_in_value(value: str) -> bool:
    """Whether a free-standing value holds something ``move_secrets`` would move out, or that
    every message would mask."""
    from designer.core.package.secrets import _Mover

    return has_secrets(value) or _Mover().scrub(value, "X", "", "", "runtime") != value


def parse_defaults(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not PARAM_NAME_RE.match(name):
            raise ExportError(f"--default {item!r}: write NAME=VALUE, e.g. --default rtsp=rtsp://cam/1")
        values[name] = value
    return values
