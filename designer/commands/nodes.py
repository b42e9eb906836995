"""`skill-designer nodes [TYPE]`: the node reference, from the catalog (what docs/nodes.md holds).

``--markdown-table`` prints the README's "Nodes" table, so that table is generated too (a test
compares the two) and adding a node type cannot leave the README behind.
"""

from __future__ import annotations

import argparse
import json
import sys

from designer.core.skill.catalog import SPECS, Group
from designer.core.skill.reference import find_spec, node_reference, parameter_reference, reference_markdown


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "nodes",
        help="list node types and their parameters",
        description="Without TYPE: every node type, grouped, with what it does. With TYPE (a type id "
        "such as model@1, or a kind such as model): every parameter, its type, default, allowed "
        "values and help, and whether it is a secret or a per-device $param value.",
    )
    parser.add_argument("type", nargs="?", metavar="TYPE", help="a node type: model@1, grpc-endpoint, ...")
    parser.add_argument("--json", action="store_true", help="print JSON for machines")
    parser.add_argument("--markdown", action="store_true", help="print the whole reference as Markdown")
    parser.add_argument(
        "--markdown-table",
        action="store_true",
        help=f"print the node table of the README (section {README_SECTION!r})",
    )
    parser.set_defaults(func=run)


README_SECTION = "### Nodes"
README_TABLE_COMMAND = "skill-designer nodes --markdown-table"


def readme_table() -> str:
    """The README's node table: one row per node type, in catalog order, with its first sentence."""
    rows = ["| group | node | type id | what it does |", "|---|---|---|---|"]
    for spec in SPECS:
        first = spec.description.split(". ")[0].rstrip(".") + "."
        rows.append(f"| {spec.group.value} | {spec.title} | `{spec.type_id}` | {first.replace('|', '/')} |")
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    if args.markdown_table:
        print(readme_table())
        return 0
    if args.markdown:
        print(reference_markdown())
        return 0
    if args.type is None:
        return _list(args.json)
    spec = find_spec(args.type)
    if spec is None:
        known = ", ".join(s.type_id for s in SPECS)
        print(f"unknown node type {args.type!r}; the types are: {known}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(node_reference(spec), indent=2, allow_nan=False))
        return 0
    print(f"{spec.title} ({spec.type_id}), {spec.group.value}: {spec.description}\n")
    for row in parameter_reference(spec):
        default = "required" if row["required"] else f"default {json.dumps(row['default'], allow_nan=False)}"
        marks = [
            m for m, on in (("secret", row["secret"]), ("per device: $param ok", row["per_device"])) if on
        ]
        print(f"  {row['name']}  ({row['type']}, {default}{''.join(', ' + m for m in marks)})")
        if row["choices"]:
            print(f"      one of: {', '.join(str(c) for c in row['choices'])}")
        if row["range"]:
            print(f"      allowed: {row['range']}")
        print(f"      {row['title']}. {row['help']}".rstrip())
    return 0


def _list(as_json: bool) -> int:
    if as_json:
        print(json.dumps([node_reference(s, with_params=False) for s in SPECS], indent=2, allow_nan=False))
        return 0
    for group in Group:
        print(f"{group.value}:")
        for spec in (s for s in SPECS if s.group is group):
            print(f"  {spec.type_id:<20} {spec.title}: {spec.description}")
    print("\nskill-designer nodes TYPE lists a type's parameters.")
    return 0
