"""A package is confined (issue 17, section 1): what ``verify``, ``run`` and ``import`` do with
packages crafted by an attacker (hashes made to match), as a user runs the commands."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from designer.core.package import export_package
from designer.core.package.runner import LOCK_NAME, TEMP_PREFIX, sweep_stale
from designer.core.skill import Skill, load_skill, save_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.document import Settings
from tests.core.package.craft import CLI, cli, craft, entries, node, one_line_refusal

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "resources" / "models"
CLIP = ROOT / "resources" / "video" / "vtest.avi"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("confined")
    shutil.copy2(MODELS / "color-classifier.onnx", folder / "colours.onnx")
    shutil.copy2(MODELS / "color-classifier.labels.txt", folder / "colours.txt")
    skill = Skill(settings=Settings(name="Colour check", fps=30))
    add_node(skill, "camera@1", "camera", source="$param(camera)")
    add_node(skill, "model@1", "colour", model_path="colours.onnx", labels_path="colours.txt")
    add_node(skill, "insights-log@1", "log", path="$param(log)")
    chain(skill, "camera", "colour", "log")
    path = folder / "colours.skill.json"
    save_skill(skill, path)
    return path


@pytest.fixture(scope="module")
def package(work) -> Path:
    out = work.parent / "colours.zip"
    export_package(load_skill(work), work, out, defaults={"log": "colours.jsonl"})
    return out


def test_the_package_as_exported_is_intact(package):
    result = cli("verify", str(package))
    assert result.returncode == 0, result.stderr


# -- the skill reads only its package, writes only its output folder --------------------------

ESCAPES = [
    ("log", "path", "/tmp/owned.jsonl", "is an absolute path"),
    ("log", "path", "../../owned.jsonl", "climbs out with '..'"),
    ("log", "path", "~/owned.jsonl", "starts with '~'"),
    ("colour", "labels_path", "/etc/passwd", "is an absolute path"),
    ("colour", "labels_path", "models/../../../etc/passwd", "climbs out with '..'"),
    ("colour", "labels_path", "README.md.missing", "is not a file of the package"),
    ("colour", "model_path", "/usr/lib/model.onnx", "is an absolute path"),
    ("camera", "source", "/home/someone/private.mp4", "is an absolute path"),
]


@pytest.mark.parametrize(("node_id", "param", "value", "reason"), ESCAPES)
def test_verify_run_and_import_refuse_a_skill_reaching_outside(
    package, tmp_path, node_id, param, value, reason
):
    def change(document: dict) -> None:
        node(document, node_id)["params"][param] = value

    bad = craft(package, tmp_path / "bad.zip", skill=change)
    for command in (
        ["verify", str(bad)],
        ["run", str(bad), "--source", str(CLIP), "--max-frames", "1", "--quiet"],
        ["import", str(bad), "--into", str(tmp_path / "into")],
    ):
        line = one_line_refusal(cli(*command, cwd=tmp_path))
        assert f"node {node_id}, parameter {param}" in line and reason in line, line
    assert not (tmp_path / "into").exists() or not any((tmp_path / "into").iterdir())
    assert not (Path("/tmp/owned.jsonl")).exists()


def test_a_param_default_that_escapes_is_refused_too(package, tmp_path):
    def change(meta: dict) -> None:
        meta["params"]["log"]["default"] = "/var/tmp/owned.jsonl"

    bad = craft(package, tmp_path / "bad.zip", manifest=change)
    line = one_line_refusal(cli("verify", str(bad)))
    assert "node log, parameter path (its $param default): '/var/tmp/owned.jsonl' is an absolute path" in line


def test_a_value_the_device_gives_is_its_own_choice(package, tmp_path):
    """--param is the operator's: a log outside the working folder is allowed when asked for."""
    target = tmp_path / "elsewhere" / "log.jsonl"
    target.parent.mkdir()
    result = cli(
        "run", str(package), "--source", str(CLIP), "--max-frames", "2", "--realtime", "off", "--quiet",
        "--param", f"log={target}", "--param", "camera=0", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert target.is_file()


# -- import ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "skill_id", ["../../x", "/some/abs/path", "a/b", "..", "UPPER", "x" * 80, "bad\x1bid"]
)
def test_import_and_verify_refuse_an_id_that_is_not_a_slug(package, tmp_path, skill_id):
    victim = tmp_path / "x.skill.json"
    victim.write_text("mine", encoding="utf-8")
    into = tmp_path / "a" / "b"
    into.mkdir(parents=True)

    def change(meta: dict) -> None:
        meta["skill"]["id"] = skill_id

    bad = craft(package, tmp_path / "bad.zip", manifest=change)
    for command in (["verify", str(bad)], ["import", str(bad), "--into", str(into)]):
        line = one_line_refusal(cli(*command))
        assert "skill.id" in line, line
    assert victim.read_text(encoding="utf-8") == "mine"
    assert list(into.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "bad.zip", "x.skill.json"]


