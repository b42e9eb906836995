"""Execution providers per acceleration and the CPU fallback."""

from __future__ import annotations

import pytest

from designer.core.models.providers import (
    ACCELERATIONS,
    providers_for,
    supported_accelerations,
)

CPU_ONLY = ["CPUExecutionProvider"]
ALL = [
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "OpenVINOExecutionProvider",
    "CPUExecutionProvider",
]


def test_cpu_needs_no_warning() -> None:
    warnings: list[str] = []
    assert providers_for("CPU", warnings.append, CPU_ONLY) == CPU_ONLY
    assert warnings == []


@pytest.mark.parametrize(
    ("acceleration", "expected"),
    [
        ("Nvidia dGPU", ["TensorrtExecutionProvider", "CUDAExecutionProvider"]),
        ("Nvidia Jetson (Jetpack 5)", ["TensorrtExecutionProvider", "CUDAExecutionProvider"]),
        ("Intel iGPU", ["OpenVINOExecutionProvider"]),
    ],
)
def test_accelerations_choose_their_providers(acceleration: str, expected: list[str]) -> None:
    warnings: list[str] = []
    assert providers_for(acceleration, warnings.append, ALL) == [*expected, "CPUExecutionProvider"]
    assert warnings == []


def test_missing_provider_falls_back_to_cpu_with_a_warning() -> None:
    warnings: list[str] = []
    assert providers_for("Nvidia dGPU", warnings.append, CPU_ONLY) == CPU_ONLY
    assert len(warnings) == 1
    assert "Nvidia dGPU" in warnings[0] and "CUDAExecutionProvider" in warnings[0]
    assert "CPU" in warnings[0]


def test_cuda_without_tensorrt_uses_cuda() -> None:
    available = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert providers_for("Nvidia dGPU", None, available) == available


def test_unknown_acceleration() -> None:
    with pytest.raises(ValueError, match="choose one of CPU"):
        providers_for("TPU")


def test_supported_accelerations() -> None:
    assert supported_accelerations("ONNX", CPU_ONLY) == ["CPU"]
    assert supported_accelerations("onnx", ALL) == list(ACCELERATIONS)
    assert supported_accelerations("ONNX", ["CPUExecutionProvider", "OpenVINOExecutionProvider"]) == [
        "CPU",
        "Intel iGPU",
    ]
    assert supported_accelerations("TFLite", ALL) == []
