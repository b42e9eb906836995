"""`skill-designer import-kan` / `export-kan`: POSS/KAN Skill resources in and out."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from designer.commands.common import refuse_overwrite
from designer.core.skill import SkillFileError, load_skill, save_skill, validate_skill
from designer.core.skill.files import write_atomic
from designer.core.skill.kan import KanError, KanReport, dump_kan, export_kan, import_kan, load_kan_text


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "import-kan",
        help="convert a KAN Skill resource to a skill file",
        description="Convert a POSS/KAN Skill custom resource (ai.symphony/v1, YAML or JSON) into a skill.",
    )
    parser.add_argument("file", metavar="FILE", help="the Skill resource (YAML or JSON)")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="skill file to write")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file (never the input)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run_import)

    parser = subparsers.add_parser(
        "export-kan",
        help="convert a skill file to a KAN Skill resource",
        description="Write a skill as a POSS/KAN Skill custom resource (YAML), reporting what KAN "
        "cannot express.",
    )
    parser.add_argument("file", metavar="FILE", help="the *.skill.json file")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="YAML file to write")
    parser.add_argument(
        "--kan-model",
        action="append",
        default=[],
        metavar="NODE=MODEL",
        help="the KAN Model resource a model node runs (required for each model node: KAN's edge loads "
        "models from its Model resources, not from ONNX files)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file (never the input)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.set_defaults(func=run_export)


def _report(report: KanReport, output: str, as_json: bool) -> None:
    """Each note on stderr, ``warning:`` for what changes the skill or makes KAN refuse it."""
    if as_json:
        print(
            json.dumps(
                {"output": output, "notes": report.notes, "warnings": report.warnings},
                indent=2,
                allow_nan=False,
            )
        )
        return
    warnings = set(report.warnings)
    for note in report.notes:
        print(f"{'warning' if note in warnings else 'note'}: {note}", file=sys.stderr)
    print(f"wrote {output}")


def _refused(args: argparse.Namespace) -> bool:
    reason = refuse_overwrite(args.output, (args.file,), args.force)
    if reason:
        print(reason, file=sys.stderr)
    return reason is not None


def run_import(args: argparse.Namespace) -> int:
    if _refused(args):
        return 1
    try:
        if Path(args.file).exists() and not Path(args.file).is_file() and not Path(args.file).is_dir():
            print(f"{args.file}: not a regular file (a pipe, device or socket)", file=sys.stderr)
            return 2
        text = Path(args.file).read_text(encoding="utf-8-sig")
        skill, report = import_kan(load_kan_text(text, args.file))
    except UnicodeDecodeError:
        print(f"{args.file}: cannot read: not UTF-8 text; is this a KAN Skill resource?", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{args.file}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    except KanError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    try:
        save_skill(skill, args.output)
    except OSError as exc:
        print(f"{args.output}: cannot write: {exc.strerror}", file=sys.stderr)
        return 1
    _report(report, args.output, args.json)
    return 0


def run_export(args: argparse.Namespace) -> int:
    if _refused(args):
        return 1
    try:
        skill = load_skill(args.file)
        errors = [p for p in validate_skill(skill) if p.is_error]
        if errors:  # KAN would get a skill we know is broken (two nodes on one id collapse, ...)
            for p in errors:
                print(f"{args.file}: {p.located()}: {p.severity} {p.code}: {p.message}", file=sys.stderr)
            print(f"{args.file}: not exported: fix the errors above first", file=sys.stderr)
            return 1
        models = {}
        for item in args.kan_model:
            node, sep, model = item.partition("=")
            if not sep or not node.strip() or not model.strip():
                print(
                    f"--kan-model {item!r}: use NODE=MODEL (a model node id and a KAN Model name)",
                    file=sys.stderr,
                )
                return 2
            models[node.strip()] = model.strip()
        resource, report = export_kan(skill, models=models)
        if report.refusals:  # KAN would refuse it or fail to run it: write nothing
            if args.json:
                body = {"output": None, "refused": report.refusals, "notes": report.notes}
                print(json.dumps({**body, "warnings": report.warnings}, indent=2, allow_nan=False))
            else:
                refused = set(report.refusals)
                for note in report.notes:
                    kind = "error" if note in refused else "warning" if note in report.warnings else "note"
                    print(f"{kind}: {note}", file=sys.stderr)
            print(
                f"{args.file}: not exported: KAN would refuse or could not run it (errors above)",
                file=sys.stderr,
            )
            return 1
        write_atomic(args.output, dump_kan(resource))
    except SkillFileError as exc:
        print(exc.located(), file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"{args.output}: cannot write: {exc.strerror}", file=sys.stderr)
        return 1
    _report(report, args.output, args.json)
    return 0
