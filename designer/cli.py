"""`skill-designer`: one subcommand per task; with none, help (the GUI will open here once it exists)."""

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
