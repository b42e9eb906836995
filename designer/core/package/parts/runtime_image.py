"""No file: warnings about the runtime image the deployment files name. Devices pull it, so it
must name a registry the user pushed it to, and a skill that asks for a GPU needs the build
for it (``packaging/runtime/Dockerfile`` and its variants)."""

from __future__ import annotations

from designer.core.package.context import ExportContext
from designer.core.package.parts import PartOutput
from designer.core.skill.compiled import CompiledSkill

# acceleration -> words an image name for that build holds (the Dockerfile's suggested tags)
BUILDS = {
    "Nvidia dGPU": ("cuda", "gpu", "tensorrt"),
    "Nvidia Jetson (Jetpack 5)": ("jetson", "l4t", "jetpack"),
    "Intel iGPU": ("openvino",),
}
PUSH = (
    "build packaging/runtime/Dockerfile (see its variants), push it to your registry and export with "
    "--runtime-image REGISTRY/skill-designer-runtime:TAG"
)


def has_registry(image: str) -> bool:
    """Whether an image reference names a registry (``host.domain/...``, ``host:port/...``,
    ``localhost/...``): without one, devices pull from Docker Hub."""
    first, sep, _ = image.partition("/")
    return bool(sep) and ("." in first or ":" in first or first == "localhost")


def warnings(image: str, acceleration: str) -> list[str]:
    found = []
    if not has_registry(image):
        found.append(
            f"the runtime image {image!r} names no registry, so devices would pull it from Docker Hub: {PUSH}"
        )
    words = BUILDS.get(acceleration)
    if words and not any(word in image.lower() for word in words):
        found.append(
            f"the skill runs on {acceleration} but the runtime image {image!r} does not look like that "
            f"build (its name holds none of {', '.join(words)}); the CPU build would run every model on "
            f"the CPU: {PUSH}"
        )
    return found


def part(compiled: CompiledSkill, context: ExportContext) -> PartOutput:
    image, acceleration = context.runtime_image, compiled.skill.settings.acceleration
    return PartOutput({}, warnings(image, acceleration))
