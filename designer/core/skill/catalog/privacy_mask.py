"""Process group: Privacy Mask, which blurs or pixelates the boxes of chosen labels."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from designer.core.skill.catalog.process import _clean_labels
from designer.core.skill.catalog.spec import Data, Group, Need, NodeSpec, Params, Port, Role
from designer.core.skill.fields import Mark, field


class PrivacyMaskParams(Params):
    labels: list[str] = field(
        default_factory=list,
        marks=(Mark.LABELS,),
        title="Objects",
        description="Mask only these labels (e.g. face, person, licence plate); empty = every object.",
    )
    method: Literal["blur", "pixelate"] = Field(
        "blur", title="Method", description="Blur the box, or turn it into coarse blocks of colour."
    )
    strength: int = Field(
        20,
        ge=1,
        le=100,
        title="Strength (%)",
        description="How much is hidden, as a percent of the box's smaller side: the blur's spread "
        "(sigma is half of it) or the side of a pixel block; higher hides more.",
    )
    padding: int = Field(
        10,
        ge=0,
        le=100,
        title="Padding (%)",
        description="Percent of the box's width and height added on each side, so edges are hidden too.",
    )
    confidence_threshold: int = Field(
        0,
        ge=0,
        le=100,
        title="Confidence threshold (%)",
        description="Mask objects at or above it; 0 = every detection, the safe choice for privacy.",
    )

    _labels = field_validator("labels")(_clean_labels)


PRIVACY_MASK = NodeSpec(
    kind="privacy-mask",
    version=1,
    title="Privacy Mask",
    group=Group.PROCESS,
    role=Role.TRANSFORM,
    params=PrivacyMaskParams,
    runtime="designer.core.engine.nodes.privacy_mask:PrivacyMaskRuntime",
    icon="filter",
    inputs=(
        Port(
            "in",
            needs=(
                Need(
                    Data.BOXES,
                    "privacy-mask-needs-boxes",
                    "No detector or gRPC node runs before this Privacy Mask, so there are no boxes "
                    "and nothing will be masked: add a detector before it.",
                ),
            ),
        ),
    ),
    description=(
        "Blurs or pixelates the boxes of chosen labels (faces, people, licence plates) from a detector "
        "upstream. Clips, exports and the preview downstream show the masked pixels; the insights pass "
        "on unchanged."
    ),
    keywords=(
        "privacy",
        "blur",
        "pixelate",
        "anonymize",
        "anonymise",
        "face",
        "license plate",
        "gdpr",
        "redact",
    ),
    kan=None,
)

SPECS = (PRIVACY_MASK,)
