"""What every package part reads: the export's names, parameters, secrets and models, decided once.

``export_package`` builds one ``ExportContext``; each part of ``parts.PARTS`` turns the compiled
packaged skill and this context into files (see ``parts/__init__.py``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from designer.core.package.manifest import EnvInfo, PackageError, ParamInfo
from designer.core.skill import Problem, Skill
from designer.core.skill.fields import PLACEHOLDER_RE

if TYPE_CHECKING:
    from designer.core.package.models import PackagedModel

SLUG_RE = re.compile(r"[^a-z0-9]+")


class ExportError(PackageError):
    """The skill cannot be exported; ``problems`` lists the validation errors, located."""

    def __init__(self, message: str, problems: list[Problem] | None = None) -> None:
        self.problems = problems or []
        super().__init__(message)


def slug(text: str, fallback: str = "skill") -> str:
    """A name usable as a module, Kubernetes object and folder name: ``[a-z0-9-]``, at most 50."""
    value = SLUG_RE.sub("-", text.lower()).strip("-")[:50].strip("-")
    return value or fallback


def sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


@dataclass
class ExportContext:
    """The decisions the parts share; the parts never change it (the manifest reads ``files``)."""

    source: Skill
    """The skill as the user gave it (node order kept: the KAN resource lists nodes in it)."""
    skill_id: str
    version: str
    package_file: str
    created_at: datetime
    runtime_image: str
    providers: list[str]
    skill_json: bytes
    """``skill.json``: the packaged skill, secret-free, models named by their packaged files."""
    params: dict[str, ParamInfo]
    env: dict[str, EnvInfo]
    models: dict[str, PackagedModel]
    containers_env: dict[str, tuple[str, str]]
    """node id -> (parameter holding a container's environment rows, container name)."""
    files: dict[str, bytes | Path] = field(default_factory=dict)
    """What the parts before have written (the manifest lists them)."""
    secret_params: frozenset[str] = frozenset()
    """The ``$param`` names that feed a secret (a password field, a URL's password...): they never
    have a default, and a deploy file gives them from its secret store, not a plain configuration."""

    def template(self, value: str) -> str:
        """A skill value with each ``$param(...)`` replaced by its default, else ``${ENV}``."""

        def fill(match: Any) -> str:
            info = self.params[match[1]]
            return info.default if info.default is not None else f"${{{info.env}}}"

        return PLACEHOLDER_RE.sub(fill, value)

    def runtime_secrets(self) -> list[str]:
        """The environment variables the skill runtime reads (not a container's own), sorted."""
        return [name for name, info in sorted(self.env.items()) if info.used_by == "runtime"]
