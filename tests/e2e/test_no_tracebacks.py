"""No traceback reaches the user."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from onnx_factory import constant_model

from designer.cli import main
from designer.core.paths import DATA_ENV
from designer.core.skill import save_skill
from designer.core.skill.build import add_node, connect, minimal_skill

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str]:
        try:
            code = main(list(argv))
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return code, out + err

    return run


def kan(node: dict) -> dict:
    return {
        "apiVersion": "ai.symphony/v1",
        "kind": "Skill",
        "metadata": {"name": "s"},
        "spec": {
            "displayName": "S",
            "nodes": [
                {"id": "cam", "type": "source", "name": "rtsp", "configurations": {"ip": "$param(rtsp)"}},
                node,
            ],
            "edges": [
                {"source": {"node": "cam", "route": "f"}, "target": {"node": node["id"], "route": "f"}}
            ],
            "parameters": {},
        },
    }


@pytest.mark.parametrize(
    "node",
    [
        {
            "id": "box",
            "type": "transform",
            "name": "grpc_transform",
            "configurations": {"type": "container", "container_name": "c", "port": "²"},
        },
        {
            "id": "clip",
            "type": "export",
            "name": "video_snippet_export",
            "configurations": {"delay_buffer": "1e308"},
        },
        {"id": "hub", "type": "export", "name": "iothub_export", "configurations": {"delay_buffer": "1e400"}},
    ],
    ids=["superscript-port", "huge-delay", "infinite-delay"],
)
def test_import_kan_odd_numbers_give_a_skill_or_a_message_never_a_traceback(cli, tmp_path, node):
    (tmp_path / "k.json").write_text(json.dumps(kan(node)))
    code, output = cli("import-kan", "k.json", "-o", "s.skill.json")
    assert "Traceback" not in output
    assert code == 0, output
    text = (tmp_path / "s.skill.json").read_text()
    assert "Infinity" not in text and "NaN" not in text
    assert f"node {node['id']}" in output  # what could not be carried over is pointed at


def big_model(path: Path, shape) -> Path:
    return constant_model(path, {"scores": np.full((1, 3), 0.5, np.float32)}, input_shape=shape)


def test_models_add_refuses_an_absurd_input_size(cli, tmp_path):
    big_model(tmp_path / "big.onnx", (1, 3, 100_000, 100_000))
    code, output = cli("models", "add", "--name", "big", "--type", "classification", "--file", "big.onnx")
    assert code == 1 and "Traceback" not in output and "MemoryError" not in output
    assert "100000" in output and "too large" in output


def test_models_add_refuses_an_absurd_preprocess_size(cli, tmp_path):
    big_model(tmp_path / "dyn.onnx", (1, 3, "h", "w"))
    code, output = cli(
        "models", "add", "--name", "dyn", "--type", "classification", "--file", "dyn.onnx",
        "--preprocess", "width=100000", "--preprocess", "height=100000",
    )  # fmt: skip
    assert code == 1 and "MemoryError" not in output and "too large" in output


def test_a_bad_preprocess_value_is_one_plain_sentence(cli, tmp_path):
    big_model(tmp_path / "m.onnx", (1, 3, 32, 32))
    code, output = cli(
        "models", "add", "--name", "m", "--type", "classification", "--file", "m.onnx",
        "--preprocess", "resize=sideways",
    )  # fmt: skip
    assert code == 1
    assert "resize" in output and "sideways" not in output.split("resize", 1)[0]
    assert (
        "pydantic" not in output and "errors.pydantic.dev" not in output and "validation error" not in output
    )


def test_run_with_an_absurd_model_names_the_node_and_no_missing_log(cli, tmp_path):
    big_model(tmp_path / "big.onnx", (1, 3, 100_000, 100_000))
    skill = minimal_skill("big", source=str(ROOT / "resources" / "video" / "vtest.avi"))
    model = add_node(skill, "model@1", "big", model_path="big.onnx", model_type="classification")
    connect(skill, skill.nodes[0].id, model.id)
    log = add_node(skill, "insights-log@1", "biglog", path="big.jsonl")
    connect(skill, model.id, log.id)
    save_skill(skill, tmp_path / "s.skill.json")
    code, output = cli("run", "s.skill.json", "--max-frames", "3", "--realtime", "off", "--quiet")
    assert "Traceback" not in output and "MemoryError" not in output
    assert code == 3 and "node big" in output and "too large" in output
    assert "please report it with the log" not in output


def test_an_internal_error_says_where_the_details_are(cli, tmp_path, monkeypatch):
    from designer.core.engine.nodes.filter import FilterRuntime

    def broken(self, frame):
        raise RuntimeError("a bug")

    monkeypatch.setattr(FilterRuntime, "process", broken)
    save_skill(
        minimal_skill("x", source=str(ROOT / "resources" / "video" / "vtest.avi")), tmp_path / "s.skill.json"
    )
    code, output = cli("run", "s.skill.json", "--max-frames", "3", "--realtime", "off", "--quiet")
    assert code == 3
    line = next(line for line in output.splitlines() if "details" in line and ".log" in line)
    log_path = Path(line.rsplit(" ", 1)[1])
    assert log_path.is_file()
    details = log_path.read_text()
    assert "Traceback" in details and "a bug" in details