def test_import_never_overwrites_a_folder_or_skill_file(package, tmp_path):
    into = tmp_path / "skills"
    existing = into / "colour-check"
    existing.mkdir(parents=True)
    (existing / "colour-check.skill.json").write_text("mine", encoding="utf-8")
    result = cli("import", str(package), "--into", str(into))
    assert result.returncode == 0, result.stderr
    assert (existing / "colour-check.skill.json").read_text(encoding="utf-8") == "mine"
    assert (into / "colour-check-2" / "colour-check.skill.json").is_file()


def test_a_package_file_named_like_the_skill_file_is_not_overwritten(package, tmp_path):
    bad = craft(package, tmp_path / "bad.zip", files={"colour-check.skill.json": b"packaged"})
    line = one_line_refusal(cli("import", str(bad), "--into", str(tmp_path / "into")))
    assert "colour-check.skill.json" in line and "overwrite" in line
    assert list((tmp_path / "into").iterdir()) == []  # the half-imported folder is gone


def test_an_inconsistent_models_list_is_refused_and_nothing_stays(package, tmp_path):
    def wrong_file(meta: dict) -> None:
        meta["models"][0]["files"].append("models/other/evil.onnx")

    def no_onnx(meta: dict) -> None:
        meta["models"][0]["files"] = [f for f in meta["models"][0]["files"] if not f.endswith(".onnx")]

    for n, change in enumerate((wrong_file, no_onnx)):
        bad = craft(package, tmp_path / f"bad{n}.zip", manifest=change)
        line = one_line_refusal(cli("import", str(bad), "--into", str(tmp_path / "into")))
        assert "manifest.json" in line and "model" in line
    model_json = next(n for n in entries(package) if n.endswith("model.json"))
    bad = craft(package, tmp_path / "bad.zip", files={model_json: b"{not json"})
    home = tmp_path / "home"
    line = one_line_refusal(
        cli(
            "import",
            str(bad),
            "--into",
            str(tmp_path / "into"),
            env={**os.environ, "SKILL_DESIGNER_DATA": str(home)},
        )
    )
    assert "model" in line
    assert not (tmp_path / "into").exists() or list((tmp_path / "into").iterdir()) == []


# -- damage and hostile input: one line each, never a traceback -------------------------------


def _corrupt_deflate(package: Path, out: Path) -> Path:
    """README.md's compressed bytes changed in place (the local header and sizes intact)."""
    data = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo("README.md")
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 2, start + min(info.compress_size, 64)):
        data[i] ^= 0x5A
    out.write_bytes(bytes(data))
    return out


def _raw_manifest(package: Path, out: Path, text: str) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("manifest.json", text)
        for name, value in entries(package).items():
            if name != "manifest.json":
                archive.writestr(name, value)
    return out


