"""Execution providers per acceleration, with a CPU fallback that says so."""

from __future__ import annotations

from collections.abc import Callable, Sequence

CPU = "CPU"
NVIDIA_DGPU = "Nvidia dGPU"
JETSON = "Nvidia Jetson (Jetpack 5)"
INTEL_IGPU = "Intel iGPU"
ACCELERATIONS = (CPU, NVIDIA_DGPU, JETSON, INTEL_IGPU)

PROVIDERS: dict[str, tuple[str, ...]] = {
    CPU: ("CPUExecutionProvider",),
    NVIDIA_DGPU: ("TensorrtExecutionProvider", "CUDAExecutionProvider"),
    JETSON: ("TensorrtExecutionProvider", "CUDAExecutionProvider"),
    INTEL_IGPU: ("OpenVINOExecutionProvider",),
}
RUNNABLE_FORMATS = ("ONNX",)


def providers_for(
    acceleration: str,
    on_warning: Callable[[str], None] | None = None,
    available: Sequence[str] | None = None,
) -> list[str]:
    """The installed providers for ``acceleration``, in preference order, ending with CPU.

    When none of the acceleration's providers is installed the model still runs on the
    CPU, and ``on_warning`` hears about it (the engine shows it as a warning event).
    """
    if acceleration not in PROVIDERS:
        raise ValueError(f"unknown acceleration {acceleration!r}; choose one of {', '.join(ACCELERATIONS)}")
    installed = set(_installed() if available is None else available)
    chosen = [p for p in PROVIDERS[acceleration] if p in installed]
    if not chosen and acceleration != CPU and on_warning is not None:
        on_warning(
            f"{acceleration}: none of {', '.join(PROVIDERS[acceleration])} is installed "
            "in onnxruntime here; running on the CPU instead"
        )
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def supported_accelerations(model_format: str = "ONNX", available: Sequence[str] | None = None) -> list[str]:
    """Accelerations a model of this format can use with the installed providers.

    CPU is always there for ONNX models; the others only when one of their providers
    is installed (validation flags a skill whose acceleration is not in this list).
    """
    if model_format.upper() not in RUNNABLE_FORMATS:
        return []
    installed = set(_installed() if available is None else available)
    return [a for a in ACCELERATIONS if any(p in installed for p in PROVIDERS[a])]


def _installed() -> list[str]:
    import onnxruntime as ort  # here, not at import: listing the library must not load it

    return list(ort.get_available_providers())
