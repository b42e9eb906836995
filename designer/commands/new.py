"""`skill-designer new NAME -o FILE`: a minimal valid skill to start from."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from designer.commands.common import refuse_overwrite
from designer.core.skill import save_skill, validate_skill
from designer.core.skill.build import minimal_skill


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new",
        help="write a minimal skill",
        description="Write a minimal valid skill: Camera Input -> Filter -> Insights Log.",
    )
    parser.add_argument("name", help="the skill's name")
    parser.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write it")
    parser.add_argument("--source", default="0", help="camera source (webcam index, URL or file)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    reason = refuse_overwrite(output, force=args.force)
    if reason:
        print(reason, file=sys.stderr)
        return 1
    if not args.name.strip():
        print("the skill needs a name", file=sys.stderr)
        return 2
    skill = minimal_skill(args.name, source=args.source)
    errors = [p for p in validate_skill(skill) if p.is_error]
    for p in errors:
        print(f"{p.located()}: {p.severity} {p.code}: {p.message}", file=sys.stderr)
    if errors:
        return 2
    try:
        save_skill(skill, output)
    except OSError as exc:
        print(f"{output}: cannot write: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
