#!/bin/sh
# Print the path of a Python 3.11 to build the runtime's environment with: the base image's own
# when it has one (python:3.11-slim), else a standalone CPython (python-build-standalone, which
# runs on glibc 2.17 and later) that uv installs into $UV_PYTHON_INSTALL_DIR (/opt/python).
# Usage: python.sh 3.11.14
set -eu
version=${1:?python version}
minor=${version%.*}
if command -v "python${minor}" >/dev/null 2>&1; then
    command -v "python${minor}"
    exit 0
fi
uv python install --quiet "${version}" >&2
uv python find "${version}"
