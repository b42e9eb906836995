"""Deployments: several cameras on one device, each running its skills, sharing models (no Qt)."""

from designer.core.deployment.document import (
    DEPLOYMENT_SUFFIX,
    Camera,
    Deployment,
    DeploymentFileError,
    Device,
    SkillRef,
    dump_deployment,
    is_deployment,
    load_deployment,
    parse_deployment,
    save_deployment,
)

__all__ = [
    "DEPLOYMENT_SUFFIX",
    "Camera",
    "Deployment",
    "DeploymentFileError",
    "Device",
    "SkillRef",
    "dump_deployment",
    "is_deployment",
    "load_deployment",
    "parse_deployment",
    "save_deployment",
]
