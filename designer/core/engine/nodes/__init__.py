"""Node runtimes, one module per node type, named by the catalog's ``NodeSpec.runtime``.

Imported lazily: a skill without a model node never loads onnxruntime, and
the headless runner starts fast.
"""

from __future__ import annotations

import importlib
from typing import Any

from designer.core.engine.runtime import NodeRuntime
from designer.core.skill.catalog import NodeSpec


def runtime_for(spec: NodeSpec) -> type[NodeRuntime[Any]] | None:
    """The runtime class of a node type; None when it has none (the camera: the engine's source).

    Its parameter type is ``spec.params``, which the catalog pairs with ``spec.runtime``; a
    lookup by name cannot say so statically, hence ``Any``."""
    if not spec.runtime:
        return None
    module, name = spec.runtime.split(":")
    return getattr(importlib.import_module(module), name)
