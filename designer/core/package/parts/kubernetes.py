"""``deploy/k8s/``: a ConfigMap of parameters, a PersistentVolumeClaim for the runtime's output,
the runtime Deployment, and a Deployment + Service per container the nodes deploy (``skill-designer
fill`` then ``kubectl apply -f``). Parameters come from the ConfigMap (a required one is a
``${SKILL_PARAM_...}`` that ``fill`` refuses to leave empty), secrets from a Secret the operator
creates.

As a Kubernetes engineer expects: every object carries ``app.kubernetes.io/instance`` (the skill)
and selectors use it, so two skills never select each other's pods; containers are named
``<skill>-<container>`` (Services as DNS-1035 labels) and the runtime reaches them through its
ConfigMap; pods run as non-root with a read-only root file system, no privilege escalation and
the runtime default seccomp profile (the webcam, which needs the device, excepted); every
container requests CPU and memory; one copy at a time (``Recreate``: two copies would share one
camera); the runtime's output (the outbox of unsent messages, the insights log) is a claim that
survives pod replacement; probes read the health file the runtime touches while frames flow."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from designer.core.package import deploy
from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput
from designer.core.package.secrets import ENV_REF_RE
from designer.core.skill.compiled import CompiledSkill
from designer.core.skill.fields import PLACEHOLDER_RE

HEALTH_FILE_ENV = "SKILL_HEALTH_FILE"  # read by `skill-designer run` (designer/commands/run.py)


HEALTH_FILE = "/tmp/skill-health"
HEALTH_MAX_AGE_S = 30
RUNTIME_UID = 10001  # the runtime image's user (packaging/runtime/Dockerfile)
VIDEO_GID = 44
OUTPUT_STORAGE = "1Gi"
CONTAINER_REQUESTS = {"cpu": "100m", "memory": "128Mi"}
_NOT_DNS = re.compile(r"[^a-z0-9-]+")


def dns_label(text: str, *, letter_first: bool = True) -> str:
    """``text`` as a DNS-1035 label (a Service name: at most 63 of ``[a-z0-9-]``, a letter first)."""
    value = _NOT_DNS.sub("-", text.lower()).strip("-") or "x"
    if letter_first and not value[0].isalpha():
        value = f"s-{value}"
    if len(value) > 63:
        value = f"{value[:54].rstrip('-')}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"
    return value


def _labels(name: str, instance: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/instance": instance,
        "app.kubernetes.io/part-of": "skill-designer-skill",
        "app.kubernetes.io/managed-by": "skill-designer",
    }


def _selector(name: str, instance: str) -> dict[str, str]:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/instance": instance}


def _health_probe(initial_delay_s: int) -> dict:
    check = f"test $(( $(date +%s) - $(stat -c %Y {HEALTH_FILE}) )) -lt {HEALTH_MAX_AGE_S}"
    return {
        "exec": {"command": ["/bin/sh", "-c", check]},
        "initialDelaySeconds": initial_delay_s,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }


def _restricted(read_only_root: bool = True) -> dict:
    context: dict[str, Any] = {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    if read_only_root:
        context["readOnlyRootFilesystem"] = True
    return context


def _arch(acceleration: str, architecture: str = "X64") -> str:
    return "arm64" if architecture == "ARM64" or acceleration == "Nvidia Jetson (Jetpack 5)" else "amd64"


class _Names:
    def __init__(self, context: ExportContext) -> None:
        self.context = context
        self.runtime = context.skill_id
        self.config, self.secret = f"{self.runtime}-params", f"{self.runtime}-secrets"
        self.output = f"{self.runtime}-output"
        self.param_env = {name: info.env for name, info in context.params.items()}

    def container(self, c: deploy.Container) -> str:
        """The Deployment and Service of a container: the skill's name first (two skills may
        both have a ``counter``), as a DNS-1035 label (a node's name may start with a digit)."""
        return dns_label(f"{self.runtime}-{c.name}")

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


def _deployment(
    name: str, instance: str, container: dict, volumes: list[dict], arch: str, pod_security: dict
) -> dict:
    spec: dict[str, Any] = {
        "containers": [container],
        "nodeSelector": {"kubernetes.io/arch": arch},
        "securityContext": pod_security,
        "automountServiceAccountToken": False,
        "terminationGracePeriodSeconds": 30,  # SIGTERM flushes every sink first
    }
    if volumes:
        spec["volumes"] = volumes
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": _labels(name, instance)},
        "spec": {
            "replicas": 1,
            "strategy": {"type": "Recreate"},  # never two copies on one camera or one output claim
            "selector": {"matchLabels": _selector(name, instance)},
            "template": {"metadata": {"labels": _labels(name, instance)}, "spec": spec},
        },
    }


