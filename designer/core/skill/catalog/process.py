"""Process group: models, filters, custom gRPC servers, tracking and zones."""

from __future__ import annotations

import json
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from designer.core.skill.catalog import kan_codecs
from designer.core.skill.catalog.spec import Data, Group, Need, NodeSpec, Params, Port, Role
from designer.core.skill.fields import ACCELERATIONS, Mark, check_host_port, deploy_field, field
from designer.core.skill.problems import Problem, error

LAYOUTS = ("auto", "yolov5", "yolov8", "ssd", "boxes_scores", "classification")
CONTAINER_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
ROUTE_RE = re.compile(r"^(/[A-Za-z0-9_\-/]*)?$")
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ARCH_ACCELERATIONS = {
    "X64": ("CPU", "Nvidia dGPU", "Intel iGPU"),
    "ARM64": ("Nvidia Jetson (Jetpack 5)",),
}


def _clean_labels(labels: list[str]) -> list[str]:
    cleaned = [label.strip() for label in labels]
    if any(not label for label in cleaned):
        raise ValueError("labels must not be empty")
    return cleaned


class ModelParams(Params):
    model_id: str = field(
        "",
        marks=(Mark.MODEL, Mark.RESTART),
        title="Model",
        description="Id of a model in the model library. Leave empty to name files instead.",
    )
    model_path: str = field(
        "",
        marks=(Mark.READS, Mark.RESTART),
        file_types="ONNX models (*.onnx);;All files (*)",
        title="ONNX file",
        description="An ONNX file, when the model is not in the library.",
    )
    labels_path: str = field(
        "",
        marks=(Mark.READS, Mark.RESTART),
        file_types="Label files (*.txt);;All files (*)",
        title="Label file",
        description="One label per line. Empty: labels come from the model's metadata.",
    )
    model_type: Literal["auto", "detection", "classification"] = field(
        "auto",
        marks=(Mark.RESTART,),
        title="Model type",
        description="Object detection or classification; auto = from the model.",
    )
    confidence_threshold: int = Field(
        30, ge=0, le=100, title="Confidence threshold (%)", description="Drop results below it."
    )
    layout: Literal[LAYOUTS] = Field(  # type: ignore[valid-type]
        "auto", title="Output layout", description="How to read the model's outputs; auto = detect."
    )
    objectness_premultiplied: bool | None = Field(
        None,
        title="Class scores include objectness",
        description="YOLOv5-style outputs whose class scores are already multiplied by objectness; "
        "empty = measured when the model loads.",
    )
    nms_iou: float = Field(0.45, ge=0, le=1, title="NMS IoU", description="Overlap above which boxes merge.")
    max_detections: int = Field(100, ge=1, le=10000, title="Max detections per frame")
    color_order: Literal["auto", "RGB", "BGR"] = Field("auto", title="Input colour order")
    resize: Literal["auto", "stretch", "letterbox"] = Field("auto", title="Resize")
    pixel_scale: float | None = Field(
        None, gt=0, title="Pixel scale", description="Multiply pixels by this (auto: 1/255)."
    )
    mean: list[float] | None = Field(None, min_length=3, max_length=3, title="Mean (per channel)")
    std: list[float] | None = Field(None, min_length=3, max_length=3, title="Std (per channel)")
    threads: int = Field(0, ge=0, le=64, title="Threads", description="Inference threads; 0 = auto.")

    def cross_checks(self) -> list[tuple[str, str]]:
        if not self.model_id and not self.model_path:
            return [("model_id", "choose a model from the library, or name an ONNX file")]
        if self.model_id and self.model_path:
            return [("model_path", "name either a library model or an ONNX file, not both")]
        return []

    def preprocess_overrides(self) -> dict:
        """The pre-processing this node sets itself ("auto" and empty left out), as the
        model inspection takes it: read once here by the engine and the package exporter."""
        values = {
            "color": None if self.color_order == "auto" else self.color_order,
            "resize": None if self.resize == "auto" else self.resize,
            "scale": self.pixel_scale,
            "mean": tuple(self.mean) if self.mean else None,
            "std": tuple(self.std) if self.std else None,
        }
        return {key: value for key, value in values.items() if value is not None}

    def settings_with(
        self, entry: Any = None
    ) -> tuple[Literal["detection", "classification"] | None, str | dict | None, dict]:
        """(task, layout, pre-processing) the model runs with: this node's own settings over those
        saved with the library model ``entry`` when it was added (None: the node names its files).
        The one merge: the engine opens the model with it, the package exporter states it."""
        saved = entry.overrides if entry is not None else None
        task = self.model_type if self.model_type != "auto" else entry.type if entry is not None else None
        layout = self.layout if self.layout != "auto" else saved.layout if saved is not None else None
        preprocess = {**(saved.preprocess if saved is not None else {}), **self.preprocess_overrides()}
        return task, layout, preprocess


