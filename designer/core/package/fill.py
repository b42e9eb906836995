"""Filling a package's deployment files for one device or cluster: ``skill-designer fill``.

The files under ``deploy/`` keep what only the device knows as ``${NAME}`` references: parameters
without a default (``SKILL_PARAM_...``) and, in the IoT Edge files, the secrets the runtime and the
containers read. ``envsubst`` would also eat ``$edgeAgent``, ``$edgeHub`` and ``$upstream``; this
replaces the package's own names only, re-splits IoT Edge create options after filling (a value
may be longer than the 512-character part it sat in), refuses a missing value by name, and checks
that what it wrote holds no reference left and that every image is a valid reference.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from designer.core.package.archive import PackageReader
from designer.core.package.manifest import PackageError

REF_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# A Docker image reference: [registry[:port]/]path[:tag][@sha256:digest], lower-case path.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_HOST = r"[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::\d+)?/"
IMAGE_RE = re.compile(
    rf"^(?:{_HOST})?{_COMPONENT}(?:/{_COMPONENT})*(?::\w[\w.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$"
)
IOTEDGE_PREFIX, K8S_PREFIX = "deploy/iotedge/", "deploy/k8s/"
TARGETS = ("iot-edge", "k8s", "kan")
KAN_FILE = "deploy/kan/skill.yaml"
KAN_MODEL_RE = re.compile(r"\$\{(KAN_MODEL_[A-Z0-9_]+)\}")
# A Kubernetes object name (a KAN Model resource's metadata.name).
K8S_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SOURCE_ENV = "SKILL_SOURCE"  # as designer.core.package.deploy.SOURCE_ENV (read by `skill-designer run`)


@dataclass
class Filled:
    files: dict[str, bytes]
    """Path under the output folder (``iotedge/deployment.json``, ``k8s/runtime.yaml``...) -> bytes."""
    values: dict[str, str] = field(default_factory=dict)
    """Environment name -> the value filled in (secrets included: the files are written 0600)."""


def _values(
    reader: PackageReader, params: Mapping[str, str], environ: Mapping[str, str], secrets: bool
) -> dict[str, str]:
    manifest = reader.manifest
    unknown = sorted(set(params) - set(manifest.params))
    if unknown:
        known = ", ".join(sorted(manifest.params)) or "none"
        raise PackageError(
            f"{reader.where}: no parameter {', '.join(unknown)} in this package (it has: {known})"
        )
    values: dict[str, str] = {}
    missing: list[str] = []
    for name, info in sorted(manifest.params.items()):
        value = params.get(name, environ.get(info.env, info.default))
        if value is None:
            missing.append(f"--param {name}=VALUE (or {info.env})")
        else:
            values[info.env] = value
    for secret, env in sorted(manifest.env.items()) if secrets else ():
        if secret in environ:
            values[secret] = environ[secret]
        else:
            missing.append(f"{secret} (secret of node {env.node}, {env.param})")
    if missing:
        raise PackageError(f"{reader.where}: the deployment files need {'; '.join(missing)}")
    return values


def _substitute(text: str, values: Mapping[str, str], escape: Callable[[str], str] = str) -> str:
    return REF_RE.sub(lambda m: escape(values[m[1]]) if m[1] in values else m[0], text)


def fill_refs(node: Any, values: Mapping[str, str]) -> Any:
    """Every ``${NAME}`` in the strings (keys too) of a JSON-like tree, filled where ``values`` has it."""
    if isinstance(node, dict):
        return {fill_refs(k, values): fill_refs(v, values) for k, v in node.items()}
    if isinstance(node, list):
        return [fill_refs(v, values) for v in node]
    if isinstance(node, str):
        return _substitute(node, values)
    return node


def _fill_module(module: dict, values: Mapping[str, str], where: str) -> dict:
    from designer.core.package.deploy import split_create_options

    settings = module.get("settings", {})
    keys = sorted(k for k in settings if k.startswith("createOptions"))
    joined = "".join(settings.pop(k) for k in keys)
    filled = fill_refs(module, values)
    if keys:
        text = _substitute(joined, values, lambda v: json.dumps(v, allow_nan=False)[1:-1])
        filled["settings"].update(split_create_options(json.loads(text), where))
    return filled


def fill_iotedge(manifest: dict, values: Mapping[str, str], where: str) -> dict:
    """An IoT Edge manifest (whole or layered) filled, its createOptions split again as IoT Edge wants."""
    content = manifest.get("modulesContent", {})
    agent = content.get("$edgeAgent", {})
    if "properties.desired" in agent:  # a whole deployment
        desired = agent["properties.desired"]
        modules = desired.get("modules", {})
        desired["modules"] = {
            n: _fill_module(m, values, f"{where}: module {n}: ") for n, m in modules.items()
        }
    else:  # a layered one: properties.desired.modules.<name>
        for key, module in list(agent.items()):
            agent[key] = _fill_module(module, values, f"{where}: {key}: ")
    content["$edgeHub"] = fill_refs(content.get("$edgeHub", {}), values)
    return manifest


def _images(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["image"]] if isinstance(node.get("image"), str) else []
        return found + [i for k, v in node.items() if k != "image" for i in _images(v)]
    if isinstance(node, list):
        return [i for v in node for i in _images(v)]
    return []


def check_filled(doc: Any, where: str, values: Mapping[str, str]) -> None:
    """PackageError unless every reference of ours is filled and every image reference is valid."""
    text = json.dumps(doc, allow_nan=False)
    left = sorted({m[1] for m in REF_RE.finditer(text) if m[1] in values or m[1].startswith("SKILL_")})
    if SOURCE_ENV in left:
        raise PackageError(
            f"{where}: the skill's camera is a video file for the design machine; give the device's "
            f"camera with --source (an RTSP URL or a webcam index) or {SOURCE_ENV}"
        )
    if left:
        raise PackageError(f"{where}: {', '.join(left)} left unfilled")
    for image in _images(doc):
        if not IMAGE_RE.match(image):
            raise PackageError(f"{where}: image {image!r} is not a valid image reference once filled")


def fill_deploy_files(
    package: str | os.PathLike,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    targets: tuple[str, ...] = TARGETS,
    source: str | None = None,
    kan_models: Mapping[str, str] | None = None,
    published: tuple[str, str] | None = None,
) -> Filled:
    """The package's IoT Edge and Kubernetes files with every ``${NAME}`` of the package filled.

    ``params`` by parameter name; a parameter not given comes from its environment variable, else
    its default; secrets come from ``environ`` (the IoT Edge files carry them: IoT Edge has no
    secret store; the Kubernetes files read them from a Secret). The files are hash-checked.
    ``targets``: ``iot-edge`` and/or ``k8s``; ``source``: the device's camera, where the skill's
    camera reads a packaged file (``SKILL_SOURCE``; else that environment variable);
    ``kan_models``: model node id -> the KAN Model resource it runs (the KAN file needs one each);
    ``published``: (blob URL, SHA-256) of the package in Blob storage (``publish``): the runtime
    fetches it instead of mounting a file from the device (its SAS, when ``SKILL_PACKAGE_SAS`` is
    in ``environ``, goes into the IoT Edge files; Kubernetes reads it from the Secret).
    """
    from designer.core.package.deploy import dump_yaml_documents

    environ = os.environ if environ is None else environ
    with PackageReader(package) as reader:
        values = _values(reader, dict(params or {}), environ, "iot-edge" in targets)
        source = source if source is not None else environ.get(SOURCE_ENV)
        if source is not None:
            values[SOURCE_ENV] = source
        out: dict[str, bytes] = {}
        for name in sorted(reader.manifest.files):
            where = f"{reader.where}: {name}"
            if name.startswith(IOTEDGE_PREFIX) and name.endswith(".json") and "iot-edge" in targets:
                doc = fill_iotedge(json.loads(reader.read(name)), values, where)
                if published:
                    _fetch_in_iotedge(doc, reader.manifest.skill.id, published, environ)
                check_filled(doc, where, values)
                text = json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n"
                out[name.removeprefix("deploy/")] = text.encode()
            elif name.startswith(K8S_PREFIX) and name.endswith(".yaml") and "k8s" in targets:
                docs = [fill_refs(d, values) for d in yaml.safe_load_all(reader.read(name)) if d is not None]
                if published:
                    _fetch_in_kubernetes(docs, reader.manifest.skill.id, published)
                for doc in docs:
                    check_filled(doc, where, values)
                out[name.removeprefix("deploy/")] = dump_yaml_documents(docs).encode()
            elif name == KAN_FILE and "kan" in targets:
                text = reader.read(name).decode("utf-8")
                out[name.removeprefix("deploy/")] = _fill_kan(text, dict(kan_models or {}), where).encode()
    return Filled(out, values)


def _fetch_env(published: tuple[str, str]) -> dict[str, str]:
    from designer.core.package.blobstore import SHA_ENV, URL_ENV

    return {URL_ENV: published[0], SHA_ENV: published[1]}


def _fetch_in_iotedge(
    doc: dict, skill_id: str, published: tuple[str, str], environ: Mapping[str, str]
) -> None:
    """The runtime module fetches the published package: no bind of a file on the device."""
    from designer.core.package.blobstore import SAS_ENV
    from designer.core.package.deploy import split_create_options

    agent = doc["modulesContent"]["$edgeAgent"]
    modules = (
        agent["properties.desired"]["modules"]
        if "properties.desired" in agent
        else {key.removeprefix("properties.desired.modules."): value for key, value in agent.items()}
    )
    module = modules[skill_id]
    settings = module["settings"]
    keys = sorted(k for k in settings if k.startswith("createOptions"))
    options = json.loads("".join(settings.pop(k) for k in keys) or "{}")
    host = options.setdefault("HostConfig", {})
    host["Binds"] = [b for b in host.get("Binds", []) if not b.split(":")[1:2] == ["/package.zip"]]
    settings.update(split_create_options(options))
    env = {name: {"value": value} for name, value in _fetch_env(published).items()}
    if environ.get(SAS_ENV):
        env[SAS_ENV] = {"value": environ[SAS_ENV]}
    module.setdefault("env", {}).update(env)


def _fetch_in_kubernetes(docs: list, skill_id: str, published: tuple[str, str]) -> None:
    from designer.core.package.blobstore import SAS_ENV

    for doc in docs:
        if doc.get("kind") != "Deployment" or doc["metadata"]["name"] != skill_id:
            continue
        pod = doc["spec"]["template"]["spec"]
        pod["volumes"] = [v for v in pod.get("volumes", []) if v["name"] != "package"]
        for box in pod["containers"]:
            box["volumeMounts"] = [m for m in box.get("volumeMounts", []) if m["name"] != "package"]
            box["env"] = [e for e in box.get("env", []) if e["name"] not in _fetch_env(published)]
            box["env"] += [{"name": n, "value": v} for n, v in _fetch_env(published).items()]
            secret = {"name": f"{skill_id}-secrets", "key": SAS_ENV, "optional": True}
            box["env"].append({"name": SAS_ENV, "valueFrom": {"secretKeyRef": secret}})


def _fill_kan(text: str, models: dict[str, str], where: str) -> str:
    from designer.core.package.deploy import kan_model_env

    resource = yaml.safe_load(text)
    nodes = {n["id"]: n for n in resource["spec"]["nodes"]}
    wanted = {
        kan_model_env(node_id): node_id for node_id, n in nodes.items() if KAN_MODEL_RE.fullmatch(n["name"])
    }
    unknown = sorted(set(models) - set(wanted.values()))
    if unknown:
        known = ", ".join(sorted(wanted.values())) or "none"
        raise PackageError(f"{where}: --kan-model {unknown[0]}: not a model node (model nodes: {known})")
    missing = sorted(node_id for node_id in wanted.values() if node_id not in models)
    if missing:
        args = " ".join(f"--kan-model {node_id}=MODEL" for node_id in missing)
        raise PackageError(f"{where}: KAN runs each model node from a KAN Model resource; name them: {args}")
    for node_id, model in models.items():
        if not K8S_NAME_RE.match(model) or len(model) > 253:
            raise PackageError(f"{where}: --kan-model {node_id}={model!r}: not a Kubernetes resource name")
    return KAN_MODEL_RE.sub(lambda m: models[wanted[m[1]]], text)


def write_filled(filled: Filled, folder: str | os.PathLike, force: bool = False) -> list[Path]:
    """Write the files under ``folder`` (0600: the IoT Edge files may hold secrets)."""
    folder = Path(folder)
    targets = [folder / name for name in filled.files]
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise PackageError(f"{existing[0]} exists; give --force to replace the filled files")
    for target, data in zip(targets, filled.files.values(), strict=True):
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(target, 0o600)
    return targets
