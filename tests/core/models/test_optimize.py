"""models optimize: a real INT8 quantization of a small real detector calibrated on frames of the
bundled clip, checked against the original on held-out frames; a broken calibration refused; a
classifier's top-1 agreement; the CLI; switching a skill's node; validate --target's warning."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from designer.cli import main as cli_main
from designer.core.models.library import ModelLibrary
from designer.core.models.optimize import (
    OptimizeCancelled,
    OptimizeError,
    detection_agreement,
    float_head,
    optimize_model,
    read_frames,
    split_frames,
)
from designer.core.models.optimize_use import model_uses, switch_model
from designer.core.models.preprocess import preprocess
from designer.core.models.providers import CPU, NVIDIA_DGPU
from designer.core.models.results import Detection
from designer.core.skill import Settings, Skill, validate_skill
from designer.core.skill.build import add_node, chain
from designer.core.skill.catalog.exports import INSIGHTS_LOG
from designer.core.skill.catalog.process import MODEL
from designer.core.skill.catalog.sources import CAMERA

ROOT = Path(__file__).resolve().parents[3]
CLIP = ROOT / "resources" / "video" / "vtest.avi"
COLOR = ROOT / "resources" / "models" / "color-classifier.onnx"
COLOR_LABELS = ROOT / "resources" / "models" / "color-classifier.labels.txt"
SIZE = 64


def tiny_detector(path: Path, seed: int = 7) -> Path:
    """A small real detector: three convolutions (stride 2, 2, 1x1) over a 64x64 RGB input, then
    a YOLOv8-style head decoded in the graph ([1, 4 + 2, 256], boxes in input pixels): class 0
    is a bright patch, class 1 a dark one, with learned-looking noise from random channels."""
    rng = np.random.default_rng(seed)
    w1 = rng.normal(0, 0.2, (4, 3, 3, 3)).astype(np.float32)
    w1[0] = 1.0 / 27.0  # channel 0: local brightness
    w2 = rng.normal(0, 0.2, (4, 4, 3, 3)).astype(np.float32)
    w2[0] = 0.0
    w2[0, 0] = 1.0 / 9.0
    w3 = np.zeros((6, 4, 1, 1), np.float32)
    w3[:4] = rng.normal(0, 0.05, (4, 4, 1, 1))
    w3[4, 0], w3[5, 0] = 20.0, -20.0
    w3[4:, 1:] = rng.normal(0, 0.3, (2, 3, 1, 1))
    b3 = np.array([0, 0, 0, 0, -12.0, 6.0], np.float32)
    cells = SIZE // 4
    grid = (np.arange(cells, dtype=np.float32) + 0.5) * 4
    gx = np.tile(grid, cells).reshape(1, 1, -1)
    gy = np.repeat(grid, cells).reshape(1, 1, -1)
    nodes = [
        helper.make_node("Conv", ["images", "w1", "b1"], ["c1"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("Conv", ["r2", "w3", "b3"], ["raw"]),
        helper.make_node("Reshape", ["raw", "flat_shape"], ["flat"]),
        helper.make_node("Split", ["flat", "split"], ["tx", "ty", "tw", "th", "cls"], axis=1),
        helper.make_node("Tanh", ["tx"], ["ox"]),
        helper.make_node("Tanh", ["ty"], ["oy"]),
        helper.make_node("Add", ["ox", "gx"], ["cx"]),
        helper.make_node("Add", ["oy", "gy"], ["cy"]),
        helper.make_node("Sigmoid", ["tw"], ["sw"]),
        helper.make_node("Sigmoid", ["th"], ["sh"]),
        helper.make_node("Mul", ["sw", "eight"], ["w"]),
        helper.make_node("Mul", ["sh", "eight"], ["h"]),
        helper.make_node("Sigmoid", ["cls"], ["scores"]),
        helper.make_node("Concat", ["cx", "cy", "w", "h", "scores"], ["output0"], axis=1),
    ]
    inits = [
        numpy_helper.from_array(w1, "w1"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b1"),
        numpy_helper.from_array(w2, "w2"),
        numpy_helper.from_array(np.zeros(4, np.float32), "b2"),
        numpy_helper.from_array(w3, "w3"),
        numpy_helper.from_array(b3, "b3"),
        numpy_helper.from_array(np.array([1, 6, cells * cells], np.int64), "flat_shape"),
        numpy_helper.from_array(np.array([1, 1, 1, 1, 2], np.int64), "split"),
        numpy_helper.from_array(gx, "gx"),
        numpy_helper.from_array(gy, "gy"),
        numpy_helper.from_array(np.array(8.0, np.float32), "eight"),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny_detector",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 6, cells * cells])],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="test")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture
def library(tmp_path) -> ModelLibrary:
    lib = ModelLibrary(tmp_path / "data")
    labels = tmp_path / "labels.txt"
    labels.write_text("bright\ndark\n")
    lib.add("tiny", "detection", tiny_detector(tmp_path / "tiny.onnx"), labels)
    return lib


def test_frames_are_spread_over_the_clip_and_the_held_out_ones_are_never_calibrated_on(tmp_path):
    frames = read_frames(CLIP, 8)
    assert len(frames) == 8 and frames[0].shape == (576, 768, 3)
    calib, held = split_frames(frames, 4)
    assert len(calib) == 4 and len(held) == 4
    assert not any(np.array_equal(c, h) for c in calib for h in held)
    folder = tmp_path / "frames"
    folder.mkdir()
    import cv2

    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    assert len(read_frames(folder, 4)) == 4
    (tmp_path / "empty").mkdir()
    with pytest.raises(OptimizeError, match="no pictures"):
        read_frames(tmp_path / "empty", 4)


def test_int8_quantization_of_a_real_detector_on_the_clip_agrees_with_the_original(library):
    steps: list[tuple[float, str]] = []
    result = optimize_model(library, "tiny", CLIP, frames=8, progress=lambda f, t: steps.append((f, t)))
    opt = result.optimization
    assert result.entry is not None and opt.passed, opt.problems
    a = opt.agreement
    assert a.frames == 8 and a.boxes_source > 20
    assert a.f1 is not None and a.f1 >= 0.95 and a.mean_iou is not None and a.mean_iou >= 0.9
    assert opt.ms_source > 0 and opt.ms_optimized > 0 and opt.size_optimized > 0
    # the decoding head stays float, and is named
    assert {"Sigmoid", "Concat", "Add", "Mul"} <= {op.split()[0] for op in opt.float_ops}
    # stored with the entry, linked to its source; the source is kept
    entry = library.get(result.entry.id)
    assert entry.optimization == opt and entry.model_file.source.describe().startswith("optimized from tiny")
    assert library.get("tiny").optimization is None
    assert [e.id for e in library.optimized_forms("tiny")] == [entry.id]
    quantized = onnx.load(str(library.resolve(entry.id)[0]))
    assert any(n.op_type == "QuantizeLinear" for n in quantized.graph.node)
    assert entry.info.preprocess == library.get("tiny").info.preprocess
    fractions = [f for f, _ in steps]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any("calibrating" in t for _, t in steps) and any("held-out" in t for _, t in steps)


def test_calibration_preprocessed_unlike_the_engine_is_caught_and_refused(library):
    info = library.get("tiny").info
    raw = info.preprocess.model_copy(update={"scale": 1.0})  # 0..255 where the engine feeds 0..1

    result = optimize_model(
        library, "tiny", CLIP, frames=8, calibration_tensor=lambda frame: preprocess(frame, raw)[0]
    )
    assert result.entry is None and not result.optimization.passed
    assert "F1" in " ".join(result.optimization.problems)
    assert [e.id for e in library.list()] == ["tiny"]
    kept = optimize_model(
        library,
        "tiny",
        CLIP,
        frames=8,
        keep_failed=True,
        name="tiny broken",
        calibration_tensor=lambda frame: preprocess(frame, raw)[0],
    )
    assert kept.entry is not None and kept.entry.optimization is not None
    assert not kept.entry.optimization.passed


def test_a_classifier_is_checked_by_top1_agreement(tmp_path):
    library = ModelLibrary(tmp_path / "data")
    library.add("colors", "classification", COLOR, COLOR_LABELS)
    result = optimize_model(library, "colors", CLIP, frames=6)
    a = result.optimization.agreement
    assert a.top1 is not None and a.top1 >= 0.98 and a.f1 is None
    assert result.entry is not None and result.entry.type == "classification"


def test_cancel_stops_and_adds_nothing(library):
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(OptimizeCancelled):
        optimize_model(library, "tiny", CLIP, frames=8, cancelled=cancelled)
    assert [e.id for e in library.list()] == ["tiny"]


def test_other_targets_and_refusals(library):
    fp16 = optimize_model(library, "tiny", CLIP, frames=4, target="gpu-fp16")
    assert fp16.entry is not None and fp16.optimization.calibration_frames == 0
    with pytest.raises(OptimizeError, match="already an optimized form"):
        optimize_model(library, fp16.entry.id, CLIP, frames=4)
    with pytest.raises(OptimizeError, match="choose one of"):
        optimize_model(library, "tiny", CLIP, target="npu-int4")
    with pytest.raises(OptimizeError, match="already has"):
        optimize_model(library, "tiny", CLIP, frames=4, target="gpu-fp16")


def test_agreement_figures():
    box = Detection(0, "a", 0.9, 0.1, 0.1, 0.2, 0.2)
    moved = Detection(0, "a", 0.8, 0.12, 0.1, 0.2, 0.2)
    other_class = Detection(1, "b", 0.8, 0.1, 0.1, 0.2, 0.2)
    a = detection_agreement([[box, box]], [[moved, other_class]])
    assert (a.matched, a.precision, a.recall, a.f1) == (1, 0.5, 0.5, 0.5)
    assert a.mean_iou == pytest.approx(0.8182, abs=1e-3)
    assert detection_agreement([[]], [[]]).f1 == 1.0


def test_float_head_stops_at_the_last_weighted_layers(tmp_path):
    model = onnx.load(str(tiny_detector(tmp_path / "d.onnx")))
    head = {n.op_type for n in float_head(model)}
    assert "Conv" not in head and {"Concat", "Sigmoid", "Tanh", "Split", "Reshape"} <= head


def _skill(model_id: str) -> Skill:
    skill = Skill(settings=Settings(name="s"))
    add_node(skill, CAMERA.type_id, "camera", source=str(CLIP))
    add_node(skill, MODEL.type_id, "detector", model_id=model_id)
    add_node(skill, INSIGHTS_LOG.type_id, "log")
    chain(skill, "camera", "detector", "log")
    return skill


def test_switching_a_node_to_the_optimized_entry_and_back(library):
    optimized = optimize_model(library, "tiny", CLIP, frames=4).entry
    assert optimized is not None
    skill = _skill("tiny")
    switched = switch_model(skill, optimized.id, {"tiny"})
    assert [(u.node_id, u.param, u.model_id) for u in model_uses(switched)] == [
        ("detector", "model_id", optimized.id)
    ]
    assert switch_model(switched, "tiny", {optimized.id}) == skill
    assert skill.node("detector").params["model_id"] == "tiny"  # the original skill untouched


def test_validate_target_warns_when_the_acceleration_cannot_run_the_optimized_form(library):
    int8 = optimize_model(library, "tiny", CLIP, frames=4).entry
    assert int8 is not None
    skill = _skill(int8.id)
    for acceleration, target, warned in (
        (NVIDIA_DGPU, True, True),
        (NVIDIA_DGPU, False, False),  # the preview on this machine: not the device's concern
        (CPU, True, False),
    ):
        skill.settings = skill.settings.model_copy(update={"acceleration": acceleration})
        problems = [p for p in validate_skill(skill, library, target=target) if p.code == "model-form-target"]
        assert bool(problems) == warned, (acceleration, target, problems)
        if warned:
            assert problems[0].node_id == "detector" and "TensorRT" in problems[0].message
    assert not [
        p for p in validate_skill(_skill("tiny"), library, target=True) if p.code == "model-form-target"
    ]


def test_cli_optimize_prints_the_check_and_adds_the_entry(library, capsys):
    data = str(library.data)
    code = cli_main(
        ["models", "--data-dir", data, "optimize", "tiny", "--calibrate", str(CLIP), "--frames", "4"]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "F1" in out and "mean IoU" in out and "ms ->" in out and "added tiny-cpu-int8" in out
    assert cli_main(["models", "--data-dir", data, "show", "tiny-cpu-int8", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["optimization"]["source_id"] == "tiny" and shown["optimization"]["passed"]
    code = cli_main(
        ["models", "--data-dir", data, "optimize", "tiny", "--calibrate", "/nonexistent.mp4", "--name", "x"]
    )
    assert code == 1 and "no such file" in capsys.readouterr().err