def model_task(node) -> str:
    """A compiled model node's task: its own setting, else what the library says of its model."""
    task = node.params.model_type if node.params is not None else "auto"
    if task == "auto" and node.model is not None:
        task = node.model.task
    return task


def _is_classifier(node) -> bool:
    return model_task(node) == "classification"


MODEL = NodeSpec(
    kind="model",
    version=1,
    title="Run ML Model",
    group=Group.PROCESS,
    role=Role.MODEL,
    params=ModelParams,
    runtime="designer.core.engine.nodes.model:ModelRuntime",
    icon="model",
    inputs=(
        Port(
            "in",
            needs=(
                Need(
                    Data.BOXES,
                    "classifier-on-whole-frame",
                    "No detector or gRPC node runs before this classifier, so it classifies the whole frame.",
                    when=_is_classifier,
                ),
            ),
        ),
    ),
    outputs=(
        Port(
            "out",
            provides=lambda node: frozenset({Data.CLASSES if _is_classifier(node) else Data.BOXES}),
        ),
    ),
    description=(
        "Runs an ONNX detector or classifier. A classifier after a detector classifies each "
        "box's crop and adds the result as an attribute of the object."
    ),
    keywords=("onnx", "detector", "classifier", "inference", "yolo"),
    kan=kan_codecs.MODEL,
)


class FilterParams(Params):
    labels: list[str] = field(
        default_factory=list,
        marks=(Mark.LABELS,),
        title="Objects",
        description="Keep only these labels (labels may contain spaces); empty = all labels.",
    )
    confidence_threshold: int = Field(
        0, ge=0, le=100, title="Confidence threshold (%)", description="Keep objects at or above it."
    )

    _labels = field_validator("labels")(_clean_labels)


FILTER = NodeSpec(
    kind="filter",
    version=1,
    title="Filter",
    group=Group.PROCESS,
    role=Role.TRANSFORM,
    params=FilterParams,
    runtime="designer.core.engine.nodes.filter:FilterRuntime",
    icon="filter",
    description="Keeps the objects whose label is listed and whose confidence is high enough.",
    keywords=("labels", "confidence", "threshold"),
    kan=kan_codecs.FILTER,
)


#: A custom server may detect, track and classify.
CUSTOM_RESULTS = frozenset({Data.BOXES, Data.TRACKS, Data.CLASSES})


def _grpc_endpoint(value: str) -> str:
    return check_host_port(value, schemes=("grpc", "grpcs"))


class GrpcEndpointParams(Params):
    endpoint_url: str = deploy_field(
        min_length=1,
        title="Endpoint URL",
        description="host:port of your server; grpcs://host:port for TLS.",
    )
    timeout_s: float = Field(2.0, gt=0, le=600, title="Call timeout (s)")

    _endpoint = field_validator("endpoint_url")(_grpc_endpoint)


GRPC_ENDPOINT = NodeSpec(
    kind="grpc-endpoint",
    version=1,
    title="gRPC Custom Processing (Endpoint URL)",
    group=Group.PROCESS,
    role=Role.TRANSFORM,
    params=GrpcEndpointParams,
    runtime="designer.core.engine.nodes.grpc:GrpcRuntime",
    icon="plug",
    outputs=(Port("out", provides=CUSTOM_RESULTS),),
    description="Sends each frame to your own gRPC server (custom-node contract) at an address.",
    keywords=("grpc", "custom", "server", "endpoint"),
    kan=kan_codecs.GRPC_ENDPOINT,
)


class EnvVar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(title="Name")
    value: str = deploy_field("", title="Value")

    @field_validator("name")
    @classmethod
    def _name_shape(cls, value: str) -> str:
        if not ENV_NAME_RE.match(value):
            raise ValueError(f"{value!r} is not a valid environment variable name")
        return value


