"""The fleet files of a deployment package, and filling them for one device.

``deploy/iotedge/deployment.json`` (an IoT Edge manifest), ``deploy/k8s/runtime.yaml`` (a
ConfigMap and a Deployment) and ``deploy/kan/instances.yaml`` (one KAN Instance per camera) run
one runtime per device: ``skill-designer run /package.deploy.zip`` with the package mounted.
What only the device knows stays a reference: ``${SKILL_PARAM_<NAME>}`` for each ``$param`` the
cameras and skills leave open, ``${<SECRET>}`` for each secret the skill packages moved out.
``fill_fleet_files`` (``skill-designer fill SITE.deploy.zip``) writes them filled: parameters
from ``--param`` or their variable, secrets from the environment only; in Kubernetes the secrets
(and the parameters feeding a password or key) come from the ``<runtime>-secrets`` Secret the
operator creates, so the filled ConfigMap never holds one.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import yaml

from designer.core.deployment.document import Deployment
from designer.core.deployment.kan import export_kan_instances
from designer.core.deployment.runner import param_env
from designer.core.package.fill import REF_RE, Filled, check_filled, fill_iotedge, fill_refs
from designer.core.package.manifest import PackageError
from designer.core.package.parts.iotedge import system_modules
from designer.core.package.parts.kubernetes import dns_label
from designer.core.skill.fields import PLACEHOLDER_RE

PACKAGES_ON_HOST = "/var/lib/skill-designer/packages"
IOTEDGE_FILE = "deploy/iotedge/deployment.json"
K8S_FILE = "deploy/k8s/runtime.yaml"
KAN_FILE = "deploy/kan/instances.yaml"
TARGETS = {"iot-edge": IOTEDGE_FILE, "k8s": K8S_FILE, "kan": KAN_FILE}


@dataclass(frozen=True)
class FleetNeeds:
    """What the device must give: ``$param`` names (those feeding a secret marked) and the
    variables holding the secrets the skill packages moved out."""

    params: list[str] = field(default_factory=list)
    secrets: frozenset[str] = frozenset()
    secret_env: list[str] = field(default_factory=list)


def runtime_name(deployment: Deployment) -> str:
    """The runtime's IoT Edge module and Kubernetes object name: a DNS label, valid for both."""
    return dns_label(deployment.name)


def _k8s_env(name: str, variable: str, needs: FleetNeeds) -> dict:
    secret = variable in needs.secret_env or any(variable == param_env(p) for p in needs.secrets)
    source = (
        {"secretKeyRef": {"name": f"{name}-secrets", "key": variable}}
        if secret
        else {"configMapKeyRef": {"name": f"{name}-params", "key": variable}}
    )
    return {"name": variable, "valueFrom": source}


