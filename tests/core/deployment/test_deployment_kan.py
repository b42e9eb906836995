"""KAN Instance resources in, KAN Instance resources out."""

from __future__ import annotations

import yaml

from designer.cli import main
from designer.core.deployment import load_deployment
from designer.core.deployment.kan import export_kan_instances, import_kan_instances

# What KAN's portal writes (deployments/models.py + symphony_client.py): alias-prefixed
# parameters per camera x skill, configure_data, credentials inside the rtsp URL.
PORTAL_INSTANCE = """
apiVersion: solution.symphony/v1
kind: Instance
metadata:
  name: instance-6f1c2b0a-8d4e-4e59-9a51-0d7d1f0c2a11
  labels: {site: lot-a}
spec:
  displayName: Parking lot
  solution: orin-1-solution
  target: {name: orin-1}
  parameters:
    skill-3f9a.rtsp: rtsp://admin:s3cret@10.0.0.7:554/stream1
    skill-3f9a.fps: 15
    skill-3f9a.device_id: camera-1a2b
    skill-3f9a.instance_displayname: Parking lot
    skill-3f9a.device_displayname: People Camera
    skill-3f9a.skill_displayname: Orin People Skill
    skill-77c0.rtsp: rtsp://admin:s3cret@10.0.0.7:554/stream1
    skill-77c0.fps: 15
    skill-77c0.device_id: camera-1a2b
    skill-77c0.instance_displayname: Parking lot
    skill-77c0.device_displayname: People Camera
    skill-77c0.skill_displayname: Car Counter
    skill-a001.rtsp: rtsp://10.0.0.8/live
    skill-a001.fps: 10
    skill-a001.device_id: camera-9f
    skill-a001.instance_displayname: Parking lot
    skill-a001.device_displayname: Gate
    skill-a001.skill_displayname: Car Counter
    configure_data: '{"People Camera": ["Orin People Skill", "Car Counter"], "Gate": ["Car Counter"]}'
"""

PIPELINE_INSTANCE = """
apiVersion: solution.symphony/v1
kind: Instance
metadata: {name: instance-1}
spec:
  scope: poss
  displayName: Lobby
  solution: s
  target: {name: nx-2}
  pipelines:
  - name: pipeline0
    skill: orin-people-skill
    parameters: {rtsp: "rtsp://cam/1", fps: "30", device_id: lobby-cam, device_displayname: Lobby,
                 skill_displayname: Orin People Skill, zone: "0.1,0.1,0.9,0.9"}
  parameters:
    configure_data: '{"Lobby": ["Orin People Skill"]}'
"""


def test_the_portal_form_becomes_a_deployment_without_the_password():
    imported = import_kan_instances(
        PORTAL_INSTANCE, "lot.yaml", {"Orin People Skill": "skills/people.skill.json"}
    )
    deployment = imported.deployment
    assert deployment.name == "Parking lot" and deployment.device.name == "orin-1"
    gate, people = deployment.cameras
    assert (people.name, people.source, people.username) == (
        "People Camera",
        "rtsp://10.0.0.7:554/stream1",
        "admin",
    )
    assert people.password == "$param(people_camera_password)" and people.fps == 15
    assert [r.skill for r in people.skills] == ["Car-Counter.skill.json", "skills/people.skill.json"]
    assert (gate.source, gate.fps, [r.skill for r in gate.skills]) == (
        "rtsp://10.0.0.8/live",
        10,
        ["Car-Counter.skill.json"],
    )
    assert "s3cret" not in yaml.safe_dump(deployment.model_dump())
    assert any("people_camera_password" in n for n in imported.notes)
    assert any("Car-Counter.skill.json" in n for n in imported.notes)


def test_the_pipelines_form_keeps_extra_parameters_and_round_trips(tmp_path, capsys):
    imported = import_kan_instances(
        PIPELINE_INSTANCE, "lobby.yaml", {"orin-people-skill": "people.skill.json"}
    )
    (lobby,) = imported.deployment.cameras
    assert lobby.fps == 30 and lobby.skills[0].params == {"zone": "0.1,0.1,0.9,0.9"}
    text = export_kan_instances(imported.deployment, {"people.skill.json": "orin-people-skill"})
    (doc,) = yaml.safe_load_all(text)
    assert doc["kind"] == "Instance" and doc["apiVersion"] == "solution.symphony/v1"
    assert doc["spec"]["target"] == {"name": "nx-2"}
    assert doc["spec"]["pipelines"][0]["skill"] == "orin-people-skill"
    assert doc["spec"]["parameters"]["configure_data"] == '{"Lobby": ["orin-people-skill"]}'
    again = import_kan_instances(text, "again.yaml", {"orin-people-skill": "people.skill.json"}).deployment
    assert again.cameras == imported.deployment.cameras

    (tmp_path / "lot.yaml").write_text(PORTAL_INSTANCE)
    out = tmp_path / "lot.deploy.json"
    assert main(["new-deployment", "-o", str(out), "--from-kan", str(tmp_path / "lot.yaml"),
                 "--skill-file", "Car Counter=cars.skill.json"]) == 0  # fmt: skip
    assert [r.skill for r in load_deployment(out).cameras[0].skills] == ["cars.skill.json"]
    assert "people_camera_password" in capsys.readouterr().err


def test_hostile_instances_get_one_located_line(tmp_path, capsys):
    cases = {
        "a: [": "not YAML",
        "kind: Skill": "kind 'Skill', expected a KAN Instance",
        "kind: Instance\nspec: {pipelines: [{skill: x}]}": "spec.pipelines[0]: needs parameters.device_id",
        "kind: Instance\nspec: {parameters: {configure_data: '{bad'}}": "configure_data: not JSON",
        "kind: Instance\nspec: []": "spec: expected a mapping",
    }
    for index, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"i{index}.yaml"
        path.write_text(text)
        assert main(["new-deployment", "-o", str(tmp_path / "x.deploy.json"), "--from-kan", str(path)]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"error: {path}") and message in err and err.count("\n") == 1, err
