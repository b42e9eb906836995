"""Deployment manifests for the engines that run fleets: Azure IoT Edge and Kubernetes.

Both deploy the same things: the skill runtime (the package, its parameters and its
secrets as environment variables) and one container per gRPC Container node, which the
runtime reaches by name (the IoT Edge module name, the Kubernetes Service name). Values
that only the device knows stay as ``${NAME}`` references, the form IoT Edge templates
and ``envsubst`` fill; Kubernetes reads them from a ConfigMap (parameters) and a Secret
(secrets).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import yaml

from designer.core.package.secrets import ENV_REF_RE
from designer.core.skill.catalog import get_spec
from designer.core.skill.catalog.exports import edge_output_name
from designer.core.skill.document import Skill
from designer.core.skill.fields import PLACEHOLDER_RE

PACKAGE_HOST_DIR = "/var/lib/skill-designer/packages"
OUTPUT_HOST_DIR = "/var/lib/skill-designer/output"
PACKAGE_IN_CONTAINER = "/package.zip"
OUTPUT_IN_CONTAINER = "/data"
CREATE_OPTIONS_CHUNK = 512  # IoT Edge splits longer createOptions into createOptions01...
MAX_CREATE_OPTIONS_PARTS = 8  # createOptions, createOptions01 ... createOptions07
EDGE_AGENT_IMAGE = "mcr.microsoft.com/azureiotedge-agent:1.5"
EDGE_HUB_IMAGE = "mcr.microsoft.com/azureiotedge-hub:1.5"
NVIDIA = ("Nvidia dGPU", "Nvidia Jetson (Jetpack 5)")


@dataclass
class DeployInput:
    """What both generators need: the secret-free skill and the names the device fills."""

    skill: Skill
    runtime_name: str
    runtime_image: str
    package_file: str
    params: dict[str, tuple[str, str | None]]
    """param name -> (environment variable, default or None)."""
    secrets: dict[str, str]
    """environment variable -> ``runtime`` or ``container:<name>``."""
    notes: list[str] = field(default_factory=list)

    def template(self, value: str) -> str:
        """A skill value with each ``$param(...)`` replaced by its default, else ``${ENV}``."""

        def fill(match: Any) -> str:
            env, default = self.params[match[1]]
            return default if default is not None else f"${{{env}}}"

        return PLACEHOLDER_RE.sub(fill, value)

    def nodes(self, kind: str, *, raw: bool = False) -> list[tuple[str, Any]]:
        """(node id, parameters) of every node of a kind; ``$param`` filled as templates unless ``raw``."""
        found = []
        for node in sorted(self.skill.nodes, key=lambda n: n.id):
            spec = get_spec(node.type)
            if spec is None or spec.kind != kind:
                continue
            params = node.params if raw else {k: _templated(v, self) for k, v in node.params.items()}
            found.append((node.id, spec.params.model_construct(**{**spec.defaults(), **params})))
        return found

    def webcam(self) -> int | None:
        for _, camera in self.nodes("camera"):
            source = str(camera.source).strip()
            if source.isdigit():
                return int(source)
        return None


def _templated(value: Any, data: DeployInput) -> Any:
    if isinstance(value, str):
        return data.template(value)
    if isinstance(value, list):
        return [_templated(v, data) for v in value]
    if isinstance(value, dict):
        return {k: _templated(v, data) for k, v in value.items()}
    return value


def _env_rows(rows: list) -> list[tuple[str, str]]:
    out = []
    for row in rows:
        name = row.get("name") if isinstance(row, dict) else getattr(row, "name", None)
        value = row.get("value") if isinstance(row, dict) else getattr(row, "value", "")
        if name:
            out.append((str(name), str(value or "")))
    return out


def _create_options(raw: str) -> dict:
    return json.loads(raw) if raw and raw.strip() else {}


# -- Azure IoT Edge --------------------------------------------------------------------------


def _split_create_options(options: dict, where: str = "") -> dict[str, str]:
    text = json.dumps(options, sort_keys=True, separators=(",", ":"), allow_nan=False)
    if len(text) > CREATE_OPTIONS_CHUNK * MAX_CREATE_OPTIONS_PARTS:
        raise ValueError(
            f"{where}create options are {len(text):,} characters once written; IoT Edge takes at most "
            f"{CREATE_OPTIONS_CHUNK * MAX_CREATE_OPTIONS_PARTS:,}"
        )
    chunks = [text[i : i + CREATE_OPTIONS_CHUNK] for i in range(0, len(text), CREATE_OPTIONS_CHUNK)] or ["{}"]
    return {("createOptions" if i == 0 else f"createOptions{i:02d}"): c for i, c in enumerate(chunks)}


def _gpu_host_config(acceleration: str, host: dict) -> None:
    if acceleration == "Nvidia Jetson (Jetpack 5)":
        host.setdefault("Runtime", "nvidia")
    elif acceleration == "Nvidia dGPU":
        host.setdefault("DeviceRequests", [{"Count": -1, "Capabilities": [["gpu"]]}])
    elif acceleration == "Intel iGPU":
        devices = host.setdefault("Devices", [])
        devices.append({"PathOnHost": "/dev/dri", "PathInContainer": "/dev/dri", "CgroupPermissions": "rwm"})


def iotedge_deployment(data: DeployInput) -> dict:
    """The deployment manifest (``modulesContent``, schema 1.1) for ``az iot edge set-modules``."""
    acceleration = data.skill.settings.acceleration
    host: dict[str, Any] = {
        "Binds": [
            f"{PACKAGE_HOST_DIR}/{data.package_file}:{PACKAGE_IN_CONTAINER}:ro",
            f"{OUTPUT_HOST_DIR}/{data.runtime_name}:{OUTPUT_IN_CONTAINER}",
        ],
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
    }
    webcam = data.webcam()
    if webcam is not None:
        host["Devices"] = [
            {
                "PathOnHost": f"/dev/video{webcam}",
                "PathInContainer": f"/dev/video{webcam}",
                "CgroupPermissions": "rwm",
            }
        ]
    _gpu_host_config(acceleration, host)
    env = {
        env: {"value": default if default is not None else f"${{{env}}}"}
        for env, default in sorted(data.params.values())
    }
    env.update(
        {name: {"value": f"${{{name}}}"} for name, user in sorted(data.secrets.items()) if user == "runtime"}
    )
    modules: dict[str, Any] = {
        data.runtime_name: {
            "version": "1.0",
            "type": "docker",
            "status": "running",
            "restartPolicy": "always",
            "settings": {"image": data.runtime_image, **_split_create_options({"HostConfig": host})},
            "env": env,
        }
    }
    for node_id, p in data.nodes("grpc-container"):
        options = _create_options(p.create_options)
        _gpu_host_config(p.acceleration, options.setdefault("HostConfig", {}))
        module_env = {name: {"value": value} for name, value in _env_rows(p.env)}
        if p.container_name in modules:
            raise ValueError(
                f"node {node_id}: container name {p.container_name!r} is used twice (or is the skill "
                "runtime's module name); each container needs its own name"
            )
        modules[p.container_name] = {
            "version": "1.0",
            "type": "docker",
            "status": "running",
            "restartPolicy": p.restart_policy,
            "settings": {"image": p.container_image, **_split_create_options(options, f"node {node_id}: ")},
            "env": module_env,
        }
    routes: dict[str, str] = {}
    source = f"/messages/modules/{data.runtime_name}/outputs"
    for node_id, p in data.nodes("iothub"):
        routes[f"{node_id}ToUpstream"] = f"FROM {source}/{p.output_name} INTO $upstream"
    for node_id, p in data.nodes("iotedge"):
        output = edge_output_name(p.module_name, p.module_input)
        target = f'BrokeredEndpoint("/modules/{p.module_name}/inputs/{p.module_input}")'
        routes[f"{node_id}ToModule"] = f"FROM {source}/{output} INTO {target}"
    return {
        "modulesContent": {
            "$edgeAgent": {
                "properties.desired": {
                    "schemaVersion": "1.1",
                    "runtime": {
                        "type": "docker",
                        "settings": {
                            "minDockerVersion": "v1.25",
                            "loggingOptions": "",
                            "registryCredentials": {},
                        },
                    },
                    "systemModules": {
                        "edgeAgent": {
                            "type": "docker",
                            "settings": {"image": EDGE_AGENT_IMAGE, "createOptions": "{}"},
                        },
                        "edgeHub": {
                            "type": "docker",
                            "status": "running",
                            "restartPolicy": "always",
                            "settings": {
                                "image": EDGE_HUB_IMAGE,
                                **_split_create_options(
                                    {
                                        "HostConfig": {
                                            "PortBindings": {
                                                "5671/tcp": [{"HostPort": "5671"}],
                                                "8883/tcp": [{"HostPort": "8883"}],
                                                "443/tcp": [{"HostPort": "443"}],
                                            }
                                        }
                                    }
                                ),
                            },
                        },
                    },
                    "modules": modules,
                }
            },
            "$edgeHub": {
                "properties.desired": {
                    "schemaVersion": "1.1",
                    "routes": routes,
                    "storeAndForwardConfiguration": {"timeToLiveSecs": 7200},
                }
            },
        }
    }


# -- Kubernetes ------------------------------------------------------------------------------


def _labels(name: str, part_of: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/managed-by": "skill-designer",
    }


def _gpu_limits(acceleration: str) -> dict[str, Any]:
    if acceleration in NVIDIA:
        return {"nvidia.com/gpu": 1}
    if acceleration == "Intel iGPU":
        return {"gpu.intel.com/i915": 1}
    return {}


def _arch(acceleration: str, architecture: str = "X64") -> str:
    return "arm64" if architecture == "ARM64" or acceleration == "Nvidia Jetson (Jetpack 5)" else "amd64"


def _k8s_env(
    data: DeployInput, rows: list[tuple[str, str]], secret_name: str, config_name: str
) -> list[dict]:
    """Env entries: parameters from the ConfigMap, ``${SECRET}`` from the Secret, the rest literal;
    values mixing text and references use Kubernetes' ``$(VAR)`` expansion of earlier entries."""
    env: list[dict] = []
    defined: set[str] = set()

    def reference(name: str, secret: bool) -> None:
        if name in defined:
            return
        defined.add(name)
        ref = "secretKeyRef" if secret else "configMapKeyRef"
        env.append(
            {"name": name, "valueFrom": {ref: {"name": secret_name if secret else config_name, "key": name}}}
        )

    param_envs = {env_name for env_name, _ in data.params.values()}
    for name, value in rows:
        refs = [(m[1], True) for m in ENV_REF_RE.finditer(value)]
        refs += [(data.params[m[1]][0], False) for m in PLACEHOLDER_RE.finditer(value)]
        whole_secret = ENV_REF_RE.fullmatch(value)
        whole_param = PLACEHOLDER_RE.fullmatch(value)
        if whole_secret:
            env.append(
                {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": whole_secret[1]}}}
            )
            continue
        if whole_param:
            key = data.params[whole_param[1]][0]
            env.append({"name": name, "valueFrom": {"configMapKeyRef": {"name": config_name, "key": key}}})
            continue
        for ref, secret in refs:
            reference(ref, secret and ref not in param_envs)
        text = ENV_REF_RE.sub(lambda m: f"$({m[1]})", value)
        text = PLACEHOLDER_RE.sub(lambda m: f"$({data.params[m[1]][0]})", text)
        env.append({"name": name, "value": text})
    return env


def kubernetes_manifests(data: DeployInput) -> dict[str, list[dict]]:
    """File name -> the resources it holds (``kubectl apply -f deploy/k8s/``)."""
    acceleration = data.skill.settings.acceleration
    name = data.runtime_name
    config_name, secret_name = f"{name}-params", f"{name}-secrets"
    files: dict[str, list[dict]] = {}
    files["params.yaml"] = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": config_name, "labels": _labels(config_name, name)},
            "data": {env: default or "" for env, default in sorted(data.params.values())},
        }
    ]
    env = [
        {"name": env_name, "valueFrom": {"configMapKeyRef": {"name": config_name, "key": env_name}}}
        for env_name, _ in sorted(data.params.values())
    ]
    env += [
        {"name": s, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": s}}}
        for s, user in sorted(data.secrets.items())
        if user == "runtime"
    ]
    volumes: list[dict] = [
        {"name": "package", "hostPath": {"path": f"{PACKAGE_HOST_DIR}/{data.package_file}", "type": "File"}},
        {"name": "output", "emptyDir": {}},
    ]
    mounts: list[dict] = [
        {"name": "package", "mountPath": PACKAGE_IN_CONTAINER, "readOnly": True},
        {"name": "output", "mountPath": OUTPUT_IN_CONTAINER},
    ]
    container: dict[str, Any] = {
        "name": "runtime",
        "image": data.runtime_image,
        "env": env,
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"memory": "2Gi", **_gpu_limits(acceleration)},
        },
        "volumeMounts": mounts,
    }
    webcam = data.webcam()
    if webcam is not None:
        volumes.append({"name": "webcam", "hostPath": {"path": f"/dev/video{webcam}", "type": "CharDevice"}})
        mounts.append({"name": "webcam", "mountPath": f"/dev/video{webcam}"})
        container["securityContext"] = {"privileged": True}
    files["runtime.yaml"] = [_deployment(name, name, container, volumes, _arch(acceleration))]
    for node_id, p in data.nodes("grpc-container", raw=True):
        if p.create_options.strip():
            data.notes.append(
                f"node {node_id}: Kubernetes does not use Docker create options; set resources "
                f"and security in deploy/k8s/{p.container_name}.yaml by hand"
            )
        if p.restart_policy != "always":
            data.notes.append(
                f"node {node_id}: Kubernetes Deployments always restart containers "
                f"(restart policy {p.restart_policy!r} applies to IoT Edge only)"
            )
        box: dict[str, Any] = {
            "name": p.container_name,
            "image": data.template(p.container_image),
            "ports": [{"name": "grpc", "containerPort": p.port}],
            "env": _k8s_env(data, _env_rows(p.env), secret_name, config_name),
        }
        limits = _gpu_limits(p.acceleration)
        if limits:
            box["resources"] = {"limits": limits}
        service = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": p.container_name, "labels": _labels(p.container_name, name)},
            "spec": {
                "selector": {"app.kubernetes.io/name": p.container_name},
                "ports": [{"name": "grpc", "port": p.port, "targetPort": p.port, "protocol": "TCP"}],
            },
        }
        files[f"{p.container_name}.yaml"] = [
            _deployment(p.container_name, name, box, [], _arch(p.acceleration, p.architecture)),
            service,
        ]
    return files


def _deployment(name: str, part_of: str, container: dict, volumes: list[dict], arch: str) -> dict:
    spec: dict[str, Any] = {"containers": [container], "nodeSelector": {"kubernetes.io/arch": arch}}
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": _labels(name, part_of)},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": _labels(name, part_of)}, "spec": spec},
        },
    }


def dump_yaml_documents(documents: list[dict]) -> str:
    return "---\n".join(yaml.safe_dump(doc, sort_keys=True, default_flow_style=False) for doc in documents)
