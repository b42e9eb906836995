"""Import group: where frames come from."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from designer.core.skill.catalog.spec import Group, NodeSpec, Params, Role
from designer.core.skill.fields import deploy_field

RESOLUTION_RE = re.compile(r"^(\d{2,5}x\d{2,5})?$")


class CameraParams(Params):
    source: str = deploy_field(
        min_length=1,
        title="Source",
        description=(
            "Webcam index (0, 1, ...), an RTSP or HTTP URL (rtsp://host:554/stream), or a video "
            "file. Use $param(rtsp) when each device has its own camera."
        ),
    )
    loop: bool = Field(True, title="Loop video file", description="Restart a video file at its end.")
    username: str = deploy_field("", title="User name", description="Camera user, if it needs one.")
    password: str = deploy_field(
        "",
        secret=True,
        title="Password",
        description="Camera password. Never written into exported packages: use $param(...).",
    )
    resolution: str = Field(
        "",
        title="Resolution hint",
        description="Requested capture size as WIDTHxHEIGHT, e.g. 1280x720; empty = camera default.",
    )

    @field_validator("resolution")
    @classmethod
    def _resolution_shape(cls, value: str) -> str:
        if not RESOLUTION_RE.match(value):
            raise ValueError("use WIDTHxHEIGHT, for example 1280x720, or leave it empty")
        return value


CAMERA = NodeSpec(
    kind="camera",
    version=1,
    title="Camera Input",
    group=Group.IMPORT,
    role=Role.SOURCE,
    params=CameraParams,
    description="Frames from a webcam, an RTSP/HTTP camera or a video file. Every skill has one.",
    inputs=(),
    keywords=("rtsp", "webcam", "video", "source"),
)

SPECS = (CAMERA,)
