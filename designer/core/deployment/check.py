"""Checking a deployment without running it: every skill on every camera, every problem located."""

from __future__ import annotations

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
        secrets = {
            name
            for camera in deployment.cameras
            for ref in camera.skills
            for name in secret_params(skill_on_camera(loaded[ref.skill].skill, camera))
        }
        return DeploymentReview(problems, needs, secrets & set(needs))
    finally:
        close_packages(loaded)


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
    problems: list[DeploymentProblem] = []
    if not deployment.cameras:
        problems.append(DeploymentProblem("cameras", "warning", "no cameras: nothing will run"))
    for index, camera in enumerate(deployment.cameras):
        where = f"cameras[{index}] ({camera.name})"
        if not camera.skills:
            problems.append(DeploymentProblem(where, "warning", "no skills: the camera is not read"))
        if camera.password and not placeholders_in(camera.password):
            problems.append(
                DeploymentProblem(
                    f"{where}.password", "warning", "a password in the file: use $param(NAME) and --param"
                )
            )
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
