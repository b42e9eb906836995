"""``export_package``: a skill and everything it needs, in one checked, reproducible zip.

The designer calls ``export_package(skill, skill_path, out_path, progress=cb)`` and shows
the returned ``ExportReport``; ``skill-designer export`` prints it.

The skill is compiled once and checked for its target; the export then decides, once, what
every part of the package shares (``ExportContext``: the packaged skill, its models, parameters
and secrets), and the parts (``parts.PARTS``) each write their files from the compiled packaged
skill and that context, the manifest last.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import designer
from designer.core.models.targets import target_providers
from designer.core.package import deploy
from designer.core.package.archive import EPOCH_1980, write_zip
from designer.core.package.context import ExportContext, ExportError, sha256_file, slug
from designer.core.package.manifest import EnvInfo, PackageError, ParamInfo
from designer.core.package.models import ModelFinder, collect_models, target_problems
from designer.core.package.parts import PARTS
from designer.core.package.secrets import (
    MovedSecret,
    _Mover,
    env_name,
    move_secrets,
    secret_defaults,
    secret_params,
)
from designer.core.secrets import has_secrets, url_scheme
from designer.core.skill import Skill, dump_skill, find_placeholders
from designer.core.skill.compiled import CompiledSkill, compile_skill
from designer.core.skill.fields import PARAM_NAME_RE, PLACEHOLDER_RE, Mark, accepts_placeholder
from designer.core.skill.validate import path_escape

__all__ = [
    "DEFAULT_RUNTIME_IMAGE",
    "ExportError",
    "ExportReport",
    "PackageError",
    "export_package",
    "move_secrets_in_value",
    "parse_defaults",
    "slug",
    "target_problems",
]

Progress = Callable[[str, int, int], None]
"""``(step, done, total)``: a step's text, and how far it got (bytes or items)."""

DEFAULT_RUNTIME_IMAGE = f"skill-designer-runtime:{designer.__version__}"


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


def _version(skill: Skill, skill_json: bytes) -> str:
    tagged = next(
        (t.value for t in skill.settings.tags if t.name.strip().lower() == "version" and t.value), None
    )
    return tagged or f"0+{hashlib.sha256(skill_json).hexdigest()[:12]}"


def _validate(compiled: CompiledSkill, finder: ModelFinder) -> list[str]:
    """The target's problems as warnings; raises ExportError listing the errors, if any."""
    problems = compiled.problems + target_problems(compiled, finder.skill_dir, finder.library, finder)
    errors = [p for p in problems if p.is_error]
    if errors:
        lines = "; ".join(f"{p.located()}: {p.message}" for p in errors)
        raise ExportError(f"the skill has {len(errors)} error(s); fix them before exporting: {lines}", errors)
    return [f"{p.located()}: {p.message}" for p in problems]


def _check_defaults(
    skill: Skill, defaults: dict[str, str], containers_env: dict[str, tuple[str, str]]
) -> None:
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
    for message in secret_defaults(skill, defaults, containers_env):
        raise ExportError(message)


def _settings_warnings(skill: Skill) -> list[str]:
    """The description and tags are packaged as written: one holding a credential is said."""
    found = []
    if move_secrets_in_value(skill.settings.description):
        found.append("the skill's description holds what looks like a secret; it is packaged as written")
    for tag in skill.settings.tags:
        if move_secrets_in_value(tag.value) or move_secrets_in_value(tag.name):
            found.append(f"tag {tag.name!r} holds what looks like a secret; it is packaged as written")
    return found


def _inputs(compiled: CompiledSkill, skill_path: Path | None, models: dict[str, Any]) -> list[Path]:
    """Every file the export reads: the skill file, its models and labels, the files its
    parameters marked READS name (relative to the skill's folder)."""
    skill_dir = skill_path.resolve().parent if skill_path is not None else Path.cwd()
    found = [skill_path] if skill_path is not None else []
    for model in models.values():
        found += [model.onnx] + ([model.labels] if model.labels is not None else [])
    for node in compiled.nodes.values():
        for _, value in node.marked(Mark.READS):
            if isinstance(value, str) and not PLACEHOLDER_RE.search(value) and "://" not in value:
                found.append(skill_dir / Path(value).expanduser())
    return found


