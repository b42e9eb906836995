"""Validate tells the truth, and small messages say what they mean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import onnx
import pytest

from designer.cli import main
from designer.core.engine.events import RunState
from designer.core.engine.executor import Engine
from designer.core.engine.runtime import RunContext
from designer.core.models.inspect import open_session
from designer.core.skill import save_skill, validate_skill
from designer.core.skill.build import add_node, connect, minimal_skill
from designer.core.skill.document import Edge, PortRef

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "resources" / "models" / "color-classifier.onnx"


@pytest.fixture
def here(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str]:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return code, out + err

    return run


def with_model(**params) -> object:
    skill = minimal_skill("m", source="clip.avi")
    model = add_node(skill, "model@1", "det", **params)
    connect(skill, skill.nodes[0].id, model.id)
    log = add_node(skill, "insights-log@1", "mlog", path="m.jsonl")
    connect(skill, model.id, log.id)
    return skill


def test_missing_files_are_problems_located_on_their_parameter(here, tmp_path):
    save_skill(with_model(model_path="nothere.onnx", labels_path="nolabels.txt"), tmp_path / "s.skill.json")
    code, output = here("validate", "s.skill.json")
    assert code == 1
    assert "node det [model_path]" in output and "nothere.onnx" in output
    assert "node det [labels_path]" in output and "nolabels.txt" in output
    # the camera's clip.avi is missing too: a warning, since a device may fill it with $param(...)
    assert "camera-1 [source]: warning" in output and "clip.avi" in output


def test_existing_files_and_placeholders_are_fine(here, tmp_path):
    (tmp_path / "clip.avi").write_bytes(b"x")
    (tmp_path / "m.onnx").write_bytes(MODEL.read_bytes())
    save_skill(with_model(model_path="m.onnx"), tmp_path / "s.skill.json")
    assert here("validate", "s.skill.json")[0] == 0
    save_skill(minimal_skill("p", source="$param(rtsp)"), tmp_path / "p.skill.json")
    code, output = here("validate", "p.skill.json")
    assert code == 0 and "warning" not in output


def test_a_model_path_that_is_a_folder_says_so(here, tmp_path):
    (tmp_path / "models").mkdir()
    save_skill(with_model(model_path="models"), tmp_path / "s.skill.json")
    code, output = here("validate", "s.skill.json")
    assert code == 1 and "is a folder" in output
    clip = str(ROOT / "resources/video/vtest.avi")
    code, output = here("run", "s.skill.json", "--source", clip, "--max-frames", "3", "--realtime", "off")
    assert "is a folder" in output and "file not found" not in output


def test_a_cycle_blames_the_nodes_on_it_not_those_downstream():
    skill = minimal_skill("c", source="clip.avi")
    cam, keep, log = (n.id for n in skill.nodes)
    a = add_node(skill, "filter@1", "a")
    b = add_node(skill, "filter@1", "b")
    skill.edges = [
        Edge(source=PortRef(node=cam, port="out"), target=PortRef(node=a.id, port="in")),
        Edge(source=PortRef(node=a.id, port="out"), target=PortRef(node=b.id, port="in")),
        Edge(source=PortRef(node=b.id, port="out"), target=PortRef(node=a.id, port="in")),
        Edge(source=PortRef(node=b.id, port="out"), target=PortRef(node=keep, port="in")),
        Edge(source=PortRef(node=keep, port="out"), target=PortRef(node=log, port="in")),
    ]
    blamed = {p.node_id for p in validate_skill(skill) if p.code == "cycle"}
    assert blamed == {"a", "b"}


def test_validate_refuses_a_fifo_instead_of_hanging(tmp_path):
    fifo = tmp_path / "pipe.skill.json"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "designer.cli", "validate", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "not a regular file" in done.stderr


def test_a_5000_digit_number_is_a_plain_error(here, tmp_path):
    save_skill(minimal_skill("n", source="$param(rtsp)"), tmp_path / "n.skill.json")
    text = (tmp_path / "n.skill.json").read_text()
    data = json.loads(text)
    data["settings"]["fps"] = 0
    text = json.dumps(data).replace('"fps": 0', '"fps": ' + "9" * 5000)
    (tmp_path / "n.skill.json").write_text(text)
    code, output = here("validate", "n.skill.json")
    assert code == 2
    assert "set_int_max_str_digits" not in output and "digits" in output


def test_a_damaged_model_prints_nothing_from_onnxruntime(tmp_path, capfd):
    model = onnx.load(MODEL)
    model.graph.initializer[0].raw_data = model.graph.initializer[0].raw_data[:5]
    onnx.save(model, tmp_path / "damaged.onnx")
    with pytest.raises(Exception, match=r"damaged\.onnx"):
        open_session(tmp_path / "damaged.onnx", ["CPUExecutionProvider"])
    session = open_session(MODEL, ["CPUExecutionProvider"])
    # no "EP Error" block on stdout when a provider fails: onnxruntime's print-and-retry is off
    assert session._enable_fallback is False
    assert capfd.readouterr().out == ""


@pytest.mark.parametrize("source", ["file:///etc/passwd", "udp://0.0.0.0:5000"])
def test_file_and_udp_sources_are_named_unsupported(here, tmp_path, source):
    save_skill(minimal_skill("u", source=source), tmp_path / "u.skill.json")
    code, output = here("validate", "u.skill.json")
    assert code == 1 and "not supported" in output and "video file not found" not in output
    code, output = here("run", "u.skill.json")
    assert code == 1 and "not supported" in output and "video file not found" not in output


class _Stalled(BaseHTTPRequestHandler):
    def do_GET(self):  # accept, never answer
        threading.Event().wait(30)

    def log_message(self, *args):
        pass


def test_stop_while_a_stalled_camera_is_opening_ends_the_run_at_once(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stalled)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        skill = minimal_skill("s", source=f"http://127.0.0.1:{server.server_port}/video")
        engine = Engine(skill, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
        engine.start()
        threading.Event().wait(0.5)
        engine.stop(timeout=5.0)
        assert engine.state is RunState.STOPPED  # not still "starting" after stop returned
    finally:
        server.shutdown()
        server.server_close()


def test_export_kan_refuses_a_skill_validate_rejects(here, tmp_path):
    skill = minimal_skill("d", source="$param(rtsp)")
    twin = add_node(skill, "filter@1", skill.nodes[1].id)  # two nodes share an id
    connect(skill, skill.nodes[0].id, twin.id)
    save_skill(skill, tmp_path / "d.skill.json")
    code, output = here("export-kan", "d.skill.json", "-o", "d.yaml")
    assert code == 1
    assert "duplicate-node-id" in output
    assert not (tmp_path / "d.yaml").exists()
