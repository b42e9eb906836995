#!/usr/bin/env bash
# Write the runtime image's dependency locks (exact versions and hashes, for Linux x64 and ARM64,
# Python 3.11) from pyproject.toml: one per onnxruntime build the Dockerfile's variants use.
# Needs uv (pip install uv). Run it after changing the dependencies in pyproject.toml;
# tests/core/package/test_runtime_image.py fails while a lock no longer satisfies pyproject.toml.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/runtime
lock() {  # lock FILE ONNXRUNTIME
    local file=$1 runtime=$2 input
    input=$(mktemp)
    ONNXRUNTIME=$runtime python3 "$here/requirements.py" pyproject.toml > "$input"
    # The Dockerfile builds the project itself without build isolation: its backend, locked too.
    printf 'setuptools>=69\nwheel\n' >> "$input"
    # NVIDIA's Jetson wheel is installed without its dependencies: lock them here.
    if [ "$runtime" = none ]; then printf 'flatbuffers\ncoloredlogs\nsympy\npackaging\n' >> "$input"; fi
    uv pip compile "$input" --universal --python-version 3.11 --generate-hashes --no-header --quiet \
        --output-file "$here/$file"
    rm -f "$input"
}
lock requirements.lock onnxruntime
lock requirements-cuda.lock onnxruntime-gpu
lock requirements-openvino.lock onnxruntime-openvino
lock requirements-jetson.lock none  # onnxruntime-gpu for Jetson comes from NVIDIA (ONNXRUNTIME_WHEEL)
