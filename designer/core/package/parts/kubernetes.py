"""``deploy/k8s/``: a ConfigMap of parameters, the runtime Deployment, and a Deployment + Service
per container the nodes deploy (``kubectl apply -f deploy/k8s/``). Parameters come from the
ConfigMap, secrets from a Secret the operator creates."""

from __future__ import annotations

from typing import Any

from designer.core.package import deploy
from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput
from designer.core.package.secrets import ENV_REF_RE
from designer.core.skill.compiled import CompiledSkill
from designer.core.skill.fields import PLACEHOLDER_RE


def _labels(name: str, part_of: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/part-of": part_of,
        "app.kubernetes.io/managed-by": "skill-designer",
    }


def _arch(acceleration: str, architecture: str = "X64") -> str:
    return "arm64" if architecture == "ARM64" or acceleration == "Nvidia Jetson (Jetpack 5)" else "amd64"


class _Names:
    def __init__(self, context: ExportContext) -> None:
        self.context = context
        self.runtime = context.skill_id
        self.config, self.secret = f"{self.runtime}-params", f"{self.runtime}-secrets"
        self.param_env = {name: info.env for name, info in context.params.items()}

    def ref(self, name: str, secret: bool) -> dict:
        ref = "secretKeyRef" if secret else "configMapKeyRef"
        return {
            "name": name,
            "valueFrom": {ref: {"name": self.secret if secret else self.config, "key": name}},
        }


def _env_entry(names: _Names, name: str, value: str, defined: set[str], env: list[dict]) -> None:
    """One env entry: a whole reference from the ConfigMap or Secret, else literal text; values
    mixing text and references use Kubernetes' ``$(VAR)`` expansion of entries defined before."""
    whole_secret, whole_param = ENV_REF_RE.fullmatch(value), PLACEHOLDER_RE.fullmatch(value)
    if whole_secret:
        env.append({**names.ref(whole_secret[1], True), "name": name})
        return
    if whole_param:
        env.append({**names.ref(names.param_env[whole_param[1]], False), "name": name})
        return
    param_envs = set(names.param_env.values())
    refs = [(m[1], m[1] not in param_envs) for m in ENV_REF_RE.finditer(value)]
    refs += [(names.param_env[m[1]], False) for m in PLACEHOLDER_RE.finditer(value)]
    for ref, secret in refs:
        if ref not in defined:
            defined.add(ref)
            env.append(names.ref(ref, secret))
    text = ENV_REF_RE.sub(lambda m: f"$({m[1]})", value)
    text = PLACEHOLDER_RE.sub(lambda m: f"$({names.param_env[m[1]]})", text)
    env.append({"name": name, "value": text})


def _container_env(names: _Names, rows: tuple[tuple[str, str], ...]) -> list[dict]:
    env: list[dict] = []
    defined: set[str] = set()
    for name, value in rows:
        _env_entry(names, name, value, defined, env)
    return env


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


def _runtime(compiled: CompiledSkill, names: _Names) -> dict:
    context, acceleration = names.context, compiled.skill.settings.acceleration
    envs = sorted(info.env for info in context.params.values())
    env = [names.ref(name, False) for name in envs] + [names.ref(s, True) for s in context.runtime_secrets()]
    volumes: list[dict] = [
        {
            "name": "package",
            "hostPath": {"path": f"{deploy.PACKAGE_HOST_DIR}/{context.package_file}", "type": "File"},
        },
        {"name": "output", "emptyDir": {}},
    ]
    mounts: list[dict] = [
        {"name": "package", "mountPath": deploy.PACKAGE_IN_CONTAINER, "readOnly": True},
        {"name": "output", "mountPath": deploy.OUTPUT_IN_CONTAINER},
    ]
    container: dict[str, Any] = {
        "name": "runtime",
        "image": context.runtime_image,
        "env": env,
        "resources": {
            "requests": {"cpu": "500m", "memory": "512Mi"},
            "limits": {"memory": "2Gi", **deploy.gpu_limits(acceleration)},
        },
        "volumeMounts": mounts,
    }
    webcam = deploy.webcam(compiled, context.template)
    if webcam is not None:
        volumes.append({"name": "webcam", "hostPath": {"path": f"/dev/video{webcam}", "type": "CharDevice"}})
        mounts.append({"name": "webcam", "mountPath": f"/dev/video{webcam}"})
        container["securityContext"] = {"privileged": True}
    return _deployment(names.runtime, names.runtime, container, volumes, _arch(acceleration))


def _container_notes(c: deploy.Container) -> list[str]:
    notes = []
    if c.create_options.strip():
        notes.append(
            f"node {c.node}: Kubernetes does not use Docker create options; set resources "
            f"and security in deploy/k8s/{c.name}.yaml by hand"
        )
    if c.restart_policy != "always":
        notes.append(
            f"node {c.node}: Kubernetes Deployments always restart containers "
            f"(restart policy {c.restart_policy!r} applies to IoT Edge only)"
        )
    return notes


def _container(c: deploy.Container, names: _Names) -> list[dict]:
    box: dict[str, Any] = {
        "name": c.name,
        "image": names.context.template(c.image),
        "ports": [{"name": "grpc", "containerPort": c.port}],
        "env": _container_env(names, c.env),
    }
    limits = deploy.gpu_limits(c.acceleration)
    if limits:
        box["resources"] = {"limits": limits}
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": c.name, "labels": _labels(c.name, names.runtime)},
        "spec": {
            "selector": {"app.kubernetes.io/name": c.name},
            "ports": [{"name": "grpc", "port": c.port, "targetPort": c.port, "protocol": "TCP"}],
        },
    }
    return [_deployment(c.name, names.runtime, box, [], _arch(c.acceleration, c.architecture)), service]


def manifests(compiled: CompiledSkill, context: ExportContext) -> tuple[dict[str, list[dict]], list[str]]:
    """File name -> the resources it holds, and the notes on what Kubernetes does differently."""
    names = _Names(context)
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.config, "labels": _labels(names.config, names.runtime)},
        "data": {
            info.env: info.default or "" for info in sorted(context.params.values(), key=lambda i: i.env)
        },
    }
    files: dict[str, list[dict]] = {"params.yaml": [config], "runtime.yaml": [_runtime(compiled, names)]}
    notes: list[str] = []
    for c in deploy.containers(compiled):
        notes += _container_notes(c)
        files[f"{c.name}.yaml"] = _container(c, names)
    return files, notes


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    files, notes = manifests(compiled, context)
    return PartOutput(
        {f"deploy/k8s/{name}": deploy.dump_yaml_documents(docs).encode() for name, docs in files.items()},
        notes,
    )
