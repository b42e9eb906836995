"""The runtime image runs `skill-designer run /package.zip` as uid 10001 in /data. Run here as that
user (``setpriv``) over the output folders a device gives it: a folder Docker binds from the host
(created owned by root) fails, which is why the deploy files never bind one; the named volume
(Docker copies the image's /data, owned by 10001) and the Kubernetes claim (``fsGroup: 10001``)
work, and the runtime touches the health file the probes read."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from designer.core.package import export_package
from designer.core.skill import Skill, load_skill, save_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.document import Settings

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "resources" / "models"
CLIP = ROOT / "resources" / "video" / "vtest.avi"
UID = 10001
SITE = next(p for p in sys.path if p.endswith("site-packages"))


def _reachable_by_others(path: Path) -> bool:
    """Whether any user can run ``path`` (every folder above it searchable by others)."""
    path = path.resolve()
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def _interpreter() -> str:
    """This Python if uid 10001 may run it, else the system's of the same version."""
    if _reachable_by_others(Path(sys.executable)):
        return sys.executable
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if system.exists() and _reachable_by_others(system):
        return str(system)
    pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} that uid {UID} may run")


pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="setpriv to uid 10001 needs root"),
    pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) not installed"),
]


@pytest.fixture(scope="module")
def package() -> Iterator[Path]:
    """The package, in a folder uid 10001 may read (pytest's own temporary folders are root's)."""
    base = Path(tempfile.mkdtemp(prefix="skill-uid-"))
    try:
        yield _package(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def tmp_path(package: Path) -> Path:
    """A fresh folder uid 10001 can reach (pytest's ``tmp_path`` sits under a 0700 folder)."""
    return Path(tempfile.mkdtemp(dir=package.parent))


def _package(folder: Path) -> Path:
    os.chmod(folder, 0o755)
    shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
    shutil.copy2(MODELS / "color-classifier.labels.txt", folder / "colours.txt")
    skill = Skill(settings=Settings(name="Uid check", fps=30))
    add_node(skill, "camera@1", "camera", source="$param(camera)")
    add_node(skill, "model@1", "colour", model_path="colours.onnx", labels_path="colours.txt")
    add_node(skill, "insights-log@1", "log", path="insights.jsonl")
    chain(skill, "camera", "colour", "log")
    save_skill(skill, folder / "uid.skill.json")
    out = folder / "uid.zip"
    export_package(load_skill(folder / "uid.skill.json"), folder / "uid.skill.json", out)
    shutil.copy2(CLIP, folder / "clip.avi")
    for path in folder.iterdir():
        os.chmod(path, 0o644)
    return out


def _run_as_runtime(package: Path, data: Path) -> subprocess.CompletedProcess:
    """``skill-designer run /package.zip`` as the image runs it: uid/gid 10001, in /data."""
    code = "import sys; from designer.cli import main; sys.exit(main())"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(data),
        "PYTHONPATH": f"{ROOT}{os.pathsep}{SITE}",
        "SKILL_DESIGNER_DATA": str(data / ".skill-designer"),
        "SKILL_HEALTH_FILE": str(data / "health"),
        "SKILL_PARAM_CAMERA": str(package.parent / "clip.avi"),
        "TMPDIR": str(data),
    }
    args = [
        _interpreter(),
        "-c",
        code,
        "run",
        str(package),
        "--max-frames",
        "4",
        "--realtime",
        "off",
        "--quiet",
    ]
    setpriv = ["setpriv", f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]
    return subprocess.run(
        [*setpriv, *args], cwd=data, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_a_root_owned_host_folder_is_refused_in_one_line(package, tmp_path):
    data = tmp_path / "bound"  # what Docker creates for a missing bind source: root's, 0755
    data.mkdir(mode=0o755)
    os.chmod(tmp_path, 0o755)
    result = _run_as_runtime(package, data)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "cannot open the insights log" in result.stderr and "Permission denied" in result.stderr
    assert not (data / "insights.jsonl").exists()


def test_the_deploy_files_give_the_runtime_a_folder_it_owns(package, tmp_path):
    with zipfile.ZipFile(package) as archive:
        edge = json.loads(archive.read("deploy/iotedge/deployment.json"))
        k8s = archive.read("deploy/k8s/runtime.yaml").decode()
    runtime = edge["modulesContent"]["$edgeAgent"]["properties.desired"]["modules"]["uid-check"]
    options = json.loads(
        "".join(v for k, v in sorted(runtime["settings"].items()) if k.startswith("createOptions"))
    )
    binds = options["HostConfig"]["Binds"]
    data_bind = next(b for b in binds if b.split(":")[1] == "/data")
    assert not data_bind.startswith("/"), "a host folder would be created owned by root"
    assert "fsGroup: 10001" in k8s and "runAsUser: 10001" in k8s
    dockerfile = (ROOT / "packaging" / "runtime" / "Dockerfile").read_text()
    assert "USER 10001" in dockerfile and "chown 10001:10001 /data" in dockerfile

    os.chmod(tmp_path, 0o755)
    volume = tmp_path / "volume"  # the named volume: a copy of the image's /data, owned by 10001
    volume.mkdir(mode=0o755)
    os.chown(volume, UID, UID)
    claim = tmp_path / "claim"  # the claim with fsGroup 10001: group-owned, setgid, group-writable
    claim.mkdir()
    os.chown(claim, 0, UID)
    os.chmod(claim, 0o2775)
    for data in (volume, claim):
        result = _run_as_runtime(package, data)
        assert result.returncode == 0, result.stderr
        lines = (data / "insights.jsonl").read_text().splitlines()
        assert len(lines) == 4 and all(json.loads(line) for line in lines)
        assert (data / "health").exists()  # the probes' file, touched while frames flow
