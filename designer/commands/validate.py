"""`skill-designer validate FILE...`: every problem, located; exit 0 clean, 1 errors, 2 unreadable."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.commands.common import model_library
from designer.core.skill import SkillFileError, load_skill, validate_skill
from designer.core.skill.validate import check_files

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check skill files",
        description="Check skill files against every graph and parameter rule. Exit status: 0 no "
        "errors (warnings allowed), 1 errors found, 2 a file could not be read or parsed.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE", help="*.skill.json or *.deploy.json files")
    parser.add_argument("--json", action="store_true", help="print one JSON document for machines")
    parser.add_argument(
        "--target",
        action="store_true",
        help="check for the skill's device (its acceleration's providers and operators), not this machine",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    report = []
    models = model_library()
    for path in args.files:
        entry: dict = {"file": path}
        if path.endswith(".deploy.json"):  # every skill on every camera, located
            status = max(status, _validate_deployment(path, entry, models, args))
            report.append(entry)
            continue
        try:
            skill = load_skill(path)
        except SkillFileError as exc:
            status = EXIT_UNREADABLE
            entry["error"] = {"message": exc.message, "line": exc.line, "column": exc.column}
            if not args.json:
                print(exc.located(), file=sys.stderr)
            report.append(entry)
            continue
        problems = validate_skill(skill, models, target=args.target)
        problems += check_files(skill, Path(path).resolve().parent)
        if args.target:
            from designer.core.package.export import target_problems

            problems += target_problems(skill, Path(path).resolve().parent, models)
        entry["problems"] = [p.to_dict() for p in problems]
        if any(p.is_error for p in problems) and status == EXIT_OK:
            status = EXIT_ERRORS
        if not args.json:
            for p in problems:
                print(f"{path}: {p.located()}: {p.severity} {p.code}: {p.message}")
        report.append(entry)
    if args.json:
        print(json.dumps({"files": report, "exit_code": status}, indent=2, allow_nan=False))
    elif status == EXIT_OK:
        print(f"{len(args.files)} file(s) valid", file=sys.stderr)
    return status


def _validate_deployment(path: str, entry: dict, models: object, args: argparse.Namespace) -> int:
    from designer.core.deployment import DeploymentFileError, load_deployment
    from designer.core.deployment.check import check_deployment

    try:
        deployment = load_deployment(path)
    except DeploymentFileError as exc:
        entry["error"] = {"message": exc.message, "line": None, "column": None}
        if not args.json:
            print(str(exc), file=sys.stderr)
        return EXIT_UNREADABLE
    problems = check_deployment(deployment, Path(path).resolve().parent, models, target=args.target)
    entry["problems"] = [{"where": p.where, "severity": p.severity, "message": p.message} for p in problems]
    if not args.json:
        for p in problems:
            print(p.line(path))
    return EXIT_ERRORS if any(p.is_error for p in problems) else EXIT_OK
