"""The skill commands of `skill-designer`: exit codes, the exact output lines, JSON for machines."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from designer.cli import build_parser, main
from designer.core.skill import load_skill, save_skill, validate_skill
from designer.core.skill.build import add_node, chain, connect, minimal_skill
from designer.core.skill.document import Settings, Skill

REPO = Path(__file__).resolve().parents[1]
KAN = REPO / "tests" / "data" / "kan"
SCRIPT = Path(sys.executable).parent / "skill-designer"


@pytest.fixture(autouse=True)
def _empty_model_library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Validation consults the user's model library; tests get their own, empty one."""
    monkeypatch.setenv("SKILL_DESIGNER_DATA", str(tmp_path / "library"))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_clean(path: Path) -> Path:
    save_skill(minimal_skill("clean"), path)
    return path


def write_kan_ready(path: Path) -> Path:
    """A skill KAN's portal accepts and its edge runs: camera -> library model -> IoT Hub."""
    skill = Skill(settings=Settings(name="kan ready"))
    add_node(skill, "camera@1", "cam", source="$param(rtsp)")
    add_node(skill, "model@1", "detector", model_id="yolov3-tiny-coco")
    add_node(skill, "insights-log@1", "log")
    add_node(skill, "iothub@1", "hub")
    chain(skill, "cam", "detector", "hub")
    connect(skill, "detector", "log")
    save_skill(skill, path)
    return path


def write_broken(path: Path) -> Path:
    """Two errors on a node and a parameter, and a skill-level warning."""
    skill = Skill(settings=Settings(name="broken", fps=99))
    add_node(skill, "camera@1", "cam", source="0")
    add_node(skill, "filter@1", "keep", confidence_threshold=101)
    add_node(skill, "insights-log@1", "log")
    chain(skill, "cam", "keep", "log")
    skill.__pydantic_extra__["note"] = "from the future"
    save_skill(skill, path)
    return path


# --- validate -----------------------------------------------------------------------------------


def test_validate_clean_file_exits_0(tmp_path: Path, capsys):
    code, out, err = run(capsys, "validate", str(write_clean(tmp_path / "ok.skill.json")))
    assert (code, out) == (0, "")
    assert "1 file(s) valid" in err


def test_validate_prints_each_problem_in_the_documented_format(tmp_path: Path, capsys):
    path = write_broken(tmp_path / "bad.skill.json")
    code, out, _ = run(capsys, "validate", str(path))
    assert code == 1
    assert out.splitlines() == [
        f"{path}: skill [fps]: error fps-range: Frame rate 99 must be from 1 to 60 fps.",
        f"{path}: skill: warning unknown-field: Unknown field 'note' in the skill file is kept but ignored.",
        f"{path}: node keep [confidence_threshold]: error param-invalid: "
        "Confidence threshold (%): Input should be less than or equal to 100",
    ]


def test_validate_warnings_only_exits_0(tmp_path: Path, capsys):
    skill = minimal_skill("warned")
    skill.node("filter-1").params["colour"] = "red"
    save_skill(skill, tmp_path / "w.skill.json")
    code, out, _ = run(capsys, "validate", str(tmp_path / "w.skill.json"))
    assert code == 0
    assert out == (
        f"{tmp_path / 'w.skill.json'}: node filter-1 [colour]: warning unknown-parameter: "
        "Filter has no parameter 'colour'; it is kept but ignored.\n"
    )


def test_validate_json_syntax_error_exits_2_with_line_and_column(tmp_path: Path, capsys):
    path = tmp_path / "syntax.skill.json"
    path.write_text('{\n  "format": "skill-designer/skill",\n  "nodes": [}\n', encoding="utf-8")
    code, out, err = run(capsys, "validate", str(path))
    assert (code, out) == (2, "")
    assert err.strip() == f"{path}:3:13: invalid JSON: Expecting value"
    assert path.read_text(encoding="utf-8").startswith("{\n")  # never touched


def test_validate_worst_status_wins_over_several_files(tmp_path: Path, capsys):
    clean = write_clean(tmp_path / "a.skill.json")
    broken = write_broken(tmp_path / "b.skill.json")
    missing = tmp_path / "missing.skill.json"
    assert run(capsys, "validate", str(clean), str(broken))[0] == 1
    code, out, err = run(capsys, "validate", str(missing), str(broken), str(clean))
    assert code == 2
    assert f"{missing}: file not found" in err
    assert f"{broken}: node keep" in out


