"""Checking a deployment without running it: every skill on every camera, every problem located."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from designer.core.deployment.document import Deployment
from designer.core.deployment.runner import (
    DeploymentError,
    LoadedSkill,
    close_packages,
    load_skills,
    needed_params,
    resolve_camera,
    skill_on_camera,
)
from designer.core.package.secrets import secret_params
from designer.core.secrets import split_url_secrets
from designer.core.skill import find_placeholders, validate_skill
from designer.core.skill.fields import placeholders_in
from designer.core.skill.validate import check_files


@dataclass(frozen=True)
class DeploymentProblem:
    where: str  # "cameras[0] (Gate)" or "cameras[0].skills[1] (people.skill.json): node det [model_id]"
    severity: str  # "error" or "warning"
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def line(self, path: str) -> str:
        return f"{path}: {self.where}: {self.severity}: {self.message}"


@dataclass(frozen=True)
class DeploymentReview:
    """What checking found: the problems, and the ``$param`` names the run must be given."""

    problems: list[DeploymentProblem]
    needs: list[str]
    secrets: set[str]  # of those, the ones that feed a password or key: asked for masked


def review_deployment(
    deployment: Deployment, base_dir: Path, models: Any = None, *, target: bool = False
) -> DeploymentReview:
    """Load every skill once (packages unpacked and cleaned up again), then check it all."""
    try:
        loaded = load_skills(deployment, base_dir, where="deployment")
    except DeploymentError as exc:
        return DeploymentReview(
            [DeploymentProblem("skills", "error", str(exc).removeprefix("deployment: "))], [], set()
        )
    try:
        problems = _problems(deployment, base_dir, loaded, models, target)
        needs = needed_params(deployment, loaded)
        return DeploymentReview(problems, needs, secret_needs(deployment, loaded) & set(needs))
    finally:
        close_packages(loaded)


def secret_needs(deployment: Deployment, loaded: Mapping[str, LoadedSkill]) -> set[str]:
    """The ``$param`` names that feed a password or key on some camera (its own or a skill's)."""
    return {
        name
        for camera in deployment.cameras
        for ref in camera.skills
        for name in secret_params(skill_on_camera(loaded[ref.skill].skill, camera))
    }


def written_secrets(deployment: Deployment, loaded: Mapping[str, LoadedSkill]) -> list[DeploymentProblem]:
    """Secrets written in the file itself: a camera's password, a password or key in its URL,
    a camera entry's value for a ``$param`` that feeds a secret. A deployment file is shared
    and packaged; secrets belong on the device (``--param`` or ``SKILL_PARAM_<NAME>``)."""
    found: list[DeploymentProblem] = []
    on_device = "and give its value on the device (--param or SKILL_PARAM_<NAME>)"
    for index, camera in enumerate(deployment.cameras):
        where = f"cameras[{index}]"
        if camera.password and not placeholders_in(camera.password):
            found.append(
                DeploymentProblem(
                    f"{where}.password",
                    "warning",
                    f"a password written in the file: write $param(NAME) {on_device}",
                )
            )
        _, in_url = split_url_secrets(camera.source)
        if any(not placeholders_in(value) for key, value in in_url.items() if key != "username"):
            message = (
                f"a password or key written in the camera's URL: write $param(NAME) in its place {on_device}"
            )
            found.append(DeploymentProblem(f"{where}.source", "warning", message))
        for position, ref in enumerate(camera.skills):
            secret = secret_params(skill_on_camera(loaded[ref.skill].skill, camera))
            for name in sorted(secret & set(ref.params)):
                message = f"$param({name}) feeds a secret: leave it out of the camera entry {on_device}"
                found.append(
                    DeploymentProblem(f"{where}.skills[{position}].params.{name}", "warning", message)
                )
    return found


def check_deployment(
    deployment: Deployment, base_dir: Path, models: Any = None, *, target: bool = False
) -> list[DeploymentProblem]:
    """Every problem of the deployment: skills that cannot load or have errors, ``$param``
    values that name nothing, values a skill still needs, cameras without skills, passwords
    written in the file, video files that are not there."""
    return review_deployment(deployment, base_dir, models, target=target).problems


def _problems(
    deployment: Deployment, base_dir: Path, loaded: dict[str, LoadedSkill], models: Any, target: bool
) -> list[DeploymentProblem]:
    problems = written_secrets(deployment, loaded)
    if not deployment.cameras:
        problems.append(DeploymentProblem("cameras", "warning", "no cameras: nothing will run"))
    for index, camera in enumerate(deployment.cameras):
        where = f"cameras[{index}] ({camera.name})"
        if not camera.skills:
            problems.append(DeploymentProblem(where, "warning", "no skills: the camera is not read"))
        source = camera.source.strip()
        if not placeholders_in(source) and not source.isdigit() and "://" not in source:
            if not (base_dir / source).expanduser().is_file():
                problems.append(
                    DeploymentProblem(f"{where}.source", "error", f"video file {source} not found")
                )
        for position, ref in enumerate(camera.skills):
            skill_where = f"cameras[{index}].skills[{position}] ({ref.skill})"
            entry = loaded[ref.skill]
            skill = skill_on_camera(entry.skill, resolve_camera(camera, base_dir))
            used = find_placeholders(skill)
            for name in ref.params:
                if name not in used:
                    known = ", ".join(used) or "none"
                    problems.append(
                        DeploymentProblem(
                            f"{skill_where}.params.{name}",
                            "error",
                            f"the skill has no $param({name}); its parameters are {known}",
                        )
                    )
            for name in used:
                if name not in ref.params and name not in entry.defaults:
                    problems.append(
                        DeploymentProblem(
                            skill_where, "warning", f"$param({name}) needs --param {name}=VALUE"
                        )
                    )
            found = validate_skill(skill, None if entry.is_package else models, target=target)
            found += check_files(skill, entry.folder)
            for problem in found:
                problems.append(
                    DeploymentProblem(
                        f"{skill_where}: {problem.located()}",
                        str(problem.severity),
                        f"{problem.code}: {problem.message}",
                    )
                )
    return problems