class GrpcContainerParams(Params):
    container_name: str = Field(
        title="Container name",
        description="Module/container name: lower-case letters, digits and '-'.",
    )
    container_image: str = deploy_field(
        min_length=1, title="Image URL", description="e.g. myregistry.azurecr.io/counter:1.0"
    )
    create_options: str = field(
        "", marks=(Mark.JSON,), title="Create options", description="Docker create options as a JSON object."
    )
    restart_policy: Literal["always", "never", "on-failure", "on-unhealthy"] = Field(
        "always", title="Restart policy"
    )
    port: int = Field(ge=1, le=65535, title="Port", description="Port the server listens on.")
    route: str = Field("", title="Route", description="Optional path, e.g. /grpc; usually empty.")
    env: list[EnvVar] = Field(default_factory=list, title="Environment variables")
    architecture: Literal["X64", "ARM64"] = Field("X64", title="CPU architecture")
    acceleration: Literal[ACCELERATIONS] = Field(  # type: ignore[valid-type]
        "CPU", title="Acceleration", description="Must match the skill's device acceleration."
    )
    preview_endpoint: str = deploy_field(
        "",
        title="Preview endpoint",
        description="Where the preview reaches your locally running container; empty = 127.0.0.1:<port>.",
    )
    timeout_s: float = Field(2.0, gt=0, le=600, title="Call timeout (s)")

    @field_validator("container_name")
    @classmethod
    def _container_name(cls, value: str) -> str:
        if not CONTAINER_NAME_RE.match(value):
            raise ValueError(
                f"{value!r} is not a valid container name: use lower-case letters, digits and '-' "
                "(at most 63, not starting or ending with '-')"
            )
        return value

    @field_validator("create_options")
    @classmethod
    def _create_options_json(cls, value: str) -> str:
        if not value.strip():
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"create options must be JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
            ) from None
        if not isinstance(parsed, dict):
            raise ValueError('create options must be a JSON object, e.g. {"HostConfig": {}}')
        return value

    @field_validator("route")
    @classmethod
    def _route_shape(cls, value: str) -> str:
        if not ROUTE_RE.match(value):
            raise ValueError("route must be empty or start with '/' followed by letters and digits")
        return value

    @field_validator("preview_endpoint")
    @classmethod
    def _preview(cls, value: str) -> str:
        return _grpc_endpoint(value) if value else value

    def cross_checks(self) -> list[tuple[str, str]]:
        problems = []
        allowed = ARCH_ACCELERATIONS[self.architecture]
        if self.acceleration not in allowed:
            problems.append(
                (
                    "acceleration",
                    f"{self.architecture} supports {', '.join(allowed)}, not {self.acceleration}",
                )
            )
        names = [var.name for var in self.env]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(("env", f"environment variable {name} is set twice"))
        return problems

    @property
    def local_endpoint(self) -> str:
        return self.preview_endpoint or f"127.0.0.1:{self.port}"


def _container_acceleration(node, skill) -> list[Problem]:
    """A container image is built for one acceleration: the skill's."""
    p, acceleration = node.params, skill.settings.acceleration
    if p is None or p.acceleration == acceleration:
        return []
    return [
        error(
            "acceleration-unsupported",
            f"Container {p.container_name!r} is built for {p.acceleration}, but the "
            f"skill runs on {acceleration}.",
            node.id,
            "acceleration",
        )
    ]


def deploy_container(node) -> dict:
    """Deploy hook (``NodeSpec.deploy``): what a fleet deployment adds for this node.

    A hook takes the compiled node and returns plain values as the user wrote them (``$param``
    placeholders kept; the package fills them): ``{"container": {...}}`` for a container the
    skill runtime reaches by name on the device (``env_param`` names the parameter holding its
    environment rows, ``endpoint_param`` the one the runtime dials), ``{"route": {...}}`` for an
    edgeHub route from a runtime module output (see ``exports.py``).
    """
    p = node.params
    return {
        "container": {
            "name": p.container_name,
            "image": p.container_image,
            "port": p.port,
            "restart_policy": p.restart_policy,
            "create_options": p.create_options,
            "env": [(var.name, var.value) for var in p.env],
            "acceleration": p.acceleration,
            "architecture": p.architecture,
            "env_param": "env",
            "endpoint_param": "preview_endpoint",
        }
    }


