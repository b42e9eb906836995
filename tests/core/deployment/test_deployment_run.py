"""A deployment: three cameras (two video files, one live MJPEG camera on 127.0.0.1), two skills
each, in one process; models shared; a camera lost mid-run comes back without stopping others."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import skill_of
from onnx_factory import blob_detector, color_classifier, write_labels
from video_factory import MjpegCamera, square_box, write_video

from designer.core.deployment import Camera, Deployment, SkillRef, load_deployment, save_deployment
from designer.core.deployment.runner import DeploymentError, DeploymentRun
from designer.core.engine.events import FrameEvent, RunState
from designer.core.models.shared import SessionPool
from designer.core.skill import save_skill


def _bright_square(canvas: np.ndarray, index: int) -> None:
    x1, y1, x2, y2 = square_box(index, (canvas.shape[1], canvas.shape[0]))
    canvas[y1:y2, x1:x2] = 255


def _write_skills(folder: Path) -> None:
    blob_detector(folder / "blob.onnx")
    write_labels(folder / "blob.txt", ["thing"])
    detect = skill_of(
        ("cam", "camera@1", {"source": "$param(rtsp)"}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        ("log", "insights-log@1", {"path": "things.jsonl"}),
        links=[("cam", "det"), ("det", "log")],
    )
    detect.settings.name = "Things"
    count = skill_of(
        ("cam", "camera@1", {"source": "0"}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        ("keep", "filter@1", {"labels": ["thing"]}),
        ("log", "insights-log@1", {"path": "$param(log)"}),
        links=[("cam", "det"), ("det", "keep"), ("keep", "log")],
    )
    count.settings.name = "Kept"
    save_skill(detect, folder / "things.skill.json")
    save_skill(count, folder / "kept.skill.json")


def _deployment(folder: Path, live_url: str) -> Path:
    write_video(folder / "a.avi", frames=20, draw=_bright_square)
    write_video(folder / "b.avi", frames=15, draw=_bright_square)
    _write_skills(folder)
    skills = [
        SkillRef(skill="things.skill.json"),
        SkillRef(skill="kept.skill.json", params={"log": "kept.jsonl"}),
    ]
    deployment = Deployment(
        name="Site",
        cameras=[
            Camera(name="Gate", source="a.avi", loop=False, skills=skills),
            Camera(name="Yard", source="b.avi", loop=False, skills=skills),
            Camera(name="Door", source="$param(door)", fps=30, skills=skills),
        ],
    )
    path = folder / "site.deploy.json"
    save_deployment(deployment, path)
    return path


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_three_cameras_two_skills_each_tagged_and_one_shared_session(tmp_path):
    with MjpegCamera(fps=30) as door:
        path = _deployment(tmp_path, door.url)
        run = DeploymentRun(
            load_deployment(path),
            tmp_path,
            params={"door": door.url},
            realtime=False,
            output_dir=tmp_path / "out",
        )
        frames: list[tuple[str, FrameEvent]] = []
        run.subscribe(lambda pair, event: isinstance(event, FrameEvent) and frames.append((pair.key, event)))
        run.start()
        try:
            # The files end on their own; the live camera runs until a few of its frames are in.
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                door_logs = [_lines(tmp_path / "out/Door" / s / f) for s, f in (("Things", "things.jsonl"),)]
                if all(len(lines) >= 5 for lines in door_logs) and all(
                    run.pair(c, s).engine.state is RunState.FINISHED
                    for c in ("Gate", "Yard")
                    for s in ("Things", "Kept")
                ):
                    break
                time.sleep(0.1)
            sessions = run.pool.sessions()
            assert run.pool.opened == 1, "one model file, one session for the 6 skills x cameras"
            assert [s.stats().users for s in sessions] == [2]  # the file pairs closed theirs; Door's remain
        finally:
            run.stop()
        assert run.wait(10)
    assert run.pool.sessions() == []  # the last user gave the session back
    for camera, frames_in_file in (("Gate", 20), ("Yard", 15), ("Door", None)):
        for skill, log in (("Things", "things.jsonl"), ("Kept", "kept.jsonl")):
            messages = _lines(tmp_path / "out" / camera / skill / log)
            if frames_in_file is not None:
                assert len(messages) == frames_in_file, (camera, skill)
            else:
                assert messages, (camera, skill)
            for message in messages:
                assert message["instance_id"] == camera and message["skill_id"] == skill
                assert message["device_id"] == "device"
                assert message["insights_meta"]["other_meta"] == {"camera": camera, "skill": skill}
                assert [o["label"] for o in message["insights_meta"]["objects_meta"]] == ["thing"]
    assert {key for key, _ in frames} == {
        f"{c} / {s}" for c in ("Gate", "Yard", "Door") for s in ("Things", "Kept")
    }


def test_a_lost_camera_reconnects_while_the_others_run_on(tmp_path):
    door = MjpegCamera(fps=30)
    port = door.port
    path = _deployment(tmp_path, door.url)
    deployment = load_deployment(path)
    # The file cameras loop here, so they keep running while the door camera is away.
    cameras = [c.model_copy(update={"loop": True}) if c.name != "Door" else c for c in deployment.cameras]
    deployment = deployment.model_copy(update={"cameras": cameras})
    run = DeploymentRun(deployment, tmp_path, params={"door": door.url}, output_dir=tmp_path / "out")
    restarted = None

    def count(camera: str) -> int:
        return len(_lines(tmp_path / "out" / camera / "Things" / "things.jsonl"))

    def wait_for(condition, what: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, what
            time.sleep(0.05)

    run.start()
    try:
        wait_for(lambda: count("Door") >= 3 and count("Gate") >= 3, "every camera runs")
        door.stop()  # the camera loses power mid-stream
        wait_for(lambda: run.hubs["Door"].reconnects >= 1, "the door camera is seen lost")
        gate, yard = count("Gate"), count("Yard")
        wait_for(lambda: count("Gate") > gate + 5 and count("Yard") > yard + 5, "the other cameras run on")
        lost = count("Door")  # what was in flight when the camera went is through by now
        gate, yard = count("Gate"), count("Yard")
        wait_for(lambda: count("Gate") > gate + 5 and count("Yard") > yard + 5, "they still run on")
        assert count("Door") == lost  # nothing from the door meanwhile
        restarted = MjpegCamera(port=port, fps=30, first_number=2000)
        wait_for(lambda: count("Door") > lost + 3, "the door camera comes back on its own")
        assert all(p.engine.state is RunState.RUNNING for p in run.pairs)
    finally:
        run.stop()
        door.stop()
        if restarted is not None:
            restarted.stop()
    assert run.wait(10)


def test_a_model_used_by_three_skills_is_loaded_once_and_each_skill_closes_alone(tmp_path):
    color_classifier(tmp_path / "color.onnx", dynamic_batch=True)
    write_labels(tmp_path / "color.txt", ["red", "green", "blue"])
    write_video(tmp_path / "a.avi", frames=10, draw=_bright_square)
    refs = []
    for name in ("One", "Two", "Three"):
        skill = skill_of(
            ("cam", "camera@1", {"source": "a.avi"}),
            (
                "cls",
                "model@1",
                {"model_path": "color.onnx", "labels_path": "color.txt", "confidence_threshold": 0},
            ),
            ("log", "insights-log@1", {"path": "log.jsonl"}),
            links=[("cam", "cls"), ("cls", "log")],
        )
        skill.settings.name = name
        save_skill(skill, tmp_path / f"{name}.skill.json")
        refs.append(SkillRef(skill=f"{name}.skill.json"))
    # A broken fourth skill: its model does not load; the other three run regardless.
    broken = skill_of(
        ("cam", "camera@1", {"source": "a.avi"}),
        ("cls", "model@1", {"model_path": "missing.onnx"}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "cls"), ("cls", "log")],
    )
    broken.settings.name = "Broken"
    save_skill(broken, tmp_path / "broken.skill.json")
    refs.append(SkillRef(skill="broken.skill.json"))
    deployment = Deployment(
        name="One model", cameras=[Camera(name="Cam", source="a.avi", loop=False, skills=refs)]
    )
    run = DeploymentRun(deployment, tmp_path, realtime=False, output_dir=tmp_path / "out")
    opened = []
    original = SessionPool.acquire

    def counting(self, *args, **kwargs):
        shared = original(self, *args, **kwargs)
        opened.append(shared)
        return shared

    SessionPool.acquire = counting  # type: ignore[method-assign]
    try:
        run.start()
        assert run.wait(30)
    finally:
        SessionPool.acquire = original  # type: ignore[method-assign]
        run.stop()
    assert run.pool.opened == 1 and len(opened) == 3 and len({id(s) for s in opened}) == 1
    assert opened[0].stats().requests == 30  # 3 skills x 10 frames through the one session
    # served by two runs at once on half the cores each (one where a single core is all there is)
    half = max(1, (os.cpu_count() or 1) // 2)
    assert opened[0].key[2] == half and len(opened[0]._threads) == min(4, (os.cpu_count() or 1) // half)
    assert run.pair("Cam", "Broken").engine.state is RunState.FAILED
    for name in ("One", "Two", "Three"):
        assert run.pair("Cam", name).engine.state is RunState.FINISHED
        assert len(_lines(tmp_path / "out/Cam" / name / "log.jsonl")) == 10


def test_a_deployment_names_the_camera_and_skill_that_cannot_run(tmp_path):
    _write_skills(tmp_path)
    deployment = Deployment(
        name="Site",
        cameras=[Camera(name="Gate", source="a.avi", skills=[SkillRef(skill="kept.skill.json")])],
    )
    with pytest.raises(DeploymentError, match=r"cameras\[0\]\.skills\[0\] \(kept.skill.json\): .*'log'"):
        DeploymentRun(deployment, tmp_path)
    deployment.cameras[0].skills[0] = SkillRef(skill="nope.skill.json")
    with pytest.raises(
        DeploymentError, match=r"cameras\[0\]\.skills\[0\]\.skill: .*nope.skill.json: file not found"
    ):
        DeploymentRun(deployment, tmp_path)
    deployment.cameras[0].source = "rtsp://$param(host)/1"
    deployment.cameras[0].skills[0] = SkillRef(skill="things.skill.json")
    with pytest.raises(DeploymentError, match=r"camera 'Gate': missing parameter 'host'"):
        DeploymentRun(deployment, tmp_path)


def test_a_camera_down_at_start_is_tried_again_while_the_others_run(tmp_path):
    probe = MjpegCamera(fps=30)
    port = probe.port
    probe.stop()  # nothing listens there now
    _write_skills(tmp_path)
    write_video(tmp_path / "a.avi", frames=10, draw=_bright_square)
    deployment = Deployment(
        name="Site",
        cameras=[
            Camera(name="Gate", source="a.avi", skills=[SkillRef(skill="things.skill.json")]),
            Camera(
                name="Door",
                source=f"http://127.0.0.1:{port}/video.mjpg",
                skills=[SkillRef(skill="things.skill.json")],
            ),
        ],
    )
    run = DeploymentRun(deployment, tmp_path, output_dir=tmp_path / "out", retry_backoff=(0.2, 0.5))
    door = None
    run.start()
    try:
        deadline = time.monotonic() + 20
        while run.pair("Door", "Things").restarts < 1:
            assert time.monotonic() < deadline, "the door camera is tried again"
            time.sleep(0.05)
        assert run.pair("Gate", "Things").engine.state is RunState.RUNNING
        door = MjpegCamera(port=port, fps=30)
        while len(_lines(tmp_path / "out/Door/Things/things.jsonl")) < 3:
            assert time.monotonic() < deadline, "the door camera runs once it is up"
            time.sleep(0.05)
    finally:
        run.stop()
        if door is not None:
            door.stop()
    assert run.wait(10)


def test_exports_keep_their_outbox_per_camera_skill_and_node(tmp_path):
    """An endpoint that is down: each camera x skill queues its own messages, none mixed up."""
    _write_skills(tmp_path)
    write_video(tmp_path / "a.avi", frames=5, draw=_bright_square)
    skill = skill_of(
        ("cam", "camera@1", {"source": "a.avi"}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        ("post", "http@1", {"url": "http://127.0.0.1:9/insights", "timeout_s": 0.2}),
        links=[("cam", "det"), ("det", "post")],
    )
    skill.settings.name = "Poster"
    save_skill(skill, tmp_path / "poster.skill.json")
    refs = [SkillRef(skill="poster.skill.json")]
    deployment = Deployment(
        name="Site",
        cameras=[
            Camera(name="Gate", source="a.avi", loop=False, skills=refs),
            Camera(name="Yard", source="a.avi", loop=False, skills=refs),
        ],
    )
    run = DeploymentRun(deployment, tmp_path, realtime=False, output_dir=tmp_path / "out")
    run.start()
    assert run.wait(30)
    run.close()
    for camera in ("Gate", "Yard"):
        outbox = tmp_path / "out" / camera / "Poster" / ".outbox"
        (skill_folder,) = outbox.iterdir()
        (node_folder,) = skill_folder.iterdir()
        assert node_folder.name.startswith("post-")
        stats = run.pair(camera, "Poster").engine.metrics().nodes["post"]
        assert stats.messages == 5 and stats.sent == 0 and stats.queued == 5
