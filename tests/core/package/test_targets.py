"""Target devices: what this machine previews with, and what the device needs, checked apart."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from designer.cli import main
from designer.core.models.targets import check_target, kernel_table, target_providers
from designer.core.package import ExportError, export_package
from designer.core.skill import load_skill

from .pkg_helpers import CLASSIFIER, tiny_skill, write_skill


def cuda_only_model(path: Path) -> Path:
    """A graph whose operator exists only as a CUDA kernel in onnxruntime (no CPU one)."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 8, 8])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, 8, 8])
    node = helper.make_node("BiasAdd", ["images", "images", "images"], ["out"], domain="com.microsoft")
    graph = helper.make_graph([node], "cuda_only", [x], [y])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )
    onnx.save(model, str(path))
    return path


@pytest.mark.parametrize(
    ("acceleration", "providers"),
    [
        ("CPU", ["CPUExecutionProvider"]),
        ("Nvidia dGPU", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]),
        ("Intel iGPU", ["OpenVINOExecutionProvider", "CPUExecutionProvider"]),
    ],
)
def test_the_target_declares_its_providers_and_checks_operators(acceleration, providers):
    assert target_providers(acceleration) == providers
    report = check_target(CLASSIFIER, acceleration)
    assert report.runnable and report.opset == 17
    table = kernel_table()
    # Providers whose table this onnxruntime build lacks are named, not silently passed.
    assert report.unchecked == [p for p in providers[:-1] if p not in table]


def test_function_operators_need_no_kernel_of_their_own(tmp_path):
    """HardSwish has no kernel in onnxruntime: it is expanded into its ONNX function body on load."""
    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3])
    graph = helper.make_graph([helper.make_node("HardSwish", ["images"], ["out"])], "g", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(tmp_path / "h.onnx"))
    assert check_target(tmp_path / "h.onnx", "CPU").runnable


def test_an_operator_without_a_cpu_kernel_is_found(tmp_path):
    report = check_target(cuda_only_model(tmp_path / "m.onnx"), "Nvidia dGPU")
    assert [u.op_type for u in report.missing] == ["BiasAdd"]
    assert "com.microsoft opset 1" in report.missing[0].describe()


def test_a_gpu_skill_designed_on_a_cpu_machine_validates_for_its_target(skill_dir, tmp_path, capsys):
    skill_path = write_skill(skill_dir, tiny_skill(acceleration="Nvidia Jetson (Jetpack 5)", source="0"))
    assert main(["validate", "--target", str(skill_path)]) == 0
    report = export_package(load_skill(skill_path), skill_path, tmp_path / "jetson.zip")
    assert report.execution_providers[:2] == ["TensorrtExecutionProvider", "CUDAExecutionProvider"]


def test_a_model_the_target_cannot_run_is_refused_by_validate_and_export(skill_dir, tmp_path, capsys):
    cuda_only_model(skill_dir / "models" / "colour.onnx")
    skill_path = write_skill(skill_dir, tiny_skill(acceleration="Nvidia dGPU", source="0"))
    assert main(["validate", "--target", str(skill_path)]) == 1
    out = capsys.readouterr().out
    assert "colour" in out and "target-operator-unsupported" in out and "BiasAdd" in out
    with pytest.raises(ExportError) as caught:
        export_package(load_skill(skill_path), skill_path, tmp_path / "x.zip")
    assert [(p.code, p.node_id) for p in caught.value.problems] == [("target-operator-unsupported", "colour")]
