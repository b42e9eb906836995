"""``deploy/iotedge/deployment.json``: an Azure IoT Edge deployment manifest (schema 1.1) for
``az iot edge set-modules``: the runtime module with the package mounted, one module per
container the nodes deploy, and the edgeHub routes they need. Values only the device knows stay
``${NAME}`` references (IoT Edge templates, ``envsubst``)."""

from __future__ import annotations

import json
from typing import Any

from designer.core.package import deploy
from designer.core.package.context import ExportContext, ExportError
from designer.core.package.parts import PartOutput
from designer.core.skill.compiled import CompiledSkill

split_create_options = deploy.split_create_options  # (``fill`` uses it without loading the parts)
EDGE_AGENT_IMAGE = "mcr.microsoft.com/azureiotedge-agent:1.5"
EDGE_HUB_IMAGE = "mcr.microsoft.com/azureiotedge-hub:1.5"
EDGE_HUB_PORTS = {
    "5671/tcp": [{"HostPort": "5671"}],
    "8883/tcp": [{"HostPort": "8883"}],
    "443/tcp": [{"HostPort": "443"}],
}


def gpu_host_config(acceleration: str, host: dict) -> None:
    if acceleration == "Nvidia Jetson (Jetpack 5)":
        host.setdefault("Runtime", "nvidia")
    elif acceleration == "Nvidia dGPU":
        host.setdefault("DeviceRequests", [{"Count": -1, "Capabilities": [["gpu"]]}])
    elif acceleration == "Intel iGPU":
        devices = host.setdefault("Devices", [])
        devices.append({"PathOnHost": "/dev/dri", "PathInContainer": "/dev/dri", "CgroupPermissions": "rwm"})


def _module(restart_policy: str, settings: dict, env: dict) -> dict:
    return {
        "version": "1.0",
        "type": "docker",
        "status": "running",
        "restartPolicy": restart_policy,
        "settings": settings,
        "env": env,
    }


def output_volume(context: ExportContext) -> str:
    """The Docker named volume holding the runtime's output (insights log, outbox, clips)."""
    return f"{context.skill_id}-output"


def _runtime_module(compiled: CompiledSkill, context: ExportContext) -> dict:
    # The output is a named volume: Docker creates it from the image's /data, owned by the
    # runtime's user (uid 10001), where a bound host folder would be created owned by root.
    host: dict[str, Any] = {
        "Binds": [
            f"{deploy.PACKAGE_HOST_DIR}/{context.package_file}:{deploy.PACKAGE_IN_CONTAINER}:ro",
            f"{output_volume(context)}:{deploy.OUTPUT_IN_CONTAINER}",
        ],
        "LogConfig": {"Type": "json-file", "Config": {"max-size": "10m", "max-file": "3"}},
    }
    groups: list[str] = []
    webcam = deploy.webcam(compiled, context.template)
    if webcam is not None:
        device = f"/dev/video{webcam}"
        host["Devices"] = [{"PathOnHost": device, "PathInContainer": device, "CgroupPermissions": "rwm"}]
        groups.append(deploy.VIDEO_GROUP)
    acceleration = compiled.skill.settings.acceleration
    gpu_host_config(acceleration, host)
    if acceleration == "Intel iGPU":
        groups += [deploy.VIDEO_GROUP, deploy.RENDER_GROUP]
    if groups:  # the runtime's user (not root) opens the camera and the GPU through these groups
        host["GroupAdd"] = sorted(set(groups))
    env = {
        p.env: {"value": p.default if p.default is not None else f"${{{p.env}}}"}
        for p in sorted(context.params.values(), key=lambda p: p.env)
    }
    env.update({name: {"value": f"${{{name}}}"} for name in context.runtime_secrets()})
    if deploy.camera_file(compiled) is not None:
        env[deploy.SOURCE_ENV] = {"value": f"${{{deploy.SOURCE_ENV}}}"}
    settings = {"image": context.runtime_image, **split_create_options({"HostConfig": host})}
    return _module("always", settings, env)


def _container_module(container: deploy.Container, context: ExportContext) -> dict:
    raw = context.template(container.create_options)
    options = json.loads(raw) if raw.strip() else {}
    gpu_host_config(container.acceleration, options.setdefault("HostConfig", {}))
    env = {name: {"value": context.template(value)} for name, value in container.env}
    settings = {
        "image": context.template(container.image),
        **split_create_options(options, f"node {container.node}: "),
    }
    return _module(container.restart_policy, settings, env)


def system_modules() -> dict:
    """edgeAgent and edgeHub, as every manifest of ours runs them (edgeHub's ports published)."""
    return {
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
                **split_create_options({"HostConfig": {"PortBindings": EDGE_HUB_PORTS}}),
            },
        },
    }


def deployment(compiled: CompiledSkill, context: ExportContext) -> dict:
    modules: dict[str, Any] = {context.skill_id: _runtime_module(compiled, context)}
    for container in deploy.containers(compiled):
        if container.name in modules:
            raise ExportError(
                f"node {container.node}: container name {container.name!r} is used twice (or is the skill "
                "runtime's module name); each container needs its own name"
            )
        modules[container.name] = _container_module(container, context)
    source = f"/messages/modules/{context.skill_id}/outputs"
    routes = {
        route.name: context.template(f"FROM {source}/{route.output} INTO {route.into}")
        for route in deploy.routes(compiled)
    }
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
                    "systemModules": system_modules(),
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


def modules_and_routes(compiled: CompiledSkill, context: ExportContext) -> tuple[dict, dict]:
    """The skill's own modules (the runtime and its containers) and edgeHub routes."""
    desired = deployment(compiled, context)["modulesContent"]
    return (
        desired["$edgeAgent"]["properties.desired"]["modules"],
        desired["$edgeHub"]["properties.desired"]["routes"],
    )


def dump(manifest: dict) -> bytes:
    return (json.dumps(manifest, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    warnings = []
    clip = deploy.camera_file(compiled)
    if clip is not None:
        warnings.append(
            f"the camera reads the file {clip!r}, which a device does not have: the IoT Edge and Kubernetes "
            f"files take the device's camera from {deploy.SOURCE_ENV} (skill-designer fill --source URL)"
        )
    return PartOutput({"deploy/iotedge/deployment.json": dump(deployment(compiled, context))}, warnings)
