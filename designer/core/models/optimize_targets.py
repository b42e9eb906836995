"""What each optimization target makes, and where that form runs well: plain data, importable
without numpy or onnxruntime (validation reads it on every edit).

Only the CPU is testable on the design machine; what is said here of the other execution
providers comes from their documentation (onnxruntime, TensorRT, OpenVINO), not from a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from designer.core.models.providers import ACCELERATIONS, CPU, INTEL_IGPU, JETSON, NVIDIA_DGPU

OptimizeTarget = Literal["cpu-int8", "cpu-fp32-opt", "gpu-fp16"]
TARGETS: tuple[OptimizeTarget, ...] = ("cpu-int8", "cpu-fp32-opt", "gpu-fp16")


@dataclass(frozen=True)
class TargetForm:
    """One optimization target: how it is made, and the accelerations that cannot run it well."""

    target: OptimizeTarget
    title: str
    method: str
    needs: str  # the onnxruntime build and runtime image variant the device needs
    poor_on: dict[str, str]  # acceleration -> why that acceleration cannot run this form well


_NVIDIA_INT8 = (
    "TensorRT builds INT8 engines from the Q/DQ pairs only on GPUs with INT8 tensor cores "
    "(TensorRT 8 or later); with only CUDA the pairs run as extra float work, slower than the "
    "original. Use the original or a gpu-fp16 form for this device"
)
_EXTENDED = (
    "the graph was fused for onnxruntime's CPU provider (com.microsoft fused operators such as "
    "FusedConv), which {providers} cannot take: those parts run on the device's CPU. Use the "
    "original for this device"
)

FORMS: dict[str, TargetForm] = {
    "cpu-int8": TargetForm(
        "cpu-int8",
        "INT8 for CPUs",
        "static INT8 quantization (QDQ, per-channel weights, uint8 activations) with onnxruntime",
        "any onnxruntime build (CPU image); fastest on CPUs with VNNI / dot-product instructions",
        {NVIDIA_DGPU: _NVIDIA_INT8, JETSON: _NVIDIA_INT8},
    ),
    "cpu-fp32-opt": TargetForm(
        "cpu-fp32-opt",
        "Float, graph optimised for CPUs",
        "onnxruntime graph optimisation (extended level, CPU provider), saved offline",
        "onnxruntime of the same version, CPU provider (CPU image)",
        {
            NVIDIA_DGPU: _EXTENDED.format(providers="TensorRT and CUDA"),
            JETSON: _EXTENDED.format(providers="TensorRT and CUDA"),
            INTEL_IGPU: _EXTENDED.format(providers="OpenVINO"),
        },
    ),
    "gpu-fp16": TargetForm(
        "gpu-fp16",
        "Float16 for GPUs",
        "float16 weights and activations (inputs and outputs kept float32) with onnxruntime",
        "onnxruntime-gpu (CUDA / TensorRT image) or onnxruntime-openvino (OpenVINO image)",
        {
            CPU: "onnxruntime's CPU provider has few float16 kernels: it casts around most "
            "operators and runs slower than the original. Use the original or a cpu-int8 form"
        },
    ),
}

assert all(a in ACCELERATIONS for form in FORMS.values() for a in form.poor_on)


def target_notes(target: str | None) -> dict[str, str]:
    """acceleration -> why an entry optimized for ``target`` does not suit it (empty: all suit)."""
    form = FORMS.get(target or "")
    if form is None:
        return {}
    return {
        acceleration: f"it is the {target} form ({form.method}); on {acceleration} {why}."
        for acceleration, why in form.poor_on.items()
    }
