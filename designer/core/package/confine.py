"""A packaged skill stays in its folders: every file it reads is inside the package, every file
it writes inside the run's output folder.

The parameters that name files are the ones the catalog marks ``READS`` (models, labels, the
camera's video file), ``WRITES`` and ``WRITES_FOLDER`` (logs, clips): the rule is generic, over
marks, never over node types. ``verify``, ``run`` and ``import`` refuse a package that breaks it,
naming node and parameter; on the design machine the same rule (``path_escape``) is a warning.

A ``$param(...)`` value is checked with the default the manifest gives it (the package's own
value); a value the device gives (``--param``, its environment) is the device's choice.
"""

from __future__ import annotations

import posixpath

from designer.core.package.manifest import SKILL_NAME, Manifest, PackageError
from designer.core.secrets import url_scheme
from designer.core.skill import SkillFileError, parse_skill
from designer.core.skill.compiled import compile_skill
from designer.core.skill.fields import CAMERA_URL_SCHEMES, PLACEHOLDER_RE, Mark, accepts_placeholder
from designer.core.skill.validate import path_escape


def _filled(value: str, manifest: Manifest) -> str | None:
    """The value with each ``$param`` replaced by its packaged default; None when one has none
    (the device gives it)."""
    missing = False

    def fill(match: object) -> str:
        nonlocal missing
        info = manifest.params.get(match[1])  # type: ignore[index]
        if info is None or info.default is None:
            missing = True
            return ""
        return info.default

    filled = PLACEHOLDER_RE.sub(fill, value)
    return None if missing else filled


def _read_problem(value: str, per_device: bool, manifest: Manifest) -> str | None:
    """Why a file a packaged skill reads is not inside the package."""
    text = value.strip()
    if per_device and (text.isdigit() or url_scheme(text) in CAMERA_URL_SCHEMES):
        return None  # a webcam or a network stream, not a file
    reason = path_escape(text)
    if reason is not None:
        return f"{text!r} {reason}: a package reads only its own files"
    if per_device:
        return None  # resolved inside the unpacked package; a file the package lacks is not read
    name = posixpath.normpath(text.replace("\\", "/"))
    if name not in manifest.files:
        return f"{text!r} is not a file of the package: a package reads only its own files"
    return None


def _write_problem(value: str) -> str | None:
    reason = path_escape(value)
    if reason is None:
        return None
    return f"{value.strip()!r} {reason}: a package writes only into the run's output folder"


def confinement_problems(manifest: Manifest, skill_json: bytes, where: str) -> list[str]:
    """Each file parameter of the packaged skill that reaches outside its folder, as a message
    naming node and parameter. Raises PackageError when ``skill.json`` cannot be read."""
    try:
        skill = parse_skill(skill_json, SKILL_NAME)
    except SkillFileError as exc:
        raise PackageError(f"{where}: {SKILL_NAME}: {exc.message}") from None
    compiled = compile_skill(skill)
    problems = []
    for node in compiled.nodes.values():
        fields = node.spec.params.model_fields
        for mark in (Mark.READS, Mark.WRITES, Mark.WRITES_FOLDER):
            for name, value in node.marked(mark):
                if not isinstance(value, str):
                    continue
                filled = _filled(value, manifest)
                if filled is None or not filled.strip():
                    continue
                if mark is Mark.READS:
                    problem = _read_problem(filled, accepts_placeholder(fields[name]), manifest)
                else:
                    problem = _write_problem(filled)
                if problem is not None:
                    shown = "" if filled == value else " (its $param default)"
                    problems.append(f"node {node.id}, parameter {name}{shown}: {problem}")
    return problems


def check_confined(manifest: Manifest, skill_json: bytes, where: str) -> None:
    """Refuse a package whose skill reads or writes outside its folders, naming every place."""
    problems = confinement_problems(manifest, skill_json, where)
    if problems:
        raise PackageError(f"{where}: {SKILL_NAME}: {'; '.join(problems)}; refusing the package")
