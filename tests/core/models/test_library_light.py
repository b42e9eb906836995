"""Opening, listing and describing the model library loads neither numpy, onnx nor onnxruntime:
their first import holds the interpreter for most of a second, and the designer opens the library
on a worker while the window is in use (issue 19, item 7)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PROBE = """
import json, sys
from designer.core.models.open import open_model_library
library = open_model_library(print)
entries = library.list()
description = library.describe(entries[0].id)
heavy = sorted(m for m in ("numpy", "onnx", "onnxruntime", "cv2", "azure.storage.blob") if m in sys.modules)
print(json.dumps({
    "heavy": heavy,
    "ids": [e.id for e in entries],
    "ms": entries[0].inference_ms,
    "labels": list(description.labels[:3]),
    "accelerations": sorted(description.accelerations),
}))
"""


def _probe(data: Path) -> dict:
    env = {"SKILL_DESIGNER_DATA": str(data), "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_first_use_registers_the_sample_without_loading_the_heavy_modules(tmp_path):
    first = _probe(tmp_path)  # a fresh library: the bundled sample is added (in a child process)
    assert first["heavy"] == []
    assert first["ids"] == ["yolov3-tiny-coco"]
    assert first["ms"] is not None and first["ms"] > 0  # inspected and timed all the same
    assert first["labels"] == ["person", "bicycle", "car"]
    assert "CPU" in first["accelerations"]
    again = _probe(tmp_path)  # an existing library
    assert again["heavy"] == []
    assert again["ids"] == ["yolov3-tiny-coco"]
