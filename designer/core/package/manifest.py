"""``manifest.json``: what a skill package holds and what it needs from the device.

The manifest is the one file of a package that is not listed in itself; every other file
is listed with its SHA-256 and size, so ``verify`` can refuse any tampered or added file.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError

PACKAGE_FORMAT = "skill-designer/package"
PACKAGE_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SKILL_NAME = "skill.json"
SHA256_RE = r"^[0-9a-f]{64}$"
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")


class PackageError(Exception):
    """A package that cannot be written, read or trusted; the message names the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Strict):
    sha256: str = Field(pattern=SHA256_RE)
    size: int = Field(ge=0)


class SkillInfo(_Strict):
    id: str
    name: str
    version: str


class ParamInfo(_Strict):
    """A ``$param(name)`` the skill expects: filled by ``--param``, else its environment
    variable, else the default (None: the device must give it)."""

    default: str | None = None
    env: str
    used_by: list[str]


class EnvInfo(_Strict):
    """An environment variable the device must set: a secret moved out of the skill."""

    node: str
    param: str
    used_by: str = "runtime"
    """``runtime`` (the skill runtime reads it) or ``container:<name>`` (a gRPC container's env)."""
    description: str = ""


class ModelInfoEntry(_Strict):
    id: str
    nodes: list[str]
    task: str
    opset: int
    files: list[str]


class Manifest(_Strict):
    format: str = PACKAGE_FORMAT
    format_version: int = PACKAGE_FORMAT_VERSION
    skill: SkillInfo
    designer_version: str
    created_at: str
    acceleration: str
    execution_providers: list[str]
    params: dict[str, ParamInfo] = Field(default_factory=dict)
    env: dict[str, EnvInfo] = Field(default_factory=dict)
    models: list[ModelInfoEntry] = Field(default_factory=list)
    files: dict[str, FileEntry]

    def dump(self) -> bytes:
        return (
            json.dumps(self.model_dump(), indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
            + "\n"
        ).encode()


def parse_manifest(data: bytes, where: str) -> Manifest:
    """Read a manifest, refusing other formats and versions with a message that says which."""
    try:
        raw = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PackageError(f"{where}: {MANIFEST_NAME} is not valid JSON ({exc})") from None
    if not isinstance(raw, dict) or raw.get("format") != PACKAGE_FORMAT:
        raise PackageError(
            f'{where}: {MANIFEST_NAME} is not a skill package manifest (no "format": "{PACKAGE_FORMAT}")'
        )
    version = raw.get("format_version")
    if version != PACKAGE_FORMAT_VERSION:
        raise PackageError(
            f"{where}: package format version {version!r} is not supported: this Skill Designer reads "
            f"version {PACKAGE_FORMAT_VERSION}. Update Skill Designer, or export the package again."
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(p) for p in first["loc"])
        raise PackageError(f"{where}: {MANIFEST_NAME}: {loc}: {first['msg']}") from None