def _check_output(out_path: Path, inputs: list[Path]) -> None:
    """Writing the package over one of its own inputs (``-o model.onnx --force``) destroys it."""
    target = out_path.resolve()
    for path in inputs:
        try:
            same = path.resolve() == target or (out_path.exists() and os.path.samefile(path, out_path))
        except OSError:
            same = False
        if same:
            raise ExportError(
                f"{out_path}: this is one of the skill's own inputs ({path}); writing the package "
                "there would destroy it: choose another output file"
            )


def _container_endpoints(skill: Skill, containers: list[deploy.Container], defaults: dict[str, str]) -> Skill:
    """A node that deploys a container reaches it by name on the device: its endpoint parameter
    becomes ``$param(<name>.endpoint)``, by default ``<name>:<port>`` (the IoT Edge module, the
    Kubernetes Service)."""
    endpoints = {}
    for c in containers:
        param = f"{c.name}.endpoint"
        defaults.setdefault(param, f"{c.name}:{c.port}")
        endpoints[c.node] = {c.endpoint_param: f"$param({param})"}
    nodes = [n.model_copy(update={"params": {**n.params, **endpoints.get(n.id, {})}}) for n in skill.nodes]
    return skill.model_copy(update={"nodes": nodes})


def _confine_reads(skill: Skill) -> Skill:
    """A per-device file a node reads (a READS parameter taking ``$param``: the camera's video
    file) that the package does not carry keeps only its file name: inside a package every path
    stays in the package (``verify`` refuses one that climbs out), and the device gives its own
    (``--source``, a ``$param``)."""
    compiled = compile_skill(skill)
    changes: dict[str, dict[str, str]] = {}
    for node in compiled.nodes.values():
        fields = node.spec.params.model_fields
        for name, value in node.marked(Mark.READS):
            if not isinstance(value, str) or not accepts_placeholder(fields[name]):
                continue
            text = value.strip()
            if PLACEHOLDER_RE.search(text) or text.isdigit() or url_scheme(text) is not None:
                continue
            if path_escape(text) is not None:
                changes.setdefault(node.id, {})[name] = PurePosixPath(text.replace("\\", "/")).name
    nodes = [
        n.model_copy(update={"params": {**n.params, **changes[n.id]}}) if n.id in changes else n
        for n in skill.nodes
    ]
    return skill.model_copy(update={"nodes": nodes})


def _source_warnings(compiled: CompiledSkill) -> list[str]:
    """A local video file the source reads is not packaged: the device needs its own source."""
    return [
        f"node {node.id}: its source is a local video file ({value}), which is not "
        "packaged: give the device --source or make it a $param"
        for node, _, value in deploy.source_values(compiled)
        if not value.isdigit() and "://" not in value and "$param(" not in value
    ]


def _param_infos(skill: Skill, defaults: dict[str, str]) -> dict[str, ParamInfo]:
    params: dict[str, ParamInfo] = {}
    env_of: dict[str, str] = {}
    for name, users in find_placeholders(skill).items():
        env = env_name("SKILL_PARAM", name)
        if env in env_of:
            raise ExportError(
                f"parameters {env_of[env]!r} and {name!r} both become the environment "
                f"variable {env}; rename one"
            )
        env_of[env] = name
        params[name] = ParamInfo(default=defaults.get(name), env=env, used_by=users)
    return params


@dataclass
class _Prepared:
    context: ExportContext
    packaged: CompiledSkill
    warnings: list[str]
    moved: list[MovedSecret]