def _runtime(compiled: CompiledSkill, names: _Names) -> dict:
    context, acceleration = names.context, compiled.skill.settings.acceleration
    envs = sorted(info.env for info in context.params.values())
    env = [names.ref(name, False) for name in envs] + [names.ref(s, True) for s in context.runtime_secrets()]
    if deploy.camera_file(compiled) is not None:
        env.append(names.ref(deploy.SOURCE_ENV, False))
    env.append({"name": HEALTH_FILE_ENV, "value": HEALTH_FILE})
    volumes: list[dict] = [
        {
            "name": "package",
            "hostPath": {"path": f"{deploy.PACKAGE_HOST_DIR}/{context.package_file}", "type": "File"},
        },
        {"name": "output", "persistentVolumeClaim": {"claimName": names.output}},
        {"name": "tmp", "emptyDir": {}},
    ]
    mounts: list[dict] = [
        {"name": "package", "mountPath": deploy.PACKAGE_IN_CONTAINER, "readOnly": True},
        {"name": "output", "mountPath": deploy.OUTPUT_IN_CONTAINER},
        {"name": "tmp", "mountPath": "/tmp"},
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
        "startupProbe": {**_health_probe(5), "failureThreshold": 30},  # up to 5 minutes to open
        "livenessProbe": _health_probe(0),
        "securityContext": _restricted(),
    }
    pod: dict[str, Any] = {
        "runAsNonRoot": True,
        "runAsUser": RUNTIME_UID,
        "runAsGroup": RUNTIME_UID,
        "fsGroup": RUNTIME_UID,  # the output claim is made writable for the runtime's user
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    groups = []
    webcam = deploy.webcam(compiled, context.template)
    if webcam is not None:
        volumes.append({"name": "webcam", "hostPath": {"path": f"/dev/video{webcam}", "type": "CharDevice"}})
        mounts.append({"name": "webcam", "mountPath": f"/dev/video{webcam}"})
        # A host device needs a privileged container without a device plugin (still non-root).
        container["securityContext"] = {"privileged": True, "readOnlyRootFilesystem": True}
        groups.append(VIDEO_GID)
    if groups:
        pod["supplementalGroups"] = groups
    return _deployment(names.runtime, names.runtime, container, volumes, _arch(acceleration), pod)


def _output_claim(names: _Names) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": names.output, "labels": _labels(names.output, names.runtime)},
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": OUTPUT_STORAGE}},
        },
    }


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
    name = names.container(c)
    box: dict[str, Any] = {
        "name": c.name,
        "image": names.context.template(c.image),
        "ports": [{"name": "grpc", "containerPort": c.port}],
        "env": _container_env(names, c.env),
        "resources": {"requests": dict(CONTAINER_REQUESTS), "limits": deploy.gpu_limits(c.acceleration)},
        "readinessProbe": {"tcpSocket": {"port": c.port}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": c.port}, "initialDelaySeconds": 15, "periodSeconds": 20},
        # Your image may need to write or run as root: only what never breaks a server is set.
        "securityContext": _restricted(read_only_root=False),
    }
    if not box["resources"]["limits"]:
        del box["resources"]["limits"]
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "labels": _labels(name, names.runtime)},
        "spec": {
            "selector": _selector(name, names.runtime),
            "ports": [{"name": "grpc", "port": c.port, "targetPort": c.port, "protocol": "TCP"}],
        },
    }
    pod = {"seccompProfile": {"type": "RuntimeDefault"}}
    arch = _arch(c.acceleration, c.architecture)
    return [_deployment(name, names.runtime, box, [], arch, pod), service]


def _gpu_note(compiled: CompiledSkill, containers: list[deploy.Container]) -> list[str]:
    users = [("the runtime", compiled.skill.settings.acceleration)]
    users += [(f"container {c.name}", c.acceleration) for c in containers]
    nvidia = [who for who, acceleration in users if acceleration in deploy.NVIDIA]
    if len(nvidia) < 2:
        return []
    return [
        f"Kubernetes: {len(nvidia)} pods request a whole nvidia.com/gpu each ({', '.join(nvidia)}); on a "
        "node with fewer GPUs, enable GPU time-slicing in the NVIDIA device plugin "
        f"(replicas >= {len(nvidia)}) or the last pods stay Pending"
    ]


def manifests(compiled: CompiledSkill, context: ExportContext) -> tuple[dict[str, list[dict]], list[str]]:
    """File name -> the resources it holds, and the notes on what Kubernetes does differently."""
    names = _Names(context)
    containers = deploy.containers(compiled)
    data = {
        info.env: info.default if info.default is not None else f"${{{info.env}}}"
        for info in sorted(context.params.values(), key=lambda i: i.env)
    }
    if deploy.camera_file(compiled) is not None:
        data[deploy.SOURCE_ENV] = f"${{{deploy.SOURCE_ENV}}}"
    for c in containers:  # the runtime dials the container's Service, named for Kubernetes
        endpoint = context.params.get(f"{c.name}.endpoint")
        if endpoint is not None and endpoint.default == f"{c.name}:{c.port}":
            data[endpoint.env] = f"{names.container(c)}:{c.port}"
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": names.config, "labels": _labels(names.config, names.runtime)},
        "data": data,
    }
    files: dict[str, list[dict]] = {
        "params.yaml": [config],
        "runtime.yaml": [_output_claim(names), _runtime(compiled, names)],
    }
    notes: list[str] = _gpu_note(compiled, containers)
    for c in containers:
        notes += _container_notes(c)
        files[f"{c.name}.yaml"] = _container(c, names)
    return files, notes


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    files, notes = manifests(compiled, context)
    return PartOutput(
        {f"deploy/k8s/{name}": deploy.dump_yaml_documents(docs).encode() for name, docs in files.items()},
        notes,
    )
