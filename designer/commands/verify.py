"""`skill-designer verify PACKAGE.zip`: the manifest and every file's checksum."""

from __future__ import annotations

import argparse
import json
import sys

from designer.core.package import PackageError, verify_package
from designer.core.secrets import safe_message


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "verify",
        help="check a skill package",
        description="Check a package's manifest, its entries (no paths outside the package, no links, sizes "
        "within limits) and every file's SHA-256. Exit status: 0 intact, 1 refused.",
    )
    parser.add_argument("package", metavar="PACKAGE.zip")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        manifest = verify_package(args.package)
    except PackageError as exc:
        if args.json:
            print(
                json.dumps(
                    {"package": args.package, "ok": False, "error": safe_message(str(exc))},
                    indent=2,
                    allow_nan=False,
                )
            )
        else:
            print(f"error: {safe_message(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        print(
            json.dumps(
                {"package": args.package, "ok": True, "manifest": manifest.model_dump()},
                indent=2,
                allow_nan=False,
            )
        )
        return 0
    s = manifest.skill
    lines = [
        f"{args.package}: intact: {s.name} ({s.id} {s.version}), {len(manifest.files)} files checked, "
        f"made by Skill Designer {manifest.designer_version} at {manifest.created_at}",
        f"  acceleration: {manifest.acceleration} ({', '.join(manifest.execution_providers)})",
    ]
    for name, param in manifest.params.items():
        default = repr(param.default) if param.default is not None else "(required)"
        lines.append(f"  parameter {name}: --param {name}=VALUE or ${param.env}; default {default}")
    for name, env in manifest.env.items():
        lines.append(f"  environment {name}: {env.description} of node {env.node} ({env.used_by})")
    for line in lines:  # every value comes from the package: masked and escaped
        print(safe_message(line))
    return 0
