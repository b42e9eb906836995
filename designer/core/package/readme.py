"""The README.md inside a package: how to run and deploy this very skill."""

from __future__ import annotations

from designer.core.package.manifest import EnvInfo, ParamInfo
from designer.core.skill.document import Skill


def package_readme(
    *,
    skill: Skill,
    skill_id: str,
    version: str,
    package_file: str,
    params: dict[str, ParamInfo],
    env: dict[str, EnvInfo],
    providers: list[str],
    runtime_image: str,
    containers: dict[str, list[dict]],
) -> str:
    s = skill.settings
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
    runtime_secrets = [name for name, e in sorted(env.items()) if e.used_by == "runtime"]
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
    extra = sorted(set(containers) - {"params.yaml", "runtime.yaml"})
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
