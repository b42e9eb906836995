"""What a target device needs to run a model, as far as onnxruntime's own tables tell.

The design machine and the device differ: a skill for a Jetson is designed on a laptop
without CUDA. The preview runs on what this machine has (``providers_for`` falls back to
the CPU); a package declares the execution providers its acceleration needs, and the
model's operators are checked against onnxruntime's kernel registrations: the CPU
kernels every provider falls back to, and the target provider's own kernels when this
onnxruntime build has them (a CPU-only build does not know CUDA's table; TensorRT and
OpenVINO compile whole graphs and publish no per-operator table at all).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import onnx

from designer.core.models.errors import ModelError
from designer.core.models.providers import PROVIDERS

CPU_PROVIDER = "CPUExecutionProvider"
ONNX_DOMAINS = ("", "ai.onnx")
# Nodes onnxruntime folds into initializers when it loads the graph: they need no kernel.
GRAPH_LEVEL_OPS = {("", "Constant")}


@dataclass(frozen=True)
class OpUse:
    """One operator a model uses, with the opset its domain is imported at."""

    domain: str
    op_type: str
    opset: int

    def describe(self) -> str:
        domain = self.domain or "ai.onnx"
        return f"{self.op_type} ({domain} opset {self.opset})"


@dataclass
class TargetReport:
    """Operators checked for one model and one acceleration."""

    acceleration: str
    providers: tuple[str, ...]
    opset: int
    missing: list[OpUse] = field(default_factory=list)
    """Operators with no CPU kernel: the model cannot run on any device with this onnxruntime."""
    cpu_fallback: dict[str, list[OpUse]] = field(default_factory=dict)
    """Per target provider with a table here: operators it lacks, which run on the CPU."""
    unchecked: list[str] = field(default_factory=list)
    """Target providers whose operator table this onnxruntime does not have."""

    @property
    def runnable(self) -> bool:
        return not self.missing


def target_providers(acceleration: str) -> list[str]:
    """The execution providers a device with this acceleration needs, CPU last (the fallback)."""
    if acceleration not in PROVIDERS:
        raise ValueError(f"unknown acceleration {acceleration!r}; choose one of {', '.join(PROVIDERS)}")
    providers = list(PROVIDERS[acceleration])
    return providers if CPU_PROVIDER in providers else [*providers, CPU_PROVIDER]


@cache
def kernel_table() -> dict[str, dict[tuple[str, str], tuple[tuple[int, int], ...]]]:
    """provider -> (domain, op) -> opset ranges with a kernel, from this onnxruntime build."""
    from onnxruntime.capi import _pybind_state as C

    table: dict[str, dict[tuple[str, str], list[tuple[int, int]]]] = {}
    for kernel in C.get_all_opkernel_def():
        domain = "" if kernel.domain == "ai.onnx" else kernel.domain
        ops = table.setdefault(kernel.provider, {})
        ops.setdefault((domain, kernel.op_name), []).append(tuple(kernel.version_range))
    return {p: {op: tuple(sorted(set(r))) for op, r in ops.items()} for p, ops in table.items()}


def _graphs(graph: onnx.GraphProto) -> Iterable[onnx.GraphProto]:
    """The graph and every subgraph (If/Loop/Scan bodies), which need kernels too."""
    yield graph
    for node in graph.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _graphs(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for sub in attr.graphs:
                    yield from _graphs(sub)


def model_operators(path: str | Path) -> tuple[int, list[OpUse]]:
    """The model's ai.onnx opset and every operator it uses (sorted, once each)."""
    path = Path(path)
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors and missing files
        raise ModelError(f"model {path}: cannot read it to check its operators ({exc})") from None
    opsets = {("" if o.domain == "ai.onnx" else o.domain): o.version for o in proto.opset_import}
    uses = {
        OpUse(
            node.domain if node.domain != "ai.onnx" else "",
            node.op_type,
            opsets.get(node.domain if node.domain != "ai.onnx" else "", 1),
        )
        for graph in _graphs(proto.graph)
        for node in graph.node
    }
    return opsets.get("", 0), sorted(uses, key=lambda u: (u.domain, u.op_type))


def _has_kernel(ops: dict, use: OpUse) -> bool:
    return any(lo <= use.opset <= hi for lo, hi in ops.get((use.domain, use.op_type), ()))


@cache
def _expanded(use: OpUse) -> bool:
    """Operators onnxruntime replaces by their ONNX function body when it loads the model
    (HardSwish, CastLike ...): they run as the operators of that body, with no kernel of their own."""
    try:
        schema = onnx.defs.get_schema(use.op_type, use.opset, use.domain)
    except Exception:  # no such operator at that opset, or a domain ONNX does not know
        return False
    # Both properties exist on the C++ binding (onnx 1.13+); onnx's own defs.pyi omits them.
    return bool(schema.has_function or schema.has_context_dependent_function)  # type: ignore[attr-defined]


def check_target(path: str | Path, acceleration: str) -> TargetReport:
    """Check a model's operators for a device with ``acceleration``."""
    providers = target_providers(acceleration)
    opset, uses = model_operators(path)
    table = kernel_table()
    cpu = table.get(CPU_PROVIDER, {})
    needed = [u for u in uses if (u.domain, u.op_type) not in GRAPH_LEVEL_OPS]
    report = TargetReport(acceleration, tuple(providers), opset)
    needed = [u for u in needed if not (not _has_kernel(cpu, u) and _expanded(u))]
    report.missing = [u for u in needed if not _has_kernel(cpu, u)]
    for provider in providers:
        if provider == CPU_PROVIDER:
            continue
        if provider not in table:
            report.unchecked.append(provider)
            continue
        lacking = [u for u in needed if not _has_kernel(table[provider], u)]
        if lacking:
            report.cpu_fallback[provider] = lacking
    return report