def _prepare(
    skill: Skill,
    skill_path: Path | None,
    library: Any,
    defaults: dict[str, str],
    options: dict,
    step: Progress,
) -> _Prepared:
    """Validate, collect the models, and decide what the parts share."""
    skill_dir = skill_path.resolve().parent if skill_path is not None else Path.cwd()
    step("validating", 0, 1)
    compiled = compile_skill(skill, library, target=True)
    finder = ModelFinder(skill_dir, library)
    warnings = _validate(compiled, finder)
    containers = deploy.containers(compiled)
    containers_env = {c.node: (c.env_param, c.name) for c in containers}
    _check_defaults(skill, defaults, containers_env)
    warnings += _settings_warnings(skill)

    step("collecting models", 0, 1)
    models, rewrites = collect_models(compiled, finder)
    if options.get("out_path") is not None:
        _check_output(options["out_path"], _inputs(compiled, skill_path, models))
    nodes = [n.model_copy(update={"params": rewrites[n.id]}) if n.id in rewrites else n for n in skill.nodes]
    packaged = _container_endpoints(skill.model_copy(update={"nodes": nodes}), containers, defaults)
    packaged, moved = move_secrets(_confine_reads(packaged), containers_env)
    packaged_compiled = compile_skill(packaged)
    warnings += _source_warnings(packaged_compiled)
    warnings += [secret.warning() for secret in moved]

    skill_id = slug(skill.settings.name)
    skill_json = dump_skill(packaged.without_layout()).encode()
    version = _version(skill, skill_json)
    context = ExportContext(
        source=skill,
        skill_id=skill_id,
        version=version,
        package_file=f"{skill_id}-{slug(version, 'v')}.zip",
        created_at=_created_at(skill_path, options.get("created_at")),
        runtime_image=options["runtime_image"],
        providers=target_providers(skill.settings.acceleration),
        skill_json=skill_json,
        params=_param_infos(packaged, defaults),
        env={
            s.env: EnvInfo(node=s.node, param=s.param, used_by=s.used_by, description=s.what) for s in moved
        },
        models=models,
        containers_env=containers_env,
        secret_params=frozenset(secret_params(packaged, containers_env)),
    )
    return _Prepared(context, packaged_compiled, warnings, moved)


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
    out_path = Path(out_path)
    options = {"runtime_image": runtime_image, "created_at": created_at, "out_path": out_path}
    prepared = _prepare(skill, skill_path, library, dict(defaults or {}), options, step)
    context, warnings, notes = prepared.context, prepared.warnings, []
    step("writing deployment manifests", 0, 1)
    for part in PARTS:
        output = part(prepared.packaged, context)
        context.files.update(output.files)
        warnings += output.warnings
        notes += output.notes
    _write(out_path, context, progress)
    sha, size = sha256_file(out_path)
    step("done", 1, 1)
    return ExportReport(
        path=out_path,
        size=size,
        sha256=sha,
        skill_id=context.skill_id,
        version=context.version,
        files=sorted(context.files),
        warnings=warnings,
        moved_secrets=prepared.moved,
        required_env=sorted(context.env),
        params={n: p.default for n, p in context.params.items()},
        execution_providers=context.providers,
        kan_notes=notes,
        seconds=time.monotonic() - started,
    )


def _write(out_path: Path, context: ExportContext, progress: Progress | None) -> None:
    date_time = max(context.created_at.timetuple()[:6], EPOCH_1980)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        write_zip(out_path, context.files, date_time=date_time, progress=progress)
    except OSError as exc:
        raise ExportError(f"{out_path}: cannot write: {exc.strerror or exc}") from None


def move_secrets_in_value(value: str) -> bool:
    """Whether a free-standing value holds something ``move_secrets`` would move out, or that
    every message would mask."""
    return has_secrets(value) or _Mover().scrub(value, "X", "", "", "runtime") != value


def parse_defaults(items: list[str]) -> dict[str, str]:
    values = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not PARAM_NAME_RE.match(name):
            raise ExportError(f"--default {item!r}: write NAME=VALUE, e.g. --default rtsp=rtsp://cam/1")
        values[name] = value
    return values
