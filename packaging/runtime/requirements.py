"""Print the runtime image's requirements: the project's dependencies without the desktop GUI.

The device runs `skill-designer run` only: PySide6 and NodeGraphQt (about 250 MB) stay out.
ONNXRUNTIME swaps the onnxruntime build (onnxruntime-gpu for CUDA/TensorRT, onnxruntime-openvino
for Intel; ``none`` leaves it out). lock.sh turns this list into the hashed locks the image
installs. Reads pyproject.toml, so the image never drifts from the project.
"""

from __future__ import annotations

import os
import re
import sys
import tomllib
from pathlib import Path

GUI_ONLY = {"pyside6-essentials", "pyside6", "nodegraphqt", "setuptools"}


def main() -> int:
    pyproject = Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")
    deps = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"]
    runtime = os.environ.get("ONNXRUNTIME", "onnxruntime")
    for dep in deps:
        name = re.split(r"[<>=!~;\[ ]", dep, maxsplit=1)[0].strip().lower()
        if name in GUI_ONLY:
            continue
        if name == "onnxruntime" and runtime == "none":  # installed apart (Jetson: NVIDIA's wheel)
            continue
        if name == "onnxruntime" and runtime != "onnxruntime":
            dep = runtime + dep[len("onnxruntime") :]
        print(dep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
