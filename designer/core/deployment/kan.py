"""KAN ``Instance`` resources (``solution.symphony/v1``) to and from deployments.

A KAN Instance deploys skills to the cameras of one device (its target). KAN writes it in two
shapes, both read here:

- ``spec.pipelines[]``: one per camera x skill, ``{skill: <skill CR>, parameters: {rtsp, fps,
  device_id, device_displayname, skill_displayname, ...}}``;
- the portal's older alias form: ``spec.parameters`` keys ``skill-<alias>.rtsp``, ``.fps``,
  ``.device_id``, ``.device_displayname``, ``.skill_displayname`` per camera x skill;

and both carry ``spec.parameters.configure_data``, a JSON string ``{camera: [skills]}``, used
here when neither gives more (the camera's address then becomes a ``$param``). Credentials in
an rtsp URL never reach the deployment file: the user name is kept, the password becomes
``$param(<camera>_password)`` (a note says so). Export writes one Instance per camera (KAN's
unit: a camera and its skills), in the pipelines form, with ``configure_data``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

from designer.core.deployment.document import Camera, Deployment, Device, SkillRef

API_VERSION = "solution.symphony/v1"
KNOWN_PIPELINE_PARAMS = {
    "rtsp",
    "fps",
    "device_id",
    "instance_displayname",
    "device_displayname",
    "skill_displayname",
}
ALIAS_RE = re.compile(r"^(skill-[^.]+)\.(.+)$")
MAX_TEXT = 2 * 1024 * 1024


class KanInstanceError(ValueError):
    """A KAN Instance that cannot be read; the message names the file and the field."""


@dataclass
class KanImport:
    deployment: Deployment
    notes: list[str] = field(default_factory=list)


def _param_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_").lower() or "camera"
    return name if not name[0].isdigit() else f"c_{name}"


def _split_credentials(url: str, camera: str, notes: list[str]) -> tuple[str, str, str]:
    """(URL without credentials, user name, password placeholder or '')."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url, "", ""
    if not parts.username and not parts.password:
        return url, "", ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    clean = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    password = ""
    if parts.password:
        password = f"$param({_param_name(camera)}_password)"
        notes.append(
            f"camera {camera!r}: the password in its rtsp URL is not written to the deployment; "
            f"give it as --param {_param_name(camera)}_password=..."
        )
    return clean, parts.username or "", password


def _fps(value: Any, where: str, notes: list[str]) -> int | None:
    if value in (None, ""):
        return None
    try:
        fps = int(float(str(value)))
    except ValueError:
        notes.append(f"{where}: fps {value!r} is not a number; left to the skills")
        return None
    if not 1 <= fps <= 60:
        notes.append(f"{where}: fps {fps} is outside 1..60; clamped")
    return min(60, max(1, fps))


def _documents(text: str, where: str) -> list[dict]:
    if len(text) > MAX_TEXT:
        raise KanInstanceError(f"{where}: {len(text):,} characters; a KAN Instance is at most {MAX_TEXT:,}")
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise KanInstanceError(f"{where}:{line}: not YAML: {getattr(exc, 'problem', exc)}") from None
    instances = []
    for index, doc in enumerate(docs):
        if isinstance(doc, dict) and doc.get("kind") == "List" and isinstance(doc.get("items"), list):
            instances += [d for d in doc["items"] if isinstance(d, dict) and d.get("kind") == "Instance"]
        elif isinstance(doc, dict) and doc.get("kind") == "Instance":
            instances.append(doc)
        else:
            kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
            raise KanInstanceError(f"{where}: document {index + 1}: kind {kind!r}, expected a KAN Instance")
    if not instances:
        raise KanInstanceError(f"{where}: no KAN Instance in it")
    return instances


