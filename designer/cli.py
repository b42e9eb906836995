"""`skill-designer`: one subcommand per task; with none (or a skill or deployment file), the designer."""

from __future__ import annotations

import argparse
import importlib
import sys

from designer import __version__
from designer.commands import COMMANDS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skill-designer",
        description="Design, preview and ship edge-AI video skills.",
    )
    parser.add_argument("--version", action="version", version=f"skill-designer {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args_list = sys.argv[1:] if argv is None else argv
    if not args_list or (len(args_list) == 1 and args_list[0].endswith((".skill.json", ".deploy.json"))):
        from designer.ui.app import main as designer_main

        return designer_main(args_list)
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
