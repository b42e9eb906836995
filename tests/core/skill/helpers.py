"""Small builders shared by the skill tests: a clean cascade to break one rule at a time."""

from __future__ import annotations

from dataclasses import dataclass, field

from designer.core.skill import Skill, validate_skill
from designer.core.skill.build import add_node, auto_layout, chain
from designer.core.skill.document import Settings

# Parameters that make each node type valid; everything else keeps the spec's defaults.
VALID_PARAMS: dict[str, dict] = {
    "camera@1": {"source": "0"},
    "model@1": {"model_path": "models/detector.onnx"},
    "filter@1": {},
    "grpc-endpoint@1": {"endpoint_url": "127.0.0.1:6677"},
    "grpc-container@1": {"container_name": "counter", "container_image": "registry/counter:1", "port": 6677},
    "tracker@1": {},
    "zone@1": {},
    "privacy-mask@1": {},
    "video-snippet@1": {"filename_prefix": "clip"},
    "iothub@1": {},
    "iotedge@1": {"module_name": "counter", "module_input": "insights"},
    "mqtt@1": {},
    "http@1": {"url": "http://127.0.0.1:8080/insights"},
    "insights-log@1": {},
}


def cascade(name: str = "cascade") -> Skill:
    """camera -> detector -> filter -> iothub: valid, with no warnings."""
    skill = Skill(settings=Settings(name=name))
    add_node(skill, "camera@1", "camera", **VALID_PARAMS["camera@1"])
    add_node(skill, "model@1", "detector", **VALID_PARAMS["model@1"])
    add_node(skill, "filter@1", "filter", labels=["person", "traffic light"])
    add_node(skill, "iothub@1", "hub")
    chain(skill, "camera", "detector", "filter", "hub")
    return auto_layout(skill)


def codes(skill: Skill, models=None) -> list[str]:
    return [p.code for p in validate_skill(skill, models)]


@dataclass(frozen=True)
class ModelSummary:
    task: str
    accelerations: set[str] = field(default_factory=lambda: {"CPU"})


class ModelTable:
    """An in-memory model library: the ModelLookup interface validation is given."""

    def __init__(self, **models: ModelSummary) -> None:
        self.models = models

    def describe(self, model_id: str) -> ModelSummary | None:
        return self.models.get(model_id)