def test_validate_json_output(tmp_path: Path, capsys):
    broken = write_broken(tmp_path / "b.skill.json")
    syntax = tmp_path / "s.skill.json"
    syntax.write_text("{\n\n   oops", encoding="utf-8")
    code, out, err = run(capsys, "validate", "--json", str(broken), str(syntax))
    assert (code, err) == (2, "")
    report = json.loads(out)
    assert report["exit_code"] == 2
    first, second = report["files"]
    assert first["file"] == str(broken)
    assert {
        "severity": "error",
        "code": "param-invalid",
        "message": "Confidence threshold (%): Input should be less than or equal to 100",
        "node_id": "keep",
        "param": "confidence_threshold",
    } in first["problems"]
    assert second["error"]["line"] == 3 and second["error"]["column"] == 4
    assert "invalid JSON" in second["error"]["message"]


def test_validate_json_clean(tmp_path: Path, capsys):
    code, out, _ = run(capsys, "validate", "--json", str(write_clean(tmp_path / "ok.skill.json")))
    assert code == 0
    assert json.loads(out) == {
        "files": [{"file": str(tmp_path / "ok.skill.json"), "problems": []}],
        "exit_code": 0,
    }


def test_bundled_samples_validate(capsys):
    samples = sorted((REPO / "resources" / "samples").glob("*.skill.json"))
    assert samples, "no bundled samples"
    code, out, _ = run(capsys, "validate", *map(str, samples))
    assert (code, out) == (0, "")


# --- new ----------------------------------------------------------------------------------------


def test_new_writes_a_skill_that_validates(tmp_path: Path, capsys):
    path = tmp_path / "fresh.skill.json"
    code, out, _ = run(capsys, "new", "Front door", "-o", str(path), "--source", "rtsp://$param(host)/1")
    assert (code, out) == (0, f"wrote {path}\n")
    skill = load_skill(path)
    assert skill.settings.name == "Front door"
    assert validate_skill(skill) == []
    assert run(capsys, "validate", str(path))[0] == 0


def test_new_refuses_to_overwrite_without_force(tmp_path: Path, capsys):
    path = tmp_path / "mine.skill.json"
    path.write_text("my work", encoding="utf-8")
    code, _, err = run(capsys, "new", "x", "-o", str(path))
    assert code == 1 and "--force" in err
    assert path.read_text(encoding="utf-8") == "my work"
    assert run(capsys, "new", "x", "-o", str(path), "--force")[0] == 0
    assert load_skill(path).settings.name == "x"


def test_new_bad_name_source_and_unwritable_place(tmp_path: Path, capsys):
    assert run(capsys, "new", "  ", "-o", str(tmp_path / "a.skill.json"))[0] == 2
    code, _, err = run(capsys, "new", "x", "-o", str(tmp_path / "a.skill.json"), "--source", "")
    assert code == 2
    assert "node camera-1 [source]: error param-invalid" in err
    assert not (tmp_path / "a.skill.json").exists()
    code, _, err = run(capsys, "new", "x", "-o", str(tmp_path / "no" / "a.skill.json"))
    assert code == 1 and "cannot write" in err


# --- import-kan / export-kan ----------------------------------------------------------------------


def test_import_kan_writes_a_valid_skill_and_notes(tmp_path: Path, capsys):
    out_path = tmp_path / "tutorial.skill.json"
    code, out, err = run(capsys, "import-kan", str(KAN / "tutorial-cascade.yaml"), "-o", str(out_path))
    assert code == 0
    assert out == f"wrote {out_path}\n"
    assert "note: node 5: the snippet delay buffer was 2 min" in err
    assert load_skill(out_path).settings.name == "Vehicle colours at the gate"
    # The model ids are not in the (empty) library: validate says so, located.
    code, out, _ = run(capsys, "validate", str(out_path))
    assert code == 1
    assert f"{out_path}: node 1 [model_id]: error model-missing:" in out


def test_import_kan_json_report(tmp_path: Path, capsys):
    out_path = tmp_path / "odd.skill.json"
    code, out, _ = run(capsys, "import-kan", "--json", str(KAN / "odd-labels.yaml"), "-o", str(out_path))
    assert code == 0
    report = json.loads(out)
    assert report["output"] == str(out_path)
    assert any("cv2_imshow_export" in note for note in report["notes"])


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("broken.yaml", "broken.yaml:10:"),
        ("missing.yaml", "cannot read"),
        ("binary.yaml", "not UTF-8"),
        ("skill.json", "not a KAN Skill resource"),
    ],
)
def test_import_kan_broken_input_exits_2(tmp_path: Path, capsys, source: str, words: str):
    (tmp_path / "binary.yaml").write_bytes(b"\xff\xfe\x00bad")
    write_clean(tmp_path / "skill.json")
    path = KAN / source if source == "broken.yaml" else tmp_path / source
    out_path = tmp_path / "out.skill.json"
    code, out, err = run(capsys, "import-kan", str(path), "-o", str(out_path))
    assert (code, out) == (2, "")
    assert words in err
    assert not out_path.exists()


