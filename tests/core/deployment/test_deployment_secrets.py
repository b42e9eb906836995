"""Secrets written in a deployment file: warned about where it is edited and checked, refused
where it would be packaged; each one located by camera, skill and field."""

from __future__ import annotations

import re
import zipfile

import pytest
from engine_helpers import skill_of

from designer.core.deployment import Camera, Deployment, SkillRef, save_deployment
from designer.core.deployment.check import review_deployment
from designer.core.deployment.package import DeploymentPackageError, export_deployment
from designer.core.skill import save_skill

TOKEN = "tok-9f8e7d6c5b4a"


@pytest.fixture
def folder(tmp_path):
    skill = skill_of(
        ("cam", "camera@1", {"source": "0"}),
        ("keep", "filter@1", {}),
        ("post", "http@1", {"url": "http://127.0.0.1:9/in", "bearer_token": "$param(token)"}),
        ("log", "insights-log@1", {"path": "$param(log)"}),
        links=[("cam", "keep"), ("keep", "post"), ("keep", "log")],
    )
    skill.settings.name = "Post"
    save_skill(skill, tmp_path / "post.skill.json")
    return tmp_path


def _deployment(folder, *, source="rtsp://cam.local/1", params=None, password="$param(pw)") -> None:
    ref = SkillRef(skill="post.skill.json", params={"log": "a.jsonl", **(params or {})})
    camera = Camera(name="Gate", source=source, username="viewer", password=password, skills=[ref])
    save_deployment(Deployment(name="Site", cameras=[camera]), folder / "site.deploy.json")


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"params": {"token": TOKEN}}, "cameras[0].skills[0].params.token"),
        ({"source": f"rtsp://viewer:{TOKEN}@cam.local/1"}, "cameras[0].source"),
        ({"source": f"https://cam.local/mjpeg?token={TOKEN}"}, "cameras[0].source"),
        ({"password": TOKEN}, "cameras[0].password"),
    ],
)
def test_a_secret_in_the_file_is_warned_about_and_never_packaged(folder, kwargs, where):
    from designer.core.deployment import load_deployment

    _deployment(folder, **kwargs)
    review = review_deployment(load_deployment(folder / "site.deploy.json"), folder)
    found = [p for p in review.problems if p.where == where]
    assert found and found[0].severity == "warning" and "give its value on the device" in found[0].message
    out = folder / "site.deploy.zip"
    with pytest.raises(DeploymentPackageError, match=re.escape(f"site.deploy.json: {where}: ")):
        export_deployment(folder / "site.deploy.json", out)
    assert not out.exists()
    assert TOKEN not in str(found[0].message)


def test_secrets_given_on_the_device_are_asked_for_and_not_in_the_package(folder):
    from designer.core.deployment import load_deployment

    _deployment(folder)
    review = review_deployment(load_deployment(folder / "site.deploy.json"), folder)
    assert [p for p in review.problems if "secret" in p.message or "password" in p.message] == []
    assert review.needs == ["pw", "token"] and review.secrets == {"pw", "token"}
    report = export_deployment(folder / "site.deploy.json", folder / "site.deploy.zip")
    with zipfile.ZipFile(report.path) as archive:
        everything = b"".join(archive.read(name) for name in archive.namelist())
    assert b"$param(token)" in everything or b"SKILL_PARAM_TOKEN" in everything
