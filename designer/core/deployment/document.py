"""The deployment file (``*.deploy.json``): a device, its cameras, and the skills each camera runs.

KAN calls this an ``Instance`` (``configure_data: {"People Camera": ["Orin People Skill"]}``);
here each camera entry lists its skills (skill files or packages, relative to the deployment
file) with the ``$param`` values that skill needs on that camera. Camera fields may hold
``$param(name)`` placeholders too (credentials, addresses), filled with ``--param`` at run time.

Plain sorted JSON like skill files: cameras sorted by name, the same deployment always gives
the same bytes. Unknown fields are refused with their location (a misspelt ``fsp`` must not
pass silently); ``format_version`` says which shape a file has.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from designer.core.skill.fields import ACCELERATIONS, PARAM_NAME_RE
from designer.core.skill.files import MAX_DEPTH, write_atomic

FORMAT: Final = "skill-designer/deployment"
FORMAT_VERSION = 1
DEPLOYMENT_SUFFIX = ".deploy.json"
MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_CAMERAS = 256
MAX_SKILLS_PER_CAMERA = 32


class DeploymentFileError(Exception):
    """A deployment file that cannot be read or used; the message names the file and the field."""

    def __init__(self, path: str | os.PathLike | None, message: str) -> None:
        self.path = str(path) if path is not None else "<deployment>"
        self.message = message
        super().__init__(f"{self.path}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _name(value: str, what: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError(f"the {what} needs a name")
    if len(value) > 128 or any(ord(c) < 32 for c in value):
        raise ValueError(f"the {what} name must be 1..128 printable characters")
    return value


class Device(_Strict):
    """The device the deployment runs on."""

    name: str = "device"
    acceleration: str = ACCELERATIONS[0]

    @field_validator("name")
    @classmethod
    def _device_name(cls, value: str) -> str:
        return _name(value, "device")

    @field_validator("acceleration")
    @classmethod
    def _known_acceleration(cls, value: str) -> str:
        if value not in ACCELERATIONS:
            raise ValueError(f"{value!r} is not an acceleration; use one of {', '.join(ACCELERATIONS)}")
        return value


class SkillRef(_Strict):
    """One skill a camera runs: a skill file or a package, and its ``$param`` values there."""

    skill: str = Field(min_length=1)  # relative to the deployment file
    params: dict[str, str] = Field(default_factory=dict)

    @field_validator("params")
    @classmethod
    def _param_names(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [name for name in value if not PARAM_NAME_RE.match(name)]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a parameter name (letters, digits, _ . -)")
        return dict(sorted(value.items()))


class Camera(_Strict):
    """A camera of the device: what Camera Input nodes of its skills read instead of their own."""

    name: str
    source: str = Field(min_length=1)  # webcam index, rtsp/http URL or video file; $param allowed
    username: str = ""
    password: str = ""  # use $param(...): a deployment file is not a place for secrets
    fps: int | None = Field(None, ge=1, le=60)  # None: the highest fps of its skills
    loop: bool = True  # a video file restarts at its end
    skills: list[SkillRef] = Field(default_factory=list, max_length=MAX_SKILLS_PER_CAMERA)

    @field_validator("name")
    @classmethod
    def _camera_name(cls, value: str) -> str:
        return _name(value, "camera")

    @model_validator(mode="after")
    def _distinct_skills(self) -> Camera:
        seen: set[str] = set()
        for ref in self.skills:
            if ref.skill in seen:
                raise ValueError(f"skill {ref.skill!r} is listed twice on camera {self.name!r}")
            seen.add(ref.skill)
        return self


class Deployment(_Strict):
    format: Literal["skill-designer/deployment"] = FORMAT
    format_version: int = FORMAT_VERSION
    name: str
    device: Device = Field(default_factory=Device)
    cameras: list[Camera] = Field(default_factory=list, max_length=MAX_CAMERAS)

    @field_validator("name")
    @classmethod
    def _deployment_name(cls, value: str) -> str:
        return _name(value, "deployment")

    @model_validator(mode="after")
    def _distinct_cameras(self) -> Deployment:
        seen: set[str] = set()
        for camera in self.cameras:
            key = camera.name.casefold()
            if key in seen:
                raise ValueError(f"camera {camera.name!r} is named twice: camera names must differ")
            seen.add(key)
        return self

    def canonical(self) -> Deployment:
        """Cameras sorted by name and each camera's skills by file: one spelling per deployment."""
        cameras = [
            c.model_copy(update={"skills": sorted(c.skills, key=lambda r: r.skill)})
            for c in sorted(self.cameras, key=lambda c: c.name)
        ]
        return self.model_copy(update={"cameras": cameras})

    def pairs(self) -> list[tuple[Camera, SkillRef]]:
        return [(camera, ref) for camera in self.cameras for ref in camera.skills]


def is_deployment(path: str | os.PathLike) -> bool:
    return str(path).lower().endswith(DEPLOYMENT_SUFFIX)


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        parts.append(f"[{item}]" if isinstance(item, int) else f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


def _depth(value: object, depth: int = 1) -> int:
    if isinstance(value, dict | list):
        items = value.values() if isinstance(value, dict) else value
        return max((_depth(item, depth + 1) for item in items), default=depth)
    return depth


def parse_deployment(text: str | bytes, path: str | os.PathLike | None = None) -> Deployment:
    """Parse deployment JSON; DeploymentFileError naming the file and the field on anything wrong."""
    if len(text) > MAX_FILE_BYTES:
        raise DeploymentFileError(
            path, f"{len(text):,} bytes; a deployment file is at most {MAX_FILE_BYTES:,}"
        )
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DeploymentFileError(path, f"not UTF-8 text (byte {exc.start})") from None

    def refuse(name: str) -> float:
        raise ValueError(f"{name} is not a JSON number")

    try:
        data = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise DeploymentFileError(
            path, f"line {exc.lineno} column {exc.colno}: invalid JSON: {exc.msg}"
        ) from None
    except (ValueError, RecursionError) as exc:
        raise DeploymentFileError(path, f"invalid JSON: {exc}") from None
    if _depth(data) > MAX_DEPTH:
        raise DeploymentFileError(path, f"values nest more than {MAX_DEPTH} levels deep")
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        hint = ""
        if isinstance(data, dict) and data.get("format") == "skill-designer/skill":
            hint = " (this is a skill file: run it directly, or list it under a camera's skills)"
        elif isinstance(data, dict) and data.get("kind") == "Instance":
            hint = " (a KAN Instance resource: import it with `skill-designer new-deployment --from-kan`)"
        raise DeploymentFileError(path, f'not a deployment file: expected "format": "{FORMAT}"{hint}')
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise DeploymentFileError(
            path, f"format_version {version!r} is not supported: this version reads 1..{FORMAT_VERSION}"
        )
    try:
        return Deployment.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise DeploymentFileError(path, f"{_location(first['loc'])}: {message}{more}") from None


def load_deployment(path: str | os.PathLike) -> Deployment:
    path = Path(path)
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise DeploymentFileError(path, "is a folder, not a deployment file")
        if not stat.S_ISREG(info.st_mode):
            raise DeploymentFileError(path, "not a regular file (a pipe, device or socket)")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise DeploymentFileError(path, "file not found") from None
    except OSError as exc:
        raise DeploymentFileError(path, f"cannot read: {exc.strerror}") from None
    return parse_deployment(data, path)


def dump_deployment(deployment: Deployment) -> str:
    data = deployment.canonical().model_dump(mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False) + "\n"


def save_deployment(deployment: Deployment, path: str | os.PathLike) -> None:
    write_atomic(path, dump_deployment(deployment))
