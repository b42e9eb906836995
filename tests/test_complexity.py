"""No function in designer/ is harder to follow than cyclomatic complexity 20 (radon's count,
boolean operators included): a bigger one is split into named steps. Generated stubs aside."""

from __future__ import annotations

from pathlib import Path

from radon.complexity import cc_visit

ROOT = Path(__file__).resolve().parents[1]
LIMIT = 20


def test_no_function_in_the_project_is_above_the_complexity_limit():
    over = []
    for path in sorted((ROOT / "designer").rglob("*.py")):
        if "_pb2" in path.name:
            continue
        for block in cc_visit(path.read_text(encoding="utf-8")):
            if block.complexity > LIMIT:
                over.append(f"{path.relative_to(ROOT)}:{block.lineno} {block.name} ({block.complexity})")
    assert over == [], "split these into named steps:\n" + "\n".join(over)
