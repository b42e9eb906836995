"""`skill-designer nodes` and docs/nodes.md, both generated from the catalog."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

from designer.cli import main
from designer.commands.nodes import README_SECTION, README_TABLE_COMMAND, readme_table
from designer.core.skill.catalog import SPECS, get_spec
from designer.core.skill.reference import reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def out(capsys, *argv: str) -> tuple[int, str]:
    code = main(["nodes", *argv])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_nodes_lists_every_type_grouped_with_its_description(capsys):
    code, text = out(capsys)
    assert code == 0
    for spec in SPECS:
        assert spec.type_id in text and spec.description in text
    assert text.index("Import:") < text.index("Process:") < text.index("Export:")


def test_nodes_type_lists_every_parameter_with_what_an_author_needs(capsys):
    code, text = out(capsys, "grpc-endpoint")
    assert code == 0
    assert "endpoint_url" in text and "per device" in text and "timeout_s" in text and "2.0" in text
    code, text = out(capsys, "camera@1")
    assert "password" in text and "secret" in text
    code, text = out(capsys, "model@1")
    for name in get_spec("model@1").params.model_fields:
        assert f"  {name}  (" in text
    assert "0..100" in text  # confidence_threshold's range
    assert "letterbox" in text  # resize's choices


def test_nodes_json_for_machines(capsys):
    code, text = out(capsys, "--json")
    assert code == 0 and [n["type"] for n in json.loads(text)] == [s.type_id for s in SPECS]
    code, text = out(capsys, "camera", "--json")
    data = json.loads(text)
    password = next(p for p in data["parameters"] if p["name"] == "password")
    assert password["secret"] and password["per_device"] and password["default"] == ""
    source = next(p for p in data["parameters"] if p["name"] == "source")
    assert source["required"] and not source["secret"]


def test_an_unknown_type_lists_the_known_ones(capsys):
    code, text = out(capsys, "nosuch")
    assert code == 2 and "model@1" in text


def test_docs_nodes_md_is_current():
    current = (ROOT / "docs" / "nodes.md").read_text(encoding="utf-8")
    assert current.strip() == reference_markdown().strip(), (
        "docs/nodes.md is stale: run `skill-designer nodes --markdown > docs/nodes.md`"
    )
    assert all(f"(`{spec.type_id}`)" in current for spec in SPECS)


def _readme_table(text: str, heading: str) -> str:
    """The first Markdown table after ``heading``: its contiguous ``|`` lines."""
    after = text.split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(after) if line.startswith("|"))
    rows = [line for line in itertools.takewhile(lambda line: line.startswith("|"), after[start:])]
    return "\n".join(rows)


def test_readme_node_table_is_current(capsys):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert main(["nodes", "--markdown-table"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed == readme_table()
    assert _readme_table(readme, README_SECTION) == readme_table(), (
        f"the README's node table is stale: replace it with the output of `{README_TABLE_COMMAND}`"
    )
    assert {s.type_id for s in SPECS} <= set(re.findall(r"`([a-z-]+@\d+)`", readme_table()))