GRPC_CONTAINER = NodeSpec(
    kind="grpc-container",
    version=1,
    title="gRPC Custom Processing (Container)",
    group=Group.PROCESS,
    role=Role.TRANSFORM,
    params=GrpcContainerParams,
    runtime="designer.core.engine.nodes.grpc:GrpcRuntime",
    icon="container",
    outputs=(Port("out", provides=CUSTOM_RESULTS),),
    checks=(_container_acceleration,),
    deploy=deploy_container,
    description=(
        "Your gRPC server shipped as a container next to the skill; the exporter deploys it. "
        "The preview reaches it at a local endpoint."
    ),
    keywords=("grpc", "custom", "container", "docker", "module"),
    kan=kan_codecs.GRPC_CONTAINER,
)


class TrackerParams(Params):
    track_activation_threshold: float = Field(
        0.25, ge=0, le=1, title="Activation threshold", description="Confidence needed to start a track."
    )
    lost_track_buffer: int = Field(
        30, ge=1, le=1000, title="Lost track buffer (frames)", description="Keep a lost track this long."
    )
    minimum_matching_threshold: float = Field(0.8, ge=0, le=1, title="Matching threshold")
    minimum_consecutive_frames: int = Field(
        1, ge=1, le=100, title="Frames before an id", description="Frames a track needs before it gets an id."
    )


TRACKER = NodeSpec(
    kind="tracker",
    version=1,
    title="Object Tracker",
    group=Group.PROCESS,
    role=Role.TRANSFORM,
    params=TrackerParams,
    runtime="designer.core.engine.nodes.tracker:TrackerRuntime",
    icon="tracker",
    outputs=(Port("out", provides=frozenset({Data.TRACKS})),),
    description="Gives each object a tracking id that stays the same across frames (ByteTrack).",
    keywords=("track", "bytetrack", "id"),
)


class Point(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: float = Field(ge=0, le=1)
    y: float = Field(ge=0, le=1)


class ZoneParams(Params):
    roi_type: Literal["LINE", "POLYGON"] = Field(
        "LINE", title="Shape", description="Count line crossings, or objects inside a polygon."
    )
    name: str = Field("zone", min_length=1, title="Name", description="Named in the events it emits.")
    points: list[Point] = Field(
        default_factory=lambda: [Point(x=0.0, y=0.5), Point(x=1.0, y=0.5)],
        title="Points",
        description="Normalised (0..1) points: 2 for a line, 3 or more for a polygon.",
    )
    labels: list[str] = field(
        default_factory=list,
        marks=(Mark.LABELS,),
        title="Objects",
        description="Count only these labels; empty = all.",
    )
    anchor: Literal["center", "bottom_center", "top_center"] = Field(
        "bottom_center", title="Anchor", description="Which point of a box must cross or be inside."
    )

    _labels = field_validator("labels")(_clean_labels)

    def cross_checks(self) -> list[tuple[str, str]]:
        pts = [(p.x, p.y) for p in self.points]
        if self.roi_type == "LINE" and (len(pts) != 2 or pts[0] == pts[1]):
            return [("points", "a line needs exactly 2 different points")]
        if self.roi_type == "POLYGON" and len(set(pts)) < 3:
            return [("points", "a polygon needs at least 3 different points")]
        return []


ZONE = NodeSpec(
    kind="zone",
    version=1,
    title="Line Crossing / Zone",
    group=Group.PROCESS,
    role=Role.TRANSFORM,
    params=ZoneParams,
    runtime="designer.core.engine.nodes.zone:ZoneRuntime",
    icon="zone",
    inputs=(
        Port(
            "in",
            needs=(
                Need(
                    Data.TRACKS,
                    "zone-needs-tracker",
                    "A line counts objects with tracking ids: add an Object Tracker before it, or no "
                    "crossing will be counted.",
                    when=lambda node: node.params is not None and node.params.roi_type == "LINE",
                ),
            ),
        ),
    ),
    outputs=(Port("out", provides=frozenset({Data.EVENTS})),),
    description="Counts objects crossing a line (per direction) or inside a polygon; emits events.",
    keywords=("line", "polygon", "count", "roi", "zone", "crossing"),
)

SPECS = (MODEL, FILTER, GRPC_ENDPOINT, GRPC_CONTAINER, TRACKER, ZONE)
