"""`skill-designer import PACKAGE.zip`: a package back into an editable skill, models into the library."""

from __future__ import annotations

import argparse
import json
import sys

from designer.commands.common import model_library
from designer.core.package import PackageError, import_package
from designer.core.secrets import safe_message


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import",
        help="open a skill package as a skill file",
        description="Verify a package, unpack it into a new folder under --into, add its models to the model "
        "library and write an editable skill file there. Exit status: 0 imported, 1 refused.",
    )
    parser.add_argument("package", metavar="PACKAGE.zip")
    parser.add_argument(
        "--into", default=".", metavar="FOLDER", help="where the skill's folder goes (default .)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        skill_path, report = import_package(args.package, args.into, model_library())
    except (PackageError, OSError) as exc:
        print(f"error: {safe_message(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
        return 0
    for note in report.notes:
        print(f"note: {safe_message(note)}", file=sys.stderr)
    if report.models_added:
        print(f"models added to the library: {', '.join(report.models_added)}")
    if report.models_reused:
        print(f"models already in the library: {', '.join(report.models_reused)}")
    print(safe_message(f"wrote {skill_path}"))
    return 0