HOSTILE = {
    "corrupted deflate data": (lambda p, o: _corrupt_deflate(p, o), "README.md"),
    "manifest nested 10,000 deep": (
        lambda p, o: _raw_manifest(p, o, "[" * 10_000 + "]" * 10_000),
        "manifest.json",
    ),
    "a 5,000-digit number": (
        lambda p, o: _raw_manifest(
            p, o, '{"format": "skill-designer/package", "format_version": ' + "9" * 5000 + "}"
        ),
        "manifest.json",
    ),
    "a file that is also a folder": (
        lambda p, o: craft(p, o, files={"models/x": b"a", "models/x/y": b"b"}),
        "is a file and also the folder",
    ),
    "a path longer than the file system allows": (
        lambda p, o: craft(p, o, files={"/".join(["d" * 200] * 8): b"x"}),
        "bytes long",
    ),
    "control characters in a name": (
        lambda p, o: craft(p, o, files={"models/evil\x1b[2J.txt": b"x"}),
        "control characters",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_damage_and_hostile_input_are_one_line_refusals(package, tmp_path, case):
    build, expected = HOSTILE[case]
    bad = build(package, tmp_path / "bad.zip")
    for command in (["verify", str(bad)], ["import", str(bad), "--into", str(tmp_path / "into")]):
        line = one_line_refusal(cli(*command))
        assert expected in line, line


def test_control_characters_in_names_and_defaults_are_escaped(package, tmp_path):
    def change(meta: dict) -> None:
        meta["skill"]["name"] = "Colour\x1b[31m check\nsecond line"
        meta["params"]["camera"]["default"] = "0\x07\r"

    bad = craft(package, tmp_path / "bad.zip", manifest=change)
    result = cli("verify", str(bad))
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\r" not in result.stdout
    assert "Colour\\x1b[31m check\\nsecond line" in result.stdout
    assert "default '0\\x07\\r'" in result.stdout


# -- zip bombs ---------------------------------------------------------------------------------


def test_a_deflate_bomb_is_refused_below_deflates_own_maximum(package, tmp_path):
    """64 MiB of zeros deflate about 1000:1: the old 2000:1 limit never triggered."""
    bad = craft(package, tmp_path / "bomb.zip", files={"models/zeros.bin": bytes(64 * 2**20)})
    line = one_line_refusal(cli("verify", str(bad)))
    assert "models/zeros.bin" in line and "zip bomb" in line


def test_many_small_bombs_are_bounded_by_the_package_size(package, tmp_path):
    files = {f"models/z{i}.bin": bytes(2**20 - 1) for i in range(120)}
    bad = craft(package, tmp_path / "bombs.zip", files=files)
    line = one_line_refusal(cli("verify", str(bad)))
    assert "may expand to" in line and "zip bomb" in line


# -- the run's unpacked copy -------------------------------------------------------------------


def test_a_killed_runs_copy_is_swept_by_the_next_run(package, tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    command = [*CLI, "run", str(package), "--source", str(CLIP), "--param", "camera=0", "--quiet"]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        for _ in range(600):  # wait for the copy (no timing assertion: a bound on the wait only)
            if any(temp.glob(f"{TEMP_PREFIX}*/package/skill.json")):
                break
            if process.poll() is not None:
                pytest.fail(process.stderr.read().decode() if process.stderr else "run ended")
            time.sleep(0.05)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    (stale,) = temp.glob(f"{TEMP_PREFIX}*")
    result = cli(
        "run", str(package), "--source", str(CLIP), "--param", "camera=0", "--max-frames", "1",
        "--realtime", "off", "--quiet", cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert not stale.exists()
    assert list(temp.glob(f"{TEMP_PREFIX}*")) == []  # its own copy is gone at exit too


def test_the_sweep_leaves_a_live_runs_copy(tmp_path):
    live, dead = tmp_path / f"{TEMP_PREFIX}live", tmp_path / f"{TEMP_PREFIX}dead"
    for folder in (live, dead):
        folder.mkdir()
        (folder / LOCK_NAME).write_bytes(b"")
    with (live / LOCK_NAME).open("rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert sweep_stale(tmp_path) == [dead]
    assert live.exists() and not dead.exists()


# -- the output is never an input ---------------------------------------------------------------


@pytest.mark.parametrize("target", ["colours.onnx", "colours.txt", "colours.skill.json"])
def test_export_refuses_one_of_the_skills_inputs_as_its_output(work, target):
    before = (work.parent / target).read_bytes()
    result = cli("export", str(work), "-o", str(work.parent / target), "--force", "--default", "log=x.jsonl")
    line = one_line_refusal(result)
    assert target in line
    assert (work.parent / target).read_bytes() == before


def test_verify_json_says_why_in_one_escaped_string(package, tmp_path):
    def change(document: dict) -> None:
        node(document, "log")["params"]["path"] = "/tmp/\x1bowned"

    bad = craft(package, tmp_path / "bad.zip", skill=change)
    result = cli("verify", "--json", str(bad))
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and "\\x1b" in report["error"] and "\x1b" not in report["error"]
