"""What a fleet deployment adds for a skill's nodes, read from the node specs' deploy hooks.

A node spec's ``deploy`` hook (``NodeSpec.deploy``, see ``catalog.process.deploy_container``)
takes the compiled node and returns plain values as the user wrote them: ``{"container": {...}}``
for a container the skill runtime reaches by name on the device (an IoT Edge module, a
Kubernetes Deployment + Service), ``{"route": {...}}`` for an edgeHub route from a runtime
module output. This module turns them into the typed ``Container`` and ``Route`` the deployment
parts (``parts/iotedge.py``, ``parts/kubernetes.py``) and the secret mover read; no code here
knows a node type.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from designer.core.package.context import ExportError
from designer.core.skill.compiled import CompiledNode, CompiledSkill
from designer.core.skill.fields import Mark

PACKAGE_HOST_DIR = "/var/lib/skill-designer/packages"
OUTPUT_HOST_DIR = "/var/lib/skill-designer/output"
PACKAGE_IN_CONTAINER = "/package.zip"
SOURCE_ENV = "SKILL_SOURCE"  # the device's camera where the skill reads a packaged file
OUTPUT_IN_CONTAINER = "/data"
VIDEO_GROUP = "video"  # /dev/video*: gid 44 on Debian and Ubuntu, hosts and the runtime image alike
RENDER_GROUP = "render"  # /dev/dri/renderD*: the image creates it (see packaging/runtime/Dockerfile)
NVIDIA = ("Nvidia dGPU", "Nvidia Jetson (Jetpack 5)")
TWIN_KEY_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_-]")
CREATE_OPTIONS_CHUNK = 512  # IoT Edge splits longer createOptions into createOptions01...
MAX_CREATE_OPTIONS_PARTS = 8  # createOptions, createOptions01 ... createOptions07


@dataclass(frozen=True)
class Container:
    """A container next to the skill runtime, as its node states it (``$param`` kept)."""

    node: str
    name: str
    image: str
    port: int
    restart_policy: str
    create_options: str
    env: tuple[tuple[str, str], ...]
    acceleration: str
    architecture: str
    env_param: str
    """The node parameter holding the environment rows (its secrets are the container's)."""
    endpoint_param: str
    """The node parameter the runtime dials: the package points it at the container."""


@dataclass(frozen=True)
class Route:
    """An edgeHub route from one of the runtime module's outputs."""

    node: str
    name: str
    output: str
    into: str


def _extras(compiled: CompiledSkill) -> list[tuple[str, dict[str, Any]]]:
    """(node id, what its deploy hook says) for each node with a hook, by id."""
    found = []
    for node in sorted(compiled.nodes.values(), key=lambda n: n.id):
        if node.spec.deploy is None:
            continue
        if node.params is None:
            raise ExportError(f"node {node.id}: its parameters do not parse, so it cannot be deployed")
        found.append((node.id, node.spec.deploy(node) or {}))
    return found


def containers(compiled: CompiledSkill) -> list[Container]:
    """Every container the skill's nodes deploy, by node id."""
    found = []
    for node_id, extra in _extras(compiled):
        if "container" in extra:
            c = dict(extra["container"])
            c["env"] = tuple((str(name), str(value or "")) for name, value in c.get("env", ()) if name)
            found.append(Container(node=node_id, **c))
    return found


def twin_key(name: str) -> str:
    """``name`` as an IoT Edge twin key (a route or module name): every character other than a
    letter, digit, ``-`` or ``_`` (node ids may hold ``.``, which the twin refuses) becomes ``_``."""
    return TWIN_KEY_UNSAFE_RE.sub("_", name)


def routes(compiled: CompiledSkill) -> list[Route]:
    """Every edgeHub route the skill's nodes need, by node id, named as the twin accepts (a name
    two nodes would share once cleaned gets ``_2``, ``_3``... in node id order)."""
    found: list[Route] = []
    taken: set[str] = set()
    for node_id, extra in _extras(compiled):
        if "route" not in extra:
            continue
        route = dict(extra["route"])
        name = base = twin_key(str(route.pop("name")))
        n = 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        found.append(Route(node=node_id, name=name, **route))
    return found


def source_values(compiled: CompiledSkill) -> list[tuple[CompiledNode, str, str]]:
    """(source node, parameter, value) of each file or device the source node reads."""
    camera = compiled.camera
    if camera is None:
        return []
    return [(camera, name, str(value)) for name, value in camera.marked(Mark.READS)]


def webcam(compiled: CompiledSkill, template: Any) -> int | None:
    """The local video device the source reads (``$param`` filled with its default), or None."""
    for _, _, value in source_values(compiled):
        value = template(value).strip()
        if value.isdigit():
            return int(value)
    return None


def camera_file(compiled: CompiledSkill) -> str | None:
    """The video file the skill's camera reads (packaged with it, as the samples' clip), or None
    for a device camera (a webcam index, a URL, a ``$param``): a device needs its own camera, so
    the deploy files take it from ``SOURCE_ENV`` (``skill-designer run`` reads it as ``--source``)."""
    for _, _, value in source_values(compiled):
        text = value.strip()
        if text and not text.isdigit() and "://" not in text and "$param(" not in text:
            return text
    return None


def gpu_limits(acceleration: str) -> dict[str, Any]:
    if acceleration in NVIDIA:
        return {"nvidia.com/gpu": 1}
    if acceleration == "Intel iGPU":
        return {"gpu.intel.com/i915": 1}
    return {}


def dump_yaml_documents(documents: list[dict]) -> str:
    return "---\n".join(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False) for doc in documents)


def split_create_options(options: dict, where: str = "") -> dict[str, str]:
    text = json.dumps(options, sort_keys=True, separators=(",", ":"), allow_nan=False)
    if len(text) > CREATE_OPTIONS_CHUNK * MAX_CREATE_OPTIONS_PARTS:
        raise ExportError(
            f"{where}create options are {len(text):,} characters once written; IoT Edge takes at most "
            f"{CREATE_OPTIONS_CHUNK * MAX_CREATE_OPTIONS_PARTS:,}"
        )
    chunks = [text[i : i + CREATE_OPTIONS_CHUNK] for i in range(0, len(text), CREATE_OPTIONS_CHUNK)] or ["{}"]
    return {("createOptions" if i == 0 else f"createOptions{i:02d}"): c for i, c in enumerate(chunks)}


def kan_model_env(node_id: str) -> str:
    """The ``${...}`` name standing, in the KAN resource, for the KAN Model resource a model node runs."""
    return "KAN_MODEL_" + re.sub(r"[^A-Za-z0-9]", "_", node_id).upper()
