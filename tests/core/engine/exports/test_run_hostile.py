"""`skill-designer run` under hostile stops and disks: SIGTERM mid-run, a disk that fills up
under the insights files, a long run's log."""

from __future__ import annotations

import json
import logging
import os
import re
import resource
import signal
import subprocess
import sys
from pathlib import Path

from engine_helpers import skill_of
from export_helpers import wait_until
from video_factory import write_video

from designer.core.engine.queues import END, FrameQueue
from designer.core.skill import save_skill

REPO = Path(__file__).resolve().parents[4]


def run_cli(tmp_path: Path, *args: str, file_limit: int | None = None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(REPO), SKILL_DESIGNER_DATA=str(tmp_path / "data"))

    def limits() -> None:  # in the child: a "disk" that takes no file over file_limit bytes
        if file_limit is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.Popen(
        [sys.executable, "-m", "designer.cli", "run", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=limits,
    )


def table(summary: str) -> dict[str, dict[str, int]]:
    rows = re.findall(r"^  (\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", summary, re.M)
    return {n: {"in": int(i), "out": int(o), "dropped": int(d), "errors": int(e)} for n, i, o, d, e in rows}


def test_a_frame_offered_after_the_stop_is_counted_not_lost():
    queue = FrameQueue(4, lossless=True)
    assert queue.put("frame 1") == 0
    assert queue.close() == 1  # the one waiting
    assert queue.put("frame 2") == 1  # its parent had processed it: counted as dropped here
    assert queue.put(END) == 0


def test_sigterm_mid_run_every_frame_is_delivered_or_counted(tmp_path):
    write_video(tmp_path / "clip.avi", frames=400, fps=50)
    skill = skill_of(
        ("cam", "camera@1", {"source": "clip.avi", "loop": False}),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "keep"), ("keep", "log")],
    )
    save_skill(skill, tmp_path / "t.skill.json")
    run = run_cli(tmp_path, "t.skill.json", "--quiet")
    try:
        assert wait_until(
            lambda: (tmp_path / "log.jsonl").is_file() and (tmp_path / "log.jsonl").stat().st_size > 0
        )
        run.send_signal(signal.SIGTERM)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 143, err
    rows = table(err)
    # What each node passed on is what its child took in or counted as dropped.
    assert rows["cam"]["out"] == rows["keep"]["in"] + rows["keep"]["dropped"], err
    assert rows["keep"]["out"] == rows["log"]["in"] + rows["log"]["dropped"], err
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == rows["log"]["in"] - rows["log"]["errors"]  # every frame it took is written


def test_a_full_disk_under_the_insights_files_keeps_whole_lines_only(tmp_path):
    write_video(tmp_path / "clip.avi", frames=300)
    skill = skill_of(
        ("cam", "camera@1", {"source": "clip.avi", "loop": False}),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "keep"), ("keep", "log")],
    )
    save_skill(skill, tmp_path / "t.skill.json")
    run = run_cli(
        tmp_path, "t.skill.json", "--quiet", "--realtime", "off", "--insights", "out.jsonl", file_limit=40_000
    )
    _, err = run.communicate(timeout=120)
    assert run.returncode == 1, err  # --insights could not be kept

    out = (tmp_path / "out.jsonl").read_bytes()
    assert out.endswith(b"\n")
    kept = [json.loads(line) for line in out.decode().splitlines()]  # every line whole
    match = re.search(
        r"--insights out\.jsonl: cannot write: .*; the (\d+) lines written before are kept", err
    )
    assert match, err
    assert int(match[1]) == len(kept) and len(kept) > 10

    run = run_cli(tmp_path, "t.skill.json", "--quiet", "--realtime", "off", file_limit=40_000)
    _, err = run.communicate(timeout=120)
    assert run.returncode == 3, err  # finished, the log node reported errors
    log = (tmp_path / "log.jsonl").read_bytes()
    assert log.endswith(b"\n")
    logged = [json.loads(line) for line in log.decode().splitlines()]
    assert [m["frame_id"] for m in logged] == [str(i) for i in range(len(logged))]
    assert re.search(r"node log: error: frame \d+ not logged: .*'path'.*whole lines before are kept", err), (
        err
    )


def test_the_run_log_is_bounded_private_and_rotated(tmp_path, monkeypatch):
    from designer.commands import run as run_command

    monkeypatch.setenv("SKILL_DESIGNER_DATA", str(tmp_path / "data"))
    path, handler = run_command._open_run_log()
    assert path is not None and handler is not None
    try:
        noisy = logging.getLogger("skill-designer-test-noise")
        for i in range(20_000):
            noisy.warning("line %d %s", i, "x" * 700)
    finally:
        run_command._close_run_log(handler)
    files = sorted(path.parent.glob("run.log*"))
    assert [p.name for p in files] == ["run.log", "run.log.1", "run.log.2"]
    assert sum(p.stat().st_size for p in files) <= 3 * run_command.RUN_LOG_MAX_BYTES
    assert all(p.stat().st_mode & 0o077 == 0 for p in files)  # 0600, the rotated ones too
    assert "line 19999 " in path.read_text()  # the newest lines are kept


def test_a_run_with_an_http_export_writes_no_line_per_message_to_run_log(tmp_path, http_endpoint):
    write_video(tmp_path / "clip.avi", frames=60)
    skill = skill_of(
        ("cam", "camera@1", {"source": "clip.avi", "loop": False}),
        ("keep", "filter@1", {}),
        ("hook", "http@1", {"url": http_endpoint.url + "?code=q-secret"}),
        links=[("cam", "keep"), ("keep", "hook")],
    )
    save_skill(skill, tmp_path / "t.skill.json")
    run = run_cli(tmp_path, "t.skill.json", "--quiet", "--realtime", "off")
    _, err = run.communicate(timeout=120)
    assert run.returncode == 0, err
    assert len(http_endpoint.wait_for(60)) == 60
    log = tmp_path / "data" / "logs" / "run.log"
    text = log.read_text() if log.exists() else ""
    assert "HTTP Request" not in text and "q-secret" not in text
    assert len(text.splitlines()) < 10
