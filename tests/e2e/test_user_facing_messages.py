"""What a newcomer reads says the truth (docs, list titles, hints)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from designer.cli import main
from designer.core.models.layouts import UnknownLayoutError, resolve_layout
from designer.core.models.tensors import TensorInfo
from designer.core.paths import DATA_ENV
from designer.core.skill import save_skill
from designer.core.skill.build import add_node, connect, minimal_skill
from designer.customnode.endpoint import parse_endpoint
from designer.customnode.errors import InvalidEndpointError

ROOT = Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "custom-nodes.md").read_text(encoding="utf-8")


@pytest.fixture
def here(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(DATA_ENV, str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out + err

    return run


def test_the_docs_name_the_parameter_and_the_fields_a_node_fills():
    for words in ("endpoint_url", "objects_meta", "events_meta", "EventMeta", "properties", "other_meta"):
        assert words in DOCS, words
    assert "encode_image" in DOCS and "returns a `pb2.Image`" in DOCS
    assert "grpc-container@1" in DOCS and "--start-containers" in DOCS and "docker run" in DOCS


def test_the_docs_and_the_validator_agree_on_endpoint_schemes():
    assert "grpc://host:port" in DOCS and "grpcs://host:port" in DOCS
    assert re.search(r"`http://`.*not supported", DOCS)
    for accepted in ("127.0.0.1:6677", "grpc://127.0.0.1:6677", "grpcs://127.0.0.1:6677"):
        parse_endpoint(accepted)
    with pytest.raises(InvalidEndpointError, match="grpc://host:port"):
        parse_endpoint("http://127.0.0.1:6677")


def test_models_list_marks_the_bundled_model(here, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "250")  # one table row per line
    save_skill(minimal_skill("s", source="$param(rtsp)"), tmp_path / "s.skill.json")
    here("validate", "s.skill.json")  # registers the bundled sample
    code, output = here("models", "list")
    assert code == 0
    assert "Your added models" not in output
    line = next(line for line in output.splitlines() if "yolov3-tiny-coco" in line)
    assert "bundled" in line


def test_a_missing_model_id_lists_the_ids_there_are(here, tmp_path):
    skill = minimal_skill("s", source="$param(rtsp)")
    model = add_node(skill, "model@1", "det", model_id="nope")
    connect(skill, skill.nodes[0].id, model.id)
    connect(skill, model.id, add_node(skill, "insights-log@1", "l2", path="x.jsonl").id)
    save_skill(skill, tmp_path / "s.skill.json")
    code, output = here("validate", "s.skill.json")
    assert code == 1 and "'nope' is not in the model library" in output
    assert "yolov3-tiny-coco" in output


def test_an_unknown_layout_names_the_option():
    outputs = [TensorInfo(name="out", shape=[1, 2, 3, 4, 5], dtype="float32")]
    with pytest.raises(UnknownLayoutError, match="--layout"):
        resolve_layout(None, outputs, None, None, "model m.onnx")


def test_run_on_a_webcam_skill_without_a_webcam_says_it_once_and_suggests_source(here, tmp_path):
    if Path("/dev/video0").exists():
        pytest.skip("this machine has a webcam")
    assert here("new", "cam", "-o", "cam.skill.json")[0] == 0
    code, output = here("run", "cam.skill.json", "--quiet")
    assert code == 1
    assert output.count("cannot open webcam 0") == 1, output
    assert "--source" in output
