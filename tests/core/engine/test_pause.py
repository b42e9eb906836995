"""Pausing a run (the designer's preview): nothing is read while paused, step reads one frame,
and a file resumes where it paused instead of skipping the paused time."""

from __future__ import annotations

import time

from engine_helpers import Recorder, camera_to_log
from video_factory import read_frame_number, write_video

from designer.core.engine.events import RunState
from designer.core.engine.executor import Engine
from designer.core.engine.runtime import RunContext


def frame_ids(recorder: Recorder) -> list[int]:
    """The file frame numbers (drawn into each frame) that reached the log."""
    with recorder.lock:
        return [read_frame_number(f.image) for f in recorder.frames.get("log", [])]


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_pause_step_and_resume_a_file_in_realtime(tmp_path):
    clip = write_video(tmp_path / "clip.avi", frames=60, fps=25)
    skill = camera_to_log({"source": str(clip), "loop": False})
    engine = Engine(skill, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path), realtime=True)
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.pause()
    engine.start()
    time.sleep(0.4)
    assert engine.frames_read == 0 and engine.paused
    for _ in range(3):
        engine.step()
    wait_for(lambda: len(frame_ids(recorder)) == 3)
    time.sleep(0.6)  # paused longer than many frames of the file last
    assert engine.frames_read == 3
    engine.resume()
    wait_for(lambda: len(frame_ids(recorder)) >= 10)
    engine.stop()
    ids = frame_ids(recorder)
    assert ids[:10] == list(range(10))  # nothing skipped to catch up with the paused time


def test_stop_while_paused_is_prompt(tmp_path):
    clip = write_video(tmp_path / "clip.avi", frames=20, fps=25)
    engine = Engine(
        camera_to_log({"source": str(clip), "loop": True}),
        context=RunContext(skill_dir=tmp_path, output_dir=tmp_path),
    )
    engine.pause()
    engine.start()
    time.sleep(0.3)
    engine.stop(timeout=5.0)
    assert engine.state is RunState.STOPPED
