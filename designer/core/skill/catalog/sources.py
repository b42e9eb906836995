"""Import group: where frames come from."""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from designer.core.secrets import mask_secrets, url_scheme
from designer.core.skill.catalog import kan_codecs
from designer.core.skill.catalog.spec import Data, Group, NodeSpec, Params, Port, Role
from designer.core.skill.fields import CAMERA_URL_SCHEMES, PLACEHOLDER_RE, Mark, deploy_field

RESOLUTION_RE = re.compile(r"^(\d{2,5}x\d{2,5})?$")


class CameraParams(Params):
    source: str = deploy_field(
        min_length=1,
        marks=(Mark.READS,),
        file_types="Video files (*.mp4 *.avi *.mkv *.mov *.webm);;All files (*)",
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

    def cross_checks(self) -> list[tuple[str, ...]]:
        """A URL with a scheme OpenCV would take for a file name (htp://, file://, udp://) is named."""
        scheme = None if PLACEHOLDER_RE.search(self.source) else url_scheme(self.source)
        if scheme is None or scheme in CAMERA_URL_SCHEMES:
            return []
        allowed = ", ".join(f"{s}://" for s in CAMERA_URL_SCHEMES)
        return [
            (
                "source",
                f"The camera source {mask_secrets(self.source)!r} uses {scheme}://, which is not "
                f"supported: use {allowed}, a webcam index or a video file path.",
                "camera-scheme-unsupported",
            )
        ]


CAMERA = NodeSpec(
    kind="camera",
    version=1,
    title="Camera Input",
    group=Group.IMPORT,
    role=Role.SOURCE,
    params=CameraParams,
    description="Frames from a webcam, an RTSP/HTTP camera or a video file. Every skill has one.",
    runtime="",  # the engine opens the source itself
    icon="camera",
    inputs=(),
    outputs=(Port("out", provides=frozenset({Data.FRAMES})),),
    keywords=("rtsp", "webcam", "video", "source"),
    kan=kan_codecs.CAMERA,
)

SPECS = (CAMERA,)
