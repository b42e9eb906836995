"""Node runtimes, one module per node kind.

Imported lazily: a skill without a model node never loads onnxruntime, and
the headless runner starts fast.
"""

from __future__ import annotations

import importlib

from designer.core.engine.runtime import NodeRuntime

RUNTIMES = {
    "model": "model:ModelRuntime",
    "filter": "filter:FilterRuntime",
    "grpc-endpoint": "grpc:GrpcRuntime",
    "grpc-container": "grpc:GrpcRuntime",
    "tracker": "tracker:TrackerRuntime",
    "zone": "zone:ZoneRuntime",
    "insights-log": "insights_log:InsightsLogRuntime",
    "video-snippet": "video_snippet:VideoSnippetRuntime",
    "iothub": "iothub:IotHubRuntime",
    "iotedge": "iotedge:IotEdgeRuntime",
    "mqtt": "mqtt:MqttRuntime",
    "http": "http:HttpRuntime",
}


def runtime_for(kind: str) -> type[NodeRuntime] | None:
    """The runtime class of a catalog node kind; None when this version cannot run it."""
    target = RUNTIMES.get(kind)
    if target is None:
        return None
    module, name = target.split(":")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
