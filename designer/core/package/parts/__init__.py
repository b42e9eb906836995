"""The parts of a package. Each is ``(compiled, context) -> PartOutput``: the files it adds (name
-> bytes, or a file to copy), warnings for the user, and notes on what its target cannot express.

``compiled`` is the packaged skill (secret-free, models named by their packaged files), compiled;
``context`` holds what the export decided once (names, parameters, secrets, models) and the files
the parts before wrote. The parts run in order; the manifest, which lists every other file, is
last. A new deployment target is one module here and one line in ``PARTS``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from designer.core.package.context import ExportContext
from designer.core.skill.compiled import CompiledSkill


@dataclass
class PartOutput:
    files: dict[str, bytes | Path]
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """What the part's target cannot express (the report lists them apart from warnings)."""


Part = Callable[[CompiledSkill, ExportContext], PartOutput]

from designer.core.package.parts import (  # noqa: E402  (the parts import PartOutput from here)
    contract,
    iotedge,
    iotedge_layered,
    kan,
    kubernetes,
    manifest,
    models,
    readme,
    runtime_image,
    skill,
)

PARTS: tuple[Part, ...] = (
    skill.part,
    models.part,
    contract.part,
    iotedge.part,
    iotedge_layered.part,
    kubernetes.part,
    kan.part,
    runtime_image.part,
    readme.part,
    manifest.part,  # last: it lists every file before it
)
