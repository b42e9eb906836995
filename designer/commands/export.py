"""`skill-designer export SKILL -o PACKAGE.zip`: a checked, reproducible package for devices and fleets."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer import __version__
from designer.commands.common import model_library
from designer.core.secrets import safe_message
from designer.core.skill import Skill, SkillFileError, load_skill

DEFAULT_RUNTIME_IMAGE = f"skill-designer-runtime:{__version__}"  # as designer.core.package.export says


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a skill package (.zip) for devices",
        description="Validate a skill for its target device and write a package: the skill, its models, "
        "the gRPC contract, and IoT Edge, Kubernetes and KAN manifests. Secrets are moved out to "
        "environment variables. Exit status: 0 written, 1 the skill has errors, 2 bad input.",
    )
    parser.add_argument(
        "skill",
        metavar="SKILL_FILE",
        help="a *.skill.json file, or a *.deploy.json deployment (-o X.deploy.zip)",
    )
    parser.add_argument("-o", "--output", required=True, metavar="PACKAGE.zip", help="package to write")
    parser.add_argument(
        "--runtime-image",
        default=DEFAULT_RUNTIME_IMAGE,
        metavar="IMAGE",
        help=f"skill runtime container image in the manifests (default {DEFAULT_RUNTIME_IMAGE})",
    )
    parser.add_argument(
        "--default", action="append", default=[], metavar="NAME=VALUE", help="default for a $param(NAME)"
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing package")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from designer.core.package.export import ExportError, PackageError, export_package, parse_defaults

    if args.skill.endswith(".deploy.json"):  # every skill and every model once: deployment/package.py
        return _export_deployment(args)
    out = Path(args.output)
    if out.exists() and not args.force:
        print(f"error: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    if out.resolve() == Path(args.skill).resolve():
        print(f"error: {out} is the skill file itself", file=sys.stderr)
        return 2
    try:
        skill = load_skill(args.skill)
        defaults = parse_defaults(args.default)
    except SkillFileError as exc:
        print(f"error: {safe_message(exc.located())}", file=sys.stderr)
        return 2
    except ExportError as exc:
        print(f"error: {safe_message(str(exc))}", file=sys.stderr)
        return 2
    try:
        report = export_package(
            skill,
            args.skill,
            out,
            library=model_library(),
            runtime_image=args.runtime_image,
            defaults=defaults,
        )
    except ExportError as exc:
        if exc.problems:
            for problem in exc.problems:
                line = f"{args.skill}: {problem.located()}: error {problem.code}: {problem.message}"
                print(safe_message(line), file=sys.stderr)
            print(safe_message(f"error: {args.skill}: not exported: fix the errors above"), file=sys.stderr)
            return 1
        print(f"error: {safe_message(str(exc))}", file=sys.stderr)
        return 1
    except PackageError as exc:
        print(f"error: {safe_message(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        return 0
    for line in report.warnings + loopback_warnings(skill):
        print(f"warning: {safe_message(line)}", file=sys.stderr)
    for note in report.kan_notes:
        print(f"note: deploy/kan/skill.yaml: {safe_message(note)}", file=sys.stderr)
    print(
        f"wrote {out} ({report.size / 1e6:.1f} MB, {len(report.files)} files, sha256 {report.sha256[:16]}...)"
    )
    if report.required_env:
        print(f"the device must set: {', '.join(report.required_env)}")
    return 0


def loopback_warnings(skill: Skill) -> list[str]:
    """A per-device address on 127.0.0.1 (or localhost) means the device itself once deployed."""
    from designer.core.skill import compile_skill

    return [
        f"node {node_id!r} {param} is {value}: on the device this is the device itself, not this "
        "machine; set the server's address as the device reaches it (or a $param)"
        for node_id, param, value in compile_skill(skill, target=True).loopback_endpoints()
    ]


def _export_deployment(args: argparse.Namespace) -> int:
    from designer.core.deployment import DeploymentFileError
    from designer.core.deployment.package import DeploymentPackageError, export_deployment
    from designer.core.deployment.runner import DeploymentError
    from designer.core.package.export import ExportError, PackageError, parse_defaults

    out = Path(args.output)
    if out.exists() and not args.force:
        print(f"error: {out} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    try:
        report = export_deployment(
            args.skill,
            out,
            library=model_library(),
            runtime_image=args.runtime_image,
            defaults=parse_defaults(args.default),
        )
    except (DeploymentFileError, DeploymentError, DeploymentPackageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ExportError as exc:
        for problem in exc.problems:
            print(
                f"{args.skill}: {problem.located()}: error {problem.code}: {problem.message}", file=sys.stderr
            )
        print(f"error: {exc}" if not exc.problems else f"error: {args.skill}: not exported", file=sys.stderr)
        return 1
    except PackageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {
                    "path": str(report.path),
                    "skills": report.skills,
                    "models": report.models,
                    "files": report.files,
                    "sha256": report.sha256,
                    "size": report.size,
                    "model_bytes_saved": report.model_bytes_saved,
                },
                indent=2,
                allow_nan=False,
            )
        )
        return 0
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    print(
        f"wrote {out} ({report.size / 1e6:.1f} MB, {len(report.skills)} skills, {len(report.models)} models "
        f"each once, {report.model_bytes_saved / 1e6:.1f} MB of repeated models left out)"
    )
    if report.required_env:
        print(f"the device must set: {', '.join(report.required_env)}")
    return 0