def _mapping(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise KanInstanceError(f"{where}: expected a mapping, got {type(value).__name__}")
    return value


def _row(camera: str, skill: str, alt: str, values: dict, extra: dict, where: str) -> dict[str, Any]:
    return {
        "camera": camera,
        "skill": skill,
        "alt": alt,
        "rtsp": values.get("rtsp"),
        "fps": values.get("fps"),
        "params": extra,
        "where": where,
    }


def _pipeline_rows(spec: dict, where: str) -> list[dict[str, Any]]:
    """Rows of the ``spec.pipelines[]`` form, KAN's current shape (one pipeline per camera x skill)."""
    pipelines = spec.get("pipelines") or []
    if not isinstance(pipelines, list):
        raise KanInstanceError(f"{where}.spec.pipelines: expected a list")
    rows: list[dict[str, Any]] = []
    for index, pipeline in enumerate(pipelines):
        at = f"{where}.spec.pipelines[{index}]"
        pipeline = _mapping(pipeline, at)
        values = _mapping(pipeline.get("parameters"), f"{at}.parameters")
        camera = values.get("device_displayname") or values.get("device_id")
        skill = pipeline.get("skill") or values.get("skill_displayname")
        if not camera or not skill:
            raise KanInstanceError(f"{at}: needs parameters.device_id (the camera) and skill")
        extra = {str(k): str(v) for k, v in values.items() if k not in KNOWN_PIPELINE_PARAMS}
        alt = str(values.get("skill_displayname") or "")
        rows.append(_row(str(camera), str(skill), alt, values, extra, at))
    return rows


def _alias_rows(params: dict, where: str) -> list[dict[str, Any]]:
    """Rows of the portal's older ``skill-<alias>.<key>`` parameters, grouped per alias so that
    each alias (one camera x skill) becomes one row."""
    aliases: dict[str, dict[str, Any]] = {}
    for key, value in params.items():
        match = ALIAS_RE.match(str(key))
        if match:
            aliases.setdefault(match[1], {})[match[2]] = value
    rows: list[dict[str, Any]] = []
    for alias, values in sorted(aliases.items()):
        at = f"{where}.spec.parameters.{alias}"
        camera = values.get("device_displayname") or values.get("device_id")
        skill = values.get("skill_displayname")
        if not camera or not skill:
            raise KanInstanceError(f"{at}: needs .device_displayname (or .device_id) and .skill_displayname")
        extra = {str(k): str(v) for k, v in values.items() if k not in KNOWN_PIPELINE_PARAMS}
        rows.append(_row(str(camera), str(skill), "", values, extra, at))
    return rows


def _configure_data_rows(params: dict, where: str) -> list[dict[str, Any]]:
    """Rows from ``configure_data`` (``{camera: [skills]}``), the fallback when neither form says
    more: camera and skill names only, no address or fps."""
    at = f"{where}.spec.parameters.configure_data"
    try:
        data = json.loads(str(params["configure_data"]))
    except json.JSONDecodeError as exc:
        raise KanInstanceError(f"{at}: not JSON: {exc.msg}") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise KanInstanceError(f"{at}: expected {{camera: [skills]}}")
    return [
        _row(str(camera), str(skill), "", {}, {}, at) for camera, skills in data.items() for skill in skills
    ]


def _rows(instance: dict, where: str) -> list[dict[str, Any]]:
    """One row per camera x skill: camera, skill, rtsp, fps, extra parameters."""
    spec = _mapping(instance.get("spec"), f"{where}.spec")
    params = _mapping(spec.get("parameters"), f"{where}.spec.parameters")
    rows = _pipeline_rows(spec, where) + _alias_rows(params, where)
    if not rows and "configure_data" in params:
        rows = _configure_data_rows(params, where)
    return rows


def _target_device(spec: dict, device: str, at: str, notes: list[str]) -> str:
    """The device of the deployment: the first Instance's target wins, since a deployment has one
    device; a differing target is noted (its cameras still join)."""
    target = spec.get("target")
    target_name = target.get("name") if isinstance(target, dict) else None
    if target_name and not device:
        return str(target_name)
    if target_name and str(target_name) != device:
        notes.append(f"{at}: target {target_name!r} differs from {device!r}; its cameras join this device")
    return device


def _skill_path(row: dict[str, Any], files: Mapping[str, str], notes: list[str]) -> str:
    """The skill file for a row's KAN skill: mapped by CR name or display name, else the
    conventional ``<skill>.skill.json`` (noted, since the user must convert it)."""
    skill = row["skill"]
    path = files.get(skill) or (files.get(row["alt"]) if row["alt"] else None)
    if path is None:
        path = f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', skill).strip('-.') or 'skill'}.skill.json"
        notes.append(f"skill {skill!r}: expected as {path} (convert it with skill-designer import-kan)")
    return path


def _add_row(
    cameras: dict[str, dict[str, Any]], row: dict[str, Any], files: Mapping[str, str], notes: list[str]
) -> None:
    """Merge a row into its camera: the first rtsp and fps seen win, each skill is listed once."""
    camera = cameras.setdefault(row["camera"], {"rtsp": None, "fps": None, "skills": {}})
    if row["rtsp"] and not camera["rtsp"]:
        camera["rtsp"] = str(row["rtsp"])
    fps = _fps(row["fps"], row["where"], notes)
    if fps and not camera["fps"]:
        camera["fps"] = fps
    camera["skills"][_skill_path(row, files, notes)] = row["params"]


def _build_camera(camera_name: str, camera: dict[str, Any], notes: list[str]) -> Camera:
    """A deployment camera; credentials leave the URL, and a missing address becomes a ``$param``
    so the deployment stays valid and the user is told what to give."""
    rtsp = camera["rtsp"]
    if rtsp:
        source, user, password = _split_credentials(rtsp, camera_name, notes)
    else:
        source, user, password = f"$param({_param_name(camera_name)}_rtsp)", "", ""
        notes.append(
            f"camera {camera_name!r}: no rtsp address in the Instance; give --param "
            f"{_param_name(camera_name)}_rtsp=URL"
        )
    return Camera(
        name=camera_name,
        source=source,
        username=user,
        password=password,
        fps=camera["fps"],
        skills=[SkillRef(skill=path, params=params) for path, params in camera["skills"].items()],
    )


def import_kan_instances(
    text: str, where: str = "<instance>", skill_files: Mapping[str, str] | None = None, name: str = ""
) -> KanImport:
    """A deployment from one or more KAN Instance documents (a ``kubectl get -o yaml`` List too).

    ``skill_files`` maps a KAN skill (CR name or display name) to its skill file or package;
    unmapped skills are expected as ``<skill>.skill.json`` next to the deployment (a note lists
    them: ``skill-designer import-kan`` converts KAN skills)."""
    files = dict(skill_files or {})
    notes: list[str] = []
    cameras: dict[str, dict[str, Any]] = {}
    device = ""
    display = name
    for index, instance in enumerate(_documents(text, where)):
        at = f"{where}: Instance {(instance.get('metadata') or {}).get('name') or index + 1}"
        spec = _mapping(instance.get("spec"), f"{at}.spec")
        device = _target_device(spec, device, at, notes)
        display = display or str(spec.get("displayName") or "")
        for row in _rows(instance, at):
            _add_row(cameras, row, files, notes)
    built = [_build_camera(camera_name, camera, notes) for camera_name, camera in cameras.items()]
    deployment = Deployment(
        name=display or "KAN deployment", device=Device(name=device or "device"), cameras=built
    )
    return KanImport(deployment.canonical(), sorted(set(notes), key=notes.index))


def _dns(text: str, fallback: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-") or fallback


def export_kan_instances(deployment: Deployment, skill_names: Mapping[str, str] | None = None) -> str:
    """One KAN Instance per camera (pipelines form, with configure_data), as YAML documents.

    ``skill_names`` maps a skill file to its KAN skill name (default: the file's stem)."""
    names = dict(skill_names or {})
    docs = []
    base = _dns(deployment.name, "deployment")
    taken: set[str] = set()
    for camera in deployment.cameras:
        resource = f"instance-{base}-{_dns(camera.name, 'camera')}"[:240].rstrip("-")
        if resource in taken:  # names that differ only in letters a DNS name cannot hold
            resource += "-" + hashlib.sha256(camera.name.encode()).hexdigest()[:8]
        taken.add(resource)
        skills = [
            names.get(r.skill) or re.sub(r"\.skill\.json$|\.zip$", "", r.skill.rsplit("/", 1)[-1])
            for r in camera.skills
        ]
        pipelines = []
        for index, (ref, skill) in enumerate(zip(camera.skills, skills, strict=True)):
            parameters: dict[str, str] = {
                "rtsp": camera.source,
                "device_id": camera.name,
                "device_displayname": camera.name,
                "skill_displayname": skill,
                "instance_displayname": deployment.name,
                **ref.params,
            }
            if camera.fps is not None:
                parameters["fps"] = str(camera.fps)
            pipelines.append({"name": f"pipeline{index}", "skill": skill, "parameters": parameters})
        docs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "Instance",
                "metadata": {"name": resource, "labels": {}},
                "spec": {
                    "scope": "poss",
                    "displayName": f"{deployment.name} - {camera.name}",
                    "solution": f"{_dns(deployment.device.name, 'device')}-solution",
                    "target": {"name": _dns(deployment.device.name, "device")},
                    "pipelines": pipelines,
                    "parameters": {"configure_data": json.dumps({camera.name: skills}, allow_nan=False)},
                },
            }
        )
    return yaml.safe_dump_all(docs, sort_keys=True, allow_unicode=True)
