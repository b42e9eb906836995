"""Node types are defined once, in designer/core/skill/catalog/.

Nothing outside the catalog compares a node type's name: the palette, forms, validation,
engine, exporter and KAN codec read what the spec carries (role, ports, field markers,
runtime, icon). Adding a node type is then one catalog module, one runtime module and one line
in the catalog list; a ``if spec.kind == "model"`` elsewhere would be a place it forgets.

The names come from the live catalog. A type id ("model@1") is flagged anywhere; a bare kind
("model", "http") only where it is used as a node type's name: compared with a
``.kind``/``.type``/``type_id``/``spec`` expression, passed to a function that looks a type
up, or as a key of a dict keyed by kinds. So "model" as a log or role word, an ONNX layout's
``kind`` or an "http" URL scheme are not flagged.
"""

from __future__ import annotations

import ast
import importlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from designer.core.engine.runtime import NodeRuntime
from designer.core.skill.catalog import SPECS, Role

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "designer" / "core" / "skill" / "catalog"
GENERATED = re.compile(r"_pb2(_grpc)?\.py$")

KINDS = frozenset(spec.kind for spec in SPECS)
TYPE_IDS = frozenset(spec.type_id for spec in SPECS)

# Names that make an expression "a node type": node.type, spec.kind, type_id, get_spec(...).kind
TYPE_WORDS = ("kind", "type_id", "spec", "node_type")
TYPE_ATTRS = {"kind", "type", "type_id", "spec", "node_type", "family"}
LOOKUP_CALL = re.compile(r"spec|kind|type_id|node_type|^newest$", re.IGNORECASE)


def _sources() -> list[Path]:
    files = sorted(
        p
        for p in (ROOT / "designer").rglob("*.py")
        if not p.is_relative_to(CATALOG) and not GENERATED.search(p.name)
    )
    assert files, "no sources found: did the package move?"
    return files


def _name(expr: ast.expr) -> str:
    """The identifier an expression ends in: ``a.b.c`` -> c, ``f(x)`` -> f, ``x[0]`` -> x."""
    if isinstance(expr, ast.Name):
        return expr.id
    if isinstance(expr, ast.Attribute):
        return expr.attr
    if isinstance(expr, ast.Call):
        return _name(expr.func)
    if isinstance(expr, ast.Subscript):
        return _name(expr.value)
    return ""


def is_type_expr(expr: ast.expr) -> bool:
    """``node.type``, ``spec.kind``, ``type_id``, ``node.type.split("@")[0]``, ``get_spec(t)``..."""
    if isinstance(expr, ast.Attribute):
        return expr.attr in TYPE_ATTRS or is_type_expr(expr.value)
    if isinstance(expr, ast.Name):
        return any(word in expr.id.lower() for word in TYPE_WORDS)
    if isinstance(expr, ast.Call):
        return bool(LOOKUP_CALL.search(_name(expr.func))) or is_type_expr(expr.func)
    if isinstance(expr, ast.Subscript):
        return is_type_expr(expr.value)
    return False


def is_spec_kind(expr: ast.expr) -> bool:
    """``spec.kind``, ``node.spec.kind``, ``get_spec(t).kind``: the kind of a node spec."""
    if not (isinstance(expr, ast.Attribute) and expr.attr == "kind"):
        return False
    return "spec" in _name(expr.value).lower()


def _strings(expr: ast.expr) -> list[str]:
    """The string constants an operand holds: itself, or the items of a literal tuple/list/set."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.Tuple | ast.List | ast.Set):
        return [s for item in expr.elts for s in _strings(item)]
    return []


def violations(tree: ast.AST) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in TYPE_IDS:
            yield node.lineno, f"the type id {node.value!r}"
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            words = [s for op in operands for s in _strings(op)]
            # a spec compared with other words ("yolov5") is not a node spec (a model's layout)
            if any(is_spec_kind(op) for op in operands) and all(w in KINDS for w in words):
                yield node.lineno, "a comparison of a spec's kind"
            elif any(is_type_expr(op) for op in operands):
                for op in operands:
                    yield from ((node.lineno, f"the kind {s!r} compared") for s in _strings(op) if s in KINDS)
        elif isinstance(node, ast.Match) and is_spec_kind(node.subject):
            yield node.lineno, "a match on a spec's kind"
        elif isinstance(node, ast.Call) and LOOKUP_CALL.search(_name(node.func)):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                yield from ((node.lineno, f"the kind {s!r} looked up") for s in _strings(arg) if s in KINDS)
        elif isinstance(node, ast.Dict):
            keys = [k.value for k in node.keys if isinstance(k, ast.Constant) and isinstance(k.value, str)]
            if len(keys) >= 2 and all(k in KINDS for k in keys):
                yield node.lineno, f"a dict keyed by kinds {sorted(keys)}"


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_node_type_name_outside_the_catalog(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = [f"{path.relative_to(ROOT)}:{line}: {what}" for line, what in violations(tree)]
    assert found == [], "read what the spec carries (role, ports, field markers) instead:\n" + "\n".join(
        found
    )


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ('if node.type == "model@1": pass', True),
        ('if spec.kind == "camera": pass', True),
        ("if node.spec.kind == other: pass", True),
        ('if get_spec(t).kind in ("mqtt", "http"): pass', True),
        ('if node.type.split("@")[0] == "zone": pass', True),
        ('spec = newest("tracker")', True),
        ('ICONS = {"camera": 1, "model": 2}', True),
        ('log.info("model")', False),
        ('if url.scheme == "http": pass', False),
        ('if layout.kind == "yolo": pass', False),
        ('if spec.kind in ("yolov5", "yolov8"): pass', False),
        ('if role == "model": pass', False),
        ('ROLES = {"model": 1, "person": 2}', False),
    ],
)
def test_the_check_flags_type_names_and_not_words(source: str, flagged: bool):
    assert bool(list(violations(ast.parse(source)))) is flagged


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type_id)
def test_every_runtime_imports_and_is_a_node_runtime(spec):
    if not spec.runtime:
        assert spec.role is Role.SOURCE, f"{spec.type_id}: only the source may have no runtime"
        return
    module, _, name = spec.runtime.partition(":")
    assert name, f"{spec.type_id}: runtime {spec.runtime!r} is not 'module:Class'"
    runtime = getattr(importlib.import_module(module), name, None)
    assert isinstance(runtime, type) and issubclass(runtime, NodeRuntime), (
        f"{spec.type_id}: {spec.runtime} is not a NodeRuntime subclass"
    )


def test_only_the_source_has_no_runtime():
    assert [s.type_id for s in SPECS if not s.runtime] == [s.type_id for s in SPECS if s.role is Role.SOURCE]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.type_id)
def test_every_icon_names_a_drawing(spec):
    icons = pytest.importorskip("designer.ui.icons", reason="the icon set needs Qt")
    assert spec.icon in icons.GLYPHS, (
        f"{spec.type_id}: no drawing named {spec.icon!r} in designer/ui/icons.py"
    )
    assert spec.icon != "unknown", f"{spec.type_id}: the placeholder is for unknown types"
