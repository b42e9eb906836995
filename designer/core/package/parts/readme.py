"""``README.md``: how to run and deploy this very skill."""

from __future__ import annotations

from designer.core.package import deploy
from designer.core.package.context import ExportContext, slug
from designer.core.package.parts import PartOutput
from designer.core.skill.catalog import Role
from designer.core.skill.compiled import CompiledSkill


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    return PartOutput({"README.md": package_readme(compiled, context).encode()})


def package_readme(compiled: CompiledSkill, context: ExportContext) -> str:
    """The README, section by section, in the order a user runs, fills and deploys the package."""
    lines = _intro(compiled, context) + _parameters(context) + _secrets(context)
    lines += _runtime_and_fill(compiled, context) + _iot_edge(context) + _kubernetes(compiled, context)
    lines += _kan_section()
    return "\n".join(lines)


def _intro(compiled: CompiledSkill, context: ExportContext) -> list[str]:
    """What the skill is, and the two commands that check and run it locally."""
    s = compiled.skill.settings
    skill_id, version, package_file = context.skill_id, context.version, context.package_file
    param_args = " ".join(f"--param {name}=VALUE" for name, p in context.params.items() if p.default is None)
    return [
        f"# {s.name} ({skill_id} {version})",
        "",
        s.description or "A skill package written by Skill Designer.",
        "",
        f"Device acceleration: {s.acceleration} (execution providers: {', '.join(context.providers)}).",
        "",
        "## Run it",
        "",
        "```sh",
        f"skill-designer verify {package_file}",
        f"skill-designer run {package_file} --source rtsp://camera/stream {param_args}".rstrip(),
        "```",
        "",
        "`run` checks every file's SHA-256 first and refuses a changed package.",
        "",
    ]


def _parameters(context: ExportContext) -> list[str]:
    """The parameters table (none when the skill has none): how each is given and who uses it."""
    params = context.params
    if not params:
        return []
    lines = [
        "## Parameters",
        "",
        "Give each with `--param NAME=VALUE`, or set its environment variable.",
        "",
        "| parameter | environment variable | default | used by |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | `{p.env}` | {p.default if p.default is not None else '(required)'} | "
        f"{', '.join(p.used_by)} |"
        for name, p in params.items()
    ]
    lines.append("")
    return lines


def _secrets(context: ExportContext) -> list[str]:
    """The environment variables the device must set, since no secret is written into the package."""
    env = context.env
    if not env:
        return []
    lines = [
        "## Secrets",
        "",
        "No secret is in this package. Set these environment variables on the device:",
        "",
        "| variable | node | parameter | read by |",
        "|---|---|---|---|",
    ]
    lines += [f"| `{name}` | {e.node} | {e.param} | {e.used_by} |" for name, e in sorted(env.items())]
    lines.append("")
    return lines


def _fill_args(compiled: CompiledSkill, context: ExportContext) -> str:
    """The ``--param``/``--source``/``--kan-model`` options ``fill`` and ``publish`` need for this skill."""
    required = [name for name, p in context.params.items() if p.default is None]
    fill_args = " ".join(f"--param {name}=VALUE" for name in required)
    if deploy.camera_file(compiled) is not None:
        fill_args += " --source rtsp://CAMERA/stream"
    models = sorted(n.id for n in compiled.nodes.values() if n.spec.role is Role.MODEL)
    kan_written = "deploy/kan/skill.yaml" in context.files
    kan_args = " ".join(f"--kan-model {node_id}=MODEL" for node_id in models) if kan_written else ""
    return f"{fill_args} {kan_args}"


