"""Read class labels from a label file or from the ONNX metadata (never with eval)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from designer.core.models.errors import LabelError

METADATA_LABEL_KEYS = ("names", "labels", "classes")


def read_label_file(path: str | Path) -> list[str]:
    """One label per line, UTF-8 (a BOM is tolerated); blank lines are skipped."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise LabelError(f"label file {path}: cannot read it ({exc.strerror or exc})") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise LabelError(
            f"label file {path}: line {line} is not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
            "save the file as UTF-8, one label per line"
        ) from exc
    labels = [line.strip() for line in text.splitlines() if line.strip()]
    if not labels:
        raise LabelError(f"label file {path}: no labels in it; write one label per line")
    return labels


def labels_from_metadata(metadata: dict[str, str], where: str) -> list[str] | None:
    """Labels from metadata ``names``/``labels``/``classes``: a JSON list, a Python dict or
    list literal (ultralytics writes ``{0: 'person', ...}``) or a comma-separated list."""
    for key in METADATA_LABEL_KEYS:
        value = metadata.get(key)
        if value is not None and value.strip():
            return _parse_label_value(value.strip(), f"{where}: metadata '{key}'")
    return None


def _parse_label_value(value: str, where: str) -> list[str]:
    if value[0] in "[{":
        parsed = _parse_literal(value)
        if isinstance(parsed, list) and all(isinstance(v, str) for v in parsed):
            return [v.strip() for v in parsed]
        if isinstance(parsed, dict):
            return _labels_from_dict(parsed, where)
        raise LabelError(
            f"{where}: cannot read labels from {value[:80]!r}; expected a list of strings, "
            "a dict of index -> name, or comma-separated names; or pass a label file"
        )
    return [name.strip() for name in value.split(",") if name.strip()]


def _parse_literal(value: str) -> object:
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return None


def _labels_from_dict(mapping: dict, where: str) -> list[str]:
    try:
        indexed = {int(k): str(v).strip() for k, v in mapping.items()}
    except (TypeError, ValueError) as exc:
        raise LabelError(f"{where}: dict keys must be class indices ({exc})") from exc
    if sorted(indexed) != list(range(len(indexed))):
        raise LabelError(
            f"{where}: class indices must run 0..{len(indexed) - 1} without gaps; pass a label file instead"
        )
    return [indexed[i] for i in range(len(indexed))]
