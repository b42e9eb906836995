"""``manifest.json``: what a skill package holds and what it needs from the device.

The manifest is the one file of a package that is not listed in itself; every other file
is listed with its SHA-256 and size, so ``verify`` can refuse any tampered or added file.
"""

from __future__ import annotations

import json
import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

PACKAGE_FORMAT = "skill-designer/package"
PACKAGE_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SKILL_NAME = "skill.json"
SHA256_RE = r"^[0-9a-f]{64}$"
ENV_NAME_RE = re.compile(r"^[A-Z_][A-Z0-9_]*$")
SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$"
"""A skill or model id: what ``slug`` makes, and all a folder or file name may be built from."""
MODEL_ID_PATTERN = r"^[a-z0-9](?:[a-z0-9-]{0,126}[a-z0-9])?$"
PARAM_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$"
ENV_PATTERN = r"^[A-Z_][A-Z0-9_]{0,127}$"


class PackageError(Exception):
    """A package that cannot be written, read or trusted; the message names the file."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileEntry(_Strict):
    sha256: str = Field(pattern=SHA256_RE)
    size: int = Field(ge=0)


class SkillInfo(_Strict):
    id: str = Field(pattern=SLUG_PATTERN)
    name: str
    version: str


class ParamInfo(_Strict):
    """A ``$param(name)`` the skill expects: filled by ``--param``, else its environment
    variable, else the default (None: the device must give it)."""

    default: str | None = None
    env: str = Field(pattern=ENV_PATTERN)
    used_by: list[str]


class EnvInfo(_Strict):
    """An environment variable the device must set: a secret moved out of the skill."""

    node: str
    param: str
    used_by: str = "runtime"
    """``runtime`` (the skill runtime reads it) or ``container:<name>`` (a gRPC container's env)."""
    description: str = ""


class ModelInfoEntry(_Strict):
    id: str = Field(pattern=MODEL_ID_PATTERN)
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

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        """Names the importer and runner build paths from, and a models list that matches the files."""
        for name in self.params:
            if not re.match(PARAM_PATTERN, name):
                raise ValueError(f"parameter name {name!r} is not a parameter name")
        for name in self.env:
            if not re.match(ENV_PATTERN, name):
                raise ValueError(f"environment variable {name!r} is not a variable name")
        ids = [model.id for model in self.models]
        for model_id in sorted({i for i in ids if ids.count(i) > 1}):
            raise ValueError(f"model {model_id!r} is listed twice")
        for model in self.models:
            folder = f"models/{model.id}/"
            for name in model.files:
                if not name.startswith(folder) or name not in self.files:
                    raise ValueError(f"model {model.id!r} names {name!r}, which is not a file of its folder")
            onnx = [name for name in model.files if name.endswith(".onnx")]
            if len(onnx) != 1 or f"{folder}model.json" not in model.files:
                raise ValueError(f"model {model.id!r} must list one .onnx file and its model.json")
        return self

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
    except RecursionError:
        raise PackageError(f"{where}: {MANIFEST_NAME} is nested too deeply to be a manifest") from None
    except ValueError as exc:  # an integer of thousands of digits
        raise PackageError(f"{where}: {MANIFEST_NAME} cannot be read ({exc})") from None
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
        text = f"{loc}: {first['msg']}" if loc else first["msg"].removeprefix("Value error, ")
        raise PackageError(f"{where}: {MANIFEST_NAME}: {text}") from None
    except RecursionError:
        raise PackageError(f"{where}: {MANIFEST_NAME} is nested too deeply to be a manifest") from None
