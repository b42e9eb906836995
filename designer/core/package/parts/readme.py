"""``README.md``: how to run and deploy this very skill."""

from __future__ import annotations

from designer.core.package import deploy
from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput
from designer.core.skill.compiled import CompiledSkill


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    return PartOutput({"README.md": package_readme(compiled, context).encode()})


def package_readme(compiled: CompiledSkill, context: ExportContext) -> str:
    s = compiled.skill.settings
    skill_id, version, package_file = context.skill_id, context.version, context.package_file
    params, env, providers, runtime_image = (
        context.params,
        context.env,
        context.providers,
        context.runtime_image,
    )
    param_args = " ".join(f"--param {name}=VALUE" for name, p in params.items() if p.default is None)
    lines = [
        f"# {s.name} ({skill_id} {version})",
        "",
        s.description or "A skill package written by Skill Designer.",
        "",
        f"Device acceleration: {s.acceleration} (execution providers: {', '.join(providers)}).",
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
    if params:
        lines += [
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
    if env:
        lines += [
            "## Secrets",
            "",
            "No secret is in this package. Set these environment variables on the device:",
            "",
            "| variable | node | parameter | read by |",
            "|---|---|---|---|",
        ]
        lines += [f"| `{name}` | {e.node} | {e.param} | {e.used_by} |" for name, e in sorted(env.items())]
        lines.append("")
    runtime_secrets = context.runtime_secrets()
    literals = " ".join(f"--from-literal={name}=..." for name in sorted(env))
    lines += [
        "## Deploy with Azure IoT Edge",
        "",
        f"Copy `{package_file}` to `/var/lib/skill-designer/packages/` on each device, fill the `${{...}}`",
        "values of `deploy/iotedge/deployment.json` (for example with `envsubst`), then:",
        "",
        "```sh",
        "envsubst < deploy/iotedge/deployment.json > deployment.filled.json",
        "az iot edge set-modules --hub-name HUB --device-id DEVICE --content deployment.filled.json",
        "```",
        "",
        f"The runtime module runs `{runtime_image}`; build it from `packaging/` in the Skill Designer",
        "repository and push it to your registry (add `registryCredentials` for a private one).",
        "",
        "## Deploy with Kubernetes",
        "",
        f"Put `{package_file}` in `/var/lib/skill-designer/packages/` on the nodes, then:",
        "",
        "```sh",
    ]
    if env:
        lines.append(f"kubectl create secret generic {skill_id}-secrets {literals}")
    lines += [
        "kubectl apply -f deploy/k8s/",
        "```",
        "",
        f"`deploy/k8s/params.yaml` holds the parameters ({skill_id}-params); "
        + (
            f"the runtime reads {', '.join(runtime_secrets)} from the Secret."
            if runtime_secrets
            else "the runtime needs no secret."
        ),
    ]
    extra = sorted({f"{c.name}.yaml" for c in deploy.containers(compiled)} - {"params.yaml", "runtime.yaml"})
    if extra:
        lines.append(f"Each gRPC container gets a Deployment and a Service: {', '.join(extra)}.")
    lines += [
        "",
        "## POSS / KAN",
        "",
        "`deploy/kan/skill.yaml` is the `Skill` resource (ai.symphony/v1) for the parts KAN can express; its",
        "comments list what it cannot.",
        "",
    ]
    return "\n".join(lines)