def _runtime_and_fill(compiled: CompiledSkill, context: ExportContext) -> list[str]:
    """Where the runtime image comes from, and how to fill (or publish) the deployment files."""
    package_file, runtime_image = context.package_file, context.runtime_image
    args = _fill_args(compiled, context)
    secrets_env = " ".join(f"{name}=..." for name in sorted(context.env))
    return [
        "## The runtime image",
        "",
        f"The deployment files run `{runtime_image}`. Build it from `packaging/runtime/Dockerfile` in the",
        "Skill Designer repository (the variant for this skill's acceleration), push it to a registry the",
        "devices can pull from, and export with `--runtime-image REGISTRY/NAME:TAG` (add",
        "`registryCredentials` to the IoT Edge deployment, or an image pull secret, for a private one).",
        "",
        "## Fill the deployment files",
        "",
        "The files keep what only the device knows as `${NAME}`. Fill them with `skill-designer fill`,",
        "which replaces this package's own names only (`envsubst` would also eat `$edgeAgent`, `$edgeHub`",
        "and `$upstream`), refuses a missing value by name, and checks the result:",
        "",
        "```sh",
        f"{secrets_env}{' ' if secrets_env else ''}skill-designer fill {package_file} -o filled/ \\",
        f"    {args}".rstrip(),
        "```",
        "",
        "Or publish the package to Azure Blob storage and let the devices fetch it (no copying; the",
        "runtime verifies the SHA-256, caches the package, and a new digest is the update):",
        "",
        "```sh",
        f"skill-designer publish {package_file} \\",
        "    --container-url https://ACCOUNT.blob.core.windows.net/packages \\",
        f"    -o filled/ {args}".rstrip(),
        "```",
        "",
        "(devices read it with a SAS in `SKILL_PACKAGE_SAS`, or their Azure identity).",
        "",
    ]


def _iot_edge(context: ExportContext) -> list[str]:
    """Deploying with Azure IoT Edge: a complete deployment, or a layered one on top of a base."""
    skill_id = context.skill_id
    deployment_id = slug(f"{skill_id}-{context.version}")  # lower-case letters, digits and '-'
    return [
        "## Deploy with Azure IoT Edge",
        "",
        f"Without `publish`, copy `{context.package_file}` to `{deploy.PACKAGE_HOST_DIR}/` on each device.",
        "Then either replace everything on the device (`filled/iotedge/deployment.json`, complete):",
        "",
        "```sh",
        "az iot edge set-modules --hub-name HUB --device-id DEVICE --content filled/iotedge/deployment.json",
        "```",
        "",
        "or add the skill to what the devices already run (a layered deployment, on top of a base one):",
        "",
        "```sh",
        f"az iot edge deployment create --layered --hub-name HUB --deployment-id {deployment_id} \\",
        "    --content filled/iotedge/layered.json --target-condition \"tags.skill='yes'\" --priority 10",
        "```",
        "",
        "The runtime writes its output (insights log, unsent messages) into a Docker volume",
        f"`{skill_id}-output`, owned by the image's user.",
        "",
    ]


def _kubernetes(compiled: CompiledSkill, context: ExportContext) -> list[str]:
    """Deploying with Kubernetes: the Secret (when the skill has secrets), then the manifests."""
    skill_id, env, package_file = context.skill_id, context.env, context.package_file
    runtime_secrets = context.runtime_secrets()
    lines = [
        "## Deploy with Kubernetes",
        "",
        f"Without `publish`, put `{package_file}` in `{deploy.PACKAGE_HOST_DIR}/` on the nodes. Then:",
        "",
        "```sh",
    ]
    if env:
        literals = " ".join(f"--from-literal={name}=..." for name in sorted(env))
        lines.append(f"kubectl create secret generic {skill_id}-secrets {literals}")
    lines += [
        "kubectl apply -f filled/k8s/",
        "```",
        "",
        f"`params.yaml` holds the parameters ({skill_id}-params); "
        + (
            f"the runtime reads {', '.join(runtime_secrets)} from the Secret."
            if runtime_secrets
            else "the runtime needs no secret."
        ),
        f"`runtime.yaml` holds the runtime (one copy, uid 10001) and its output claim ({skill_id}-output).",
    ]
    extra = sorted({f"{c.name}.yaml" for c in deploy.containers(compiled)} - {"params.yaml", "runtime.yaml"})
    if extra:
        lines.append(f"Each gRPC container gets a Deployment and a Service: {', '.join(extra)}.")
    return lines


def _kan_section() -> list[str]:
    """POSS / KAN: the Skill resource, and the Model resources it needs named when filling."""
    return [
        "",
        "## POSS / KAN",
        "",
        "`deploy/kan/skill.yaml` is the `Skill` resource (ai.symphony/v1) for the parts KAN can express; its",
        "comments list what it cannot. KAN runs each model node from one of its own Model resources: name",
        "them when you fill (`--kan-model NODE=MODEL`), then `kubectl apply -f filled/kan/skill.yaml`.",
        "When the file is missing, KAN's portal would refuse the skill; the export said why.",
        "",
    ]
