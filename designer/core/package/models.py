"""The models a package carries: each model node's files found once, each distinct file packaged
once, and the node rewritten to name its packaged files with the settings it runs with.

Model nodes are the nodes whose typed parameters are ``ModelParams``; the library and node
settings merge in one place, ``ModelParams.settings_with``, which the engine opens models with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from designer.core.models.errors import ModelError
from designer.core.models.inspect import ModelInfo, inspect_model
from designer.core.models.targets import check_target, target_providers
from designer.core.package.context import ExportError, sha256_file, slug
from designer.core.skill import Problem, Skill
from designer.core.skill.catalog.process import ModelParams
from designer.core.skill.compiled import CompiledNode, CompiledSkill, compile_skill
from designer.core.skill.problems import error, warning

#: Library pre-processing settings a skill file states, and the node parameter stating each.
STATED = {"color": "color_order", "resize": "resize", "scale": "pixel_scale", "mean": "mean", "std": "std"}


@dataclass
class PackagedModel:
    id: str
    onnx: Path
    labels: Path | None
    source: str
    overrides: dict
    stem: str
    nodes: list[str] = field(default_factory=list)
    info: ModelInfo | None = None

    @property
    def onnx_name(self) -> str:
        return f"models/{self.id}/{self.stem}.onnx"

    @property
    def labels_name(self) -> str:
        return f"models/{self.id}/labels.txt"


@dataclass(frozen=True)
class ModelFiles:
    """Where one model node's files are: a library model's cached files, else the named files."""

    onnx: Path
    labels: Path | None
    entry: Any = None  # the library entry, for a library model


def model_nodes(compiled: CompiledSkill) -> list[CompiledNode]:
    """The nodes that run a model, by id."""
    return sorted(
        (n for n in compiled.nodes.values() if isinstance(n.params, ModelParams)), key=lambda n: n.id
    )


def model_params(node: CompiledNode) -> ModelParams:
    """A model node's typed parameters (``model_nodes`` keeps only those)."""
    if not isinstance(node.params, ModelParams):
        raise ExportError(f"node {node.id}: its parameters are not a model's")
    return node.params


class ModelFinder:
    """Each model node's files, looked up once (the library is asked once per node)."""

    def __init__(self, skill_dir: Path, library: Any) -> None:
        self.skill_dir, self.library = skill_dir, library
        self._found: dict[str, ModelFiles | Exception | None] = {}

    def find(self, node: CompiledNode) -> ModelFiles | None:
        """The node's files; None when it names a library model and there is no library.
        Raises what the library raises."""
        if node.id not in self._found:
            try:
                self._found[node.id] = self._find(model_params(node))
            except Exception as exc:
                self._found[node.id] = exc
        found = self._found[node.id]
        if isinstance(found, Exception):
            raise found
        return found

    def _find(self, p: ModelParams) -> ModelFiles | None:
        if p.model_id:
            if self.library is None:
                return None
            onnx, labels, entry = self.library.resolve(p.model_id)
            return ModelFiles(Path(onnx), Path(labels) if labels else None, entry)
        onnx = (self.skill_dir / p.model_path).expanduser()
        return ModelFiles(onnx, (self.skill_dir / p.labels_path).expanduser() if p.labels_path else None)


def target_problems(
    skill: Skill | CompiledSkill, skill_dir: Path, library: Any, finder: ModelFinder | None = None
) -> list[Problem]:
    """The target device's checks: each model's operators against the acceleration's providers."""
    compiled = skill if isinstance(skill, CompiledSkill) else compile_skill(skill)
    finder = finder or ModelFinder(skill_dir, library)
    acceleration = compiled.skill.settings.acceleration
    try:
        target_providers(acceleration)
    except ValueError:
        return []  # validation reports the unknown acceleration
    problems: list[Problem] = []
    for node in model_nodes(compiled):
        p = model_params(node)
        if not p.model_id and not p.model_path:
            continue
        try:
            files = finder.find(node)
            if files is None or not files.onnx.is_file():
                continue  # the export names the missing file
            report = check_target(files.onnx, acceleration)
        except Exception as exc:
            message = f"Cannot check the model for {acceleration}: {exc}"
            problems.append(error("target-model-unreadable", message, node.id, "model_path"))
            continue
        problems += _report_problems(report, acceleration, node.id)
    return problems


def _report_problems(report: Any, acceleration: str, node_id: str) -> list[Problem]:
    problems = []
    if report.missing:
        ops = ", ".join(u.describe() for u in report.missing)
        message = (
            f"onnxruntime has no kernel for {ops}: the model cannot run on {acceleration} "
            "(nor on any device). Export it at another opset, or replace the operators."
        )
        problems.append(error("target-operator-unsupported", message, node_id, "model_path"))
    for provider, ops in sorted(report.cpu_fallback.items()):
        names = ", ".join(u.describe() for u in ops)
        message = f"{provider} has no kernel for {names}: those run on the CPU on the device."
        problems.append(warning("target-cpu-fallback", message, node_id, "model_path"))
    return problems