def fleet_files(
    deployment: Deployment, image: str, needs: FleetNeeds, skill_names: dict[str, str]
) -> dict[str, bytes]:
    """IoT Edge, Kubernetes and KAN files deploying the whole deployment: one runtime per device
    running ``skill-designer run /package.deploy.zip``, its ``$param`` values given as
    ``SKILL_PARAM_<NAME>`` and the skills' secrets as their own variables (``${NAME}`` for
    ``fill``; in Kubernetes, parameters from a ConfigMap and secrets from a Secret)."""
    name = runtime_name(deployment)
    variables = [param_env(p) for p in needs.params] + needs.secret_env
    package = f"{PACKAGES_ON_HOST}/{name}.deploy.zip"  # copy the package there under this name
    entrypoint = ["skill-designer", "run", "/package.deploy.zip"]
    env = {variable: {"value": "${" + variable + "}"} for variable in variables}
    create = {
        "Entrypoint": entrypoint,
        "HostConfig": {
            "Binds": [f"{package}:/package.deploy.zip:ro", f"{name}-output:/data"],
            "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
        },
    }
    iotedge = {
        "modulesContent": {
            "$edgeAgent": {
                "properties.desired": {
                    "schemaVersion": "1.1",
                    "runtime": {"type": "docker", "settings": {}},
                    "systemModules": system_modules(),
                    "modules": {
                        name: {
                            "version": "1.0",
                            "type": "docker",
                            "status": "running",
                            "restartPolicy": "always",
                            "settings": {
                                "image": image,
                                "createOptions": json.dumps(create, sort_keys=True, allow_nan=False),
                            },
                            "env": env,
                        }
                    },
                }
            },
            "$edgeHub": {
                "properties.desired": {
                    "schemaVersion": "1.1",
                    "routes": {"upstream": f"FROM /messages/modules/{name}/outputs/* INTO $upstream"},
                    "storeAndForwardConfiguration": {"timeToLiveSecs": 7200},
                }
            },
        }
    }
    labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "skill-designer"}
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": f"{name}-params", "labels": labels},
        "data": {param_env(p): "${" + param_env(p) + "}" for p in needs.params if p not in needs.secrets},
    }
    pod = {
        "containers": [
            {
                "name": "runtime",
                "image": image,
                "command": entrypoint,
                "env": [
                    {"name": "SKILL_HEALTH_FILE", "value": "/tmp/skill-health"},
                    *[_k8s_env(name, variable, needs) for variable in variables],
                ],
                "livenessProbe": {
                    "exec": {
                        "command": [
                            "/bin/sh",
                            "-c",
                            "test $(( $(date +%s) - $(stat -c %Y /tmp/skill-health) )) -lt 30",
                        ]
                    },
                    "periodSeconds": 10,
                    "failureThreshold": 3,
                },
                "volumeMounts": [
                    {"name": "package", "mountPath": "/package.deploy.zip", "readOnly": True},
                    {"name": "output", "mountPath": "/data"},
                    {"name": "tmp", "mountPath": "/tmp"},
                ],
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
        "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "fsGroup": 10001},
        "volumes": [
            {"name": "package", "hostPath": {"path": package, "type": "File"}},
            {"name": "output", "emptyDir": {}},
            {"name": "tmp", "emptyDir": {}},
        ],
    }
    runtime = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": labels},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    return {
        IOTEDGE_FILE: (json.dumps(iotedge, indent=2, sort_keys=True, allow_nan=False) + "\n").encode(),
        K8S_FILE: yaml.safe_dump_all([config, runtime], sort_keys=True).encode(),
        KAN_FILE: export_kan_instances(deployment, skill_names).encode(),
    }


def fill_fleet_files(
    package: str | os.PathLike,
    params: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
    targets: tuple[str, ...] = tuple(TARGETS),
) -> Filled:
    """The package's fleet files (hash-checked) with every reference filled for one device:
    ``params`` by ``$param`` name, else ``SKILL_PARAM_<NAME>`` from ``environ``; secrets from
    ``environ`` only. A name the package does not use, or a value missing, is refused by name."""
    from designer.core.deployment.package import open_deployment_package

    environ = os.environ if environ is None else environ
    params = dict(params or {})
    _, folder = open_deployment_package(package)
    texts = {TARGETS[t]: (folder / TARGETS[t]).read_text(encoding="utf-8") for t in targets}
    used = {m[1] for text in texts.values() for m in REF_RE.finditer(text)}
    used |= {param_env(m[1]) for text in texts.values() for m in PLACEHOLDER_RE.finditer(text)}
    unknown = sorted(n for n in params if param_env(n) not in used)
    if unknown:
        raise PackageError(f"{package}: no parameter {unknown[0]!r} in these files")
    values = {param_env(n): v for n, v in params.items()}
    missing = sorted(v for v in used if v not in values and v not in environ)
    if missing:
        hint = "; ".join(_ask(v) for v in missing)
        raise PackageError(f"{package}: the fleet files need {hint}")
    values.update({v: environ[v] for v in used if v not in values})
    return Filled(
        {
            name.removeprefix("deploy/"): _fill(name, text, values, f"{package}: {name}")
            for name, text in texts.items()
        },
        values,
    )


def _ask(variable: str) -> str:
    if variable.startswith("SKILL_PARAM_"):
        return f"--param {variable.removeprefix('SKILL_PARAM_').lower()}=VALUE (or {variable})"
    return f"{variable} (a secret: set it in the environment)"


def _fill(name: str, text: str, values: Mapping[str, str], where: str) -> bytes:
    if name == IOTEDGE_FILE:
        doc = fill_iotedge(json.loads(text), values, where)
        check_filled(doc, where, values)
        return (json.dumps(doc, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    if name == K8S_FILE:
        docs = [fill_refs(d, values) for d in yaml.safe_load_all(text) if d is not None]
        for doc in docs:
            check_filled(doc, where, values)
        return yaml.safe_dump_all(docs, sort_keys=True).encode()
    filled = PLACEHOLDER_RE.sub(lambda m: values.get(param_env(m[1]), m[0]), text)  # KAN: $param(...)
    left = PLACEHOLDER_RE.search(filled)
    if left:
        raise PackageError(f"{where}: {left[0]} left unfilled")
    return filled.encode()