def test_import_kan_unwritable_output_exits_1(tmp_path: Path, capsys):
    out_path = tmp_path / "no" / "such" / "x.skill.json"
    code, _, err = run(capsys, "import-kan", str(KAN / "tutorial-cascade.yaml"), "-o", str(out_path))
    assert code == 1
    assert err.strip().endswith(f"{out_path}: cannot write: No such file or directory")


def test_export_kan_round_trip_through_the_cli(tmp_path: Path, capsys):
    skill_path = tmp_path / "g.skill.json"
    kan_path = tmp_path / "g.yaml"
    assert run(capsys, "import-kan", str(KAN / "grpc-exports.json"), "-o", str(skill_path))[0] == 0
    code, out, _ = run(capsys, "export-kan", str(skill_path), "-o", str(kan_path))
    assert (code, out) == (0, f"wrote {kan_path}\n")
    resource = yaml.safe_load(kan_path.read_text(encoding="utf-8"))
    assert resource["kind"] == "Skill"
    assert {n["id"] for n in resource["spec"]["nodes"]} == {
        "cam",
        "people",
        "counter",
        "enrich",
        "keep",
        "mqtt",
        "web",
        "edge",
    }
    again = tmp_path / "again.skill.json"
    assert run(capsys, "import-kan", str(kan_path), "-o", str(again))[0] == 0
    assert load_skill(again).model_dump(exclude={"layout"}) == load_skill(skill_path).model_dump(
        exclude={"layout"}
    )


def test_export_kan_reports_what_it_leaves_out(tmp_path: Path, capsys):
    path = write_kan_ready(tmp_path / "min.skill.json")
    code, out, _ = run(capsys, "export-kan", "--json", str(path), "-o", str(tmp_path / "min.yaml"))
    assert code == 0
    notes = json.loads(out)["notes"]
    assert any("insights-log" in note and "cannot be expressed in KAN" in note for note in notes)


def test_export_kan_broken_input_and_output(tmp_path: Path, capsys):
    bad = tmp_path / "bad.skill.json"
    bad.write_text("{", encoding="utf-8")
    code, _, err = run(capsys, "export-kan", str(bad), "-o", str(tmp_path / "x.yaml"))
    assert code == 2 and f"{bad}:1:2: invalid JSON" in err
    assert not (tmp_path / "x.yaml").exists()
    good = write_kan_ready(tmp_path / "good.skill.json")
    code, _, err = run(capsys, "export-kan", str(good), "-o", str(tmp_path / "no" / "x.yaml"))
    assert code == 1 and "cannot write" in err


# --- help -----------------------------------------------------------------------------------------


def _subcommands() -> list[str]:
    parser = build_parser()
    (action,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sorted(action.choices)


def test_skill_subcommands_are_registered():
    assert {"validate", "new", "import-kan", "export-kan"} <= set(_subcommands())


@pytest.mark.parametrize("command", [None, *_subcommands()])
def test_help_everywhere(command: str | None, capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"] if command is None else [command, "--help"])
    assert caught.value.code == 0
    assert "usage: skill-designer" in capsys.readouterr().out


def test_help_lists_the_commands(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert "validate" in out and "import-kan" in out


def test_bad_arguments_exit_2(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["validate"])
    assert caught.value.code == 2
    assert "required: FILE" in capsys.readouterr().err


# --- the installed script --------------------------------------------------------------------------


def test_installed_script(tmp_path: Path):
    assert SCRIPT.exists(), f"{SCRIPT} missing: install the project (pip install -e .)"
    env = {"SKILL_DESIGNER_DATA": str(tmp_path / "library"), "PATH": "/usr/bin:/bin"}
    fresh = tmp_path / "fresh.skill.json"
    done = subprocess.run(
        [str(SCRIPT), "new", "Scripted", "-o", str(fresh)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [str(SCRIPT), "validate", str(fresh), str(tmp_path / "gone.skill.json")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{tmp_path / 'gone.skill.json'}: file not found" in done.stderr
    assert "Traceback" not in done.stderr