def _library_settings(node: CompiledNode, entry: Any) -> dict:
    """The library's saved settings of a node's model, stated as the node's own parameters, so
    the packaged skill reads the files exactly as the library did (the node's own settings win)."""
    p = model_params(node)
    task, layout, preprocess = p.settings_with(entry)
    own = p.preprocess_overrides()
    unstated = sorted(set(preprocess) - set(STATED)) + (["layout"] if isinstance(layout, dict) else [])
    if unstated:
        raise ExportError(
            f"node {node.id}: model {p.model_id!r} was added with settings a skill file cannot "
            f"state ({', '.join(unstated)}); export the model with those baked in, or add it without them"
        )
    stated: dict[str, Any] = {}
    if p.model_type == "auto":
        stated["model_type"] = task
    if p.layout == "auto" and isinstance(layout, str):
        stated["layout"] = layout
    for key, param in STATED.items():
        if key in preprocess and key not in own:
            value = preprocess[key]
            stated[param] = list(value) if isinstance(value, list | tuple) else value
    return stated


def _files_of(node: CompiledNode, finder: ModelFinder) -> ModelFiles:
    p = model_params(node)
    try:
        files = finder.find(node)
    except ModelError as exc:
        raise ExportError(f"node {node.id}: {exc}") from None
    if files is None:
        raise ExportError(
            f"node {node.id}: model {p.model_id!r} is a library model, and the model library is not available"
        )
    for role, path in (("ONNX file", files.onnx), ("label file", files.labels)):
        if path is not None and not path.is_file():
            raise ExportError(f"node {node.id}: {role} {path} not found; the package needs it")
    return files


def _new_model(node: CompiledNode, files: ModelFiles, model_id: str) -> PackagedModel:
    if files.entry is not None:
        saved = files.entry.overrides
        overrides = {"layout": saved.layout, "preprocess": dict(saved.preprocess)}
        return PackagedModel(model_id, files.onnx, files.labels, "library", overrides, files.entry.id)
    # The engine names a classifier's attribute after the file: its name travels unchanged.
    return PackagedModel(model_id, files.onnx, files.labels, "file", {}, _stem(node))


def _stem(node: CompiledNode) -> str:
    return Path(model_params(node).model_path).stem or "model"


def _inspect(node: CompiledNode, params: dict, model: PackagedModel) -> None:
    """Inspect as the engine will read the packaged skill: this checks the settings still fit."""
    try:
        packaged = ModelParams.model_validate(
            {k: v for k, v in params.items() if k in ModelParams.model_fields}
        )
        task, layout, overrides = packaged.settings_with(None)
        info = inspect_model(model.onnx, model.labels, task=task, layout=layout, **overrides)
    except (ModelError, ValueError, TypeError) as exc:
        raise ExportError(f"node {node.id}: {exc}") from None
    if model.info is None:
        model.info = info


def collect_models(
    compiled: CompiledSkill, finder: ModelFinder
) -> tuple[dict[str, PackagedModel], dict[str, dict]]:
    """Each distinct model file once, and each model node's rewritten parameters (as written,
    plus the packaged file names and the library settings the node now states)."""
    models: dict[str, PackagedModel] = {}
    by_content: dict[tuple[str, str | None, str], str] = {}
    rewrites: dict[str, dict] = {}
    for node in model_nodes(compiled):
        files = _files_of(node, finder)
        stem = files.entry.id if files.entry is not None else _stem(node)
        key = (sha256_file(files.onnx)[0], sha256_file(files.labels)[0] if files.labels else None, stem)
        model_id = by_content.get(key)
        if model_id is None:
            model_id = by_content[key] = _free_id(
                models, stem if files.entry is not None else slug(stem, "model")
            )
            models[model_id] = _new_model(node, files, model_id)
        model = models[model_id]
        model.nodes.append(node.id)
        params = dict(node.raw.params)
        if files.entry is not None:
            params.update(_library_settings(node, files.entry))
        params.update(
            model_id="", model_path=model.onnx_name, labels_path=model.labels_name if files.labels else ""
        )
        rewrites[node.id] = params
        _inspect(node, params, model)
    return models, rewrites


def _free_id(models: dict[str, PackagedModel], base: str) -> str:
    model_id, n = base, 2
    while model_id in models:
        model_id, n = f"{base}-{n}", n + 1
    return model_id
