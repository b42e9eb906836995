"""Camera Input sources on real video files and a real MJPEG-over-HTTP camera on 127.0.0.1."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time

import numpy as np
import pytest
from engine_helpers import StatusLog
from video_factory import MjpegCamera, read_frame_number, write_raw_mjpeg, write_video

from designer.core.engine.sources import (
    SourceError,
    mask_credentials,
    open_source,
    with_credentials,
)


def numbers(frames) -> list[int]:
    return [read_frame_number(frame.image) for frame in frames]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- video files -------------------------------------------------------------------------


def test_file_played_once_delivers_every_frame_in_order_then_ends(tmp_path):
    path = write_video(tmp_path / "once.avi", frames=12, fps=25, size=(192, 112))
    log = StatusLog()
    with open_source(str(path), loop=False, realtime=False, on_status=log) as source:
        assert not source.is_live
        assert source.frame_size == (192, 112)
        assert source.nominal_fps == 25
        frames = list(source)
        assert source.read() is None  # stays ended

    assert numbers(frames) == list(range(12))
    assert [f.source_pos for f in frames] == list(range(12))
    assert [f.index for f in frames] == list(range(12))
    assert all(f.image.shape == (112, 192, 3) and f.image.dtype == np.uint8 for f in frames)
    assert log.states == ["opening", "live", "ended"]
    assert "12 frames" in log.events[-1].message


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_loop_rewinds_to_the_first_frame(tmp_path, suffix):
    path = write_video(tmp_path / f"loop{suffix}", frames=5)
    with open_source(str(path), loop=True, realtime=False) as source:
        frames = [source.read() for _ in range(12)]

    assert numbers(frames) == [0, 1, 2, 3, 4] * 2 + [0, 1]
    assert [f.source_pos for f in frames] == [0, 1, 2, 3, 4] * 2 + [0, 1]
    assert [f.index for f in frames] == list(range(12))


def test_loop_reopens_a_file_it_cannot_seek_in(tmp_path):
    # A raw MJPEG stream: OpenCV reports the seek to frame 0 as done, then cannot read.
    path = write_raw_mjpeg(tmp_path / "raw.mjpeg", frames=4)
    with open_source(str(path), loop=True, realtime=False) as source:
        frames = [source.read() for _ in range(10)]

    assert numbers(frames) == [0, 1, 2, 3] * 2 + [0, 1]


def test_realtime_off_delivers_every_frame_even_with_an_fps_limit(tmp_path):
    path = write_video(tmp_path / "fast.avi", frames=40, fps=25)
    with open_source(str(path), loop=False, realtime=False, fps_limit=5) as source:
        frames = list(source)
        assert (source.dropped, source.skipped) == (0, 0)

    assert numbers(frames) == list(range(40))


def test_fps_limit_on_a_realtime_file_keeps_about_a_fifth_at_the_file_pace(tmp_path):
    path = write_video(tmp_path / "paced.avi", frames=25, fps=25)  # one second of video
    with open_source(str(path), loop=False, realtime=True, fps_limit=5) as source:
        began = time.monotonic()
        frames = list(source)
        played = time.monotonic() - began
        lost = source.skipped + source.dropped

    got = numbers(frames)
    assert 3 <= len(frames) <= 6, got
    assert len(frames) + lost == 25
    assert got == sorted(got) and got == [f.source_pos for f in frames]
    assert min(b - a for a, b in itertools.pairwise(got)) >= 4  # spread over the file
    assert played >= frames[-1].source_pos / 25  # at the file's pace: no frame came early


def test_slow_consumer_of_a_realtime_file_gets_recent_frames_not_a_backlog(tmp_path):
    path = write_video(tmp_path / "live-like.avi", frames=25, fps=25)
    with open_source(str(path), loop=False, realtime=True) as source:
        frames = []
        while (frame := source.read()) is not None:
            frames.append(frame)
            time.sleep(0.12)  # a graph at ~8 fps behind a 25 fps file
        dropped = source.dropped

    got = numbers(frames)
    assert dropped > 0
    assert len(frames) + dropped == 25
    assert got == sorted(got) and len(set(got)) == len(got)


def test_read_timeout_keeps_the_frame_for_the_next_read(tmp_path):
    path = write_video(tmp_path / "slow.avi", frames=3, fps=2)  # a frame every 0.5 s
    with open_source(str(path), loop=False, realtime=True) as source:
        assert numbers([source.read()]) == [0]
        with pytest.raises(TimeoutError):
            source.read(timeout=0.01)
        assert numbers([source.read(), source.read()]) == [1, 2]


def test_close_from_another_thread_ends_a_waiting_read(tmp_path):
    path = write_video(tmp_path / "slow.avi", frames=3, fps=1)
    source = open_source(str(path), loop=False, realtime=True)
    source.read()
    threading.Timer(0.1, source.close).start()
    assert source.read() is None  # woken by close instead of sleeping to the next frame


def test_missing_file_names_the_path(tmp_path):
    log = StatusLog()
    missing = tmp_path / "nowhere" / "clip.mp4"
    with pytest.raises(SourceError, match="video file not found") as err:
        open_source(str(missing), on_status=log)
    assert str(missing) in str(err.value)
    assert log.states == ["opening", "failed"]


def test_file_that_is_not_a_video_cannot_be_decoded(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_bytes(b"this is not a video" * 100)
    with pytest.raises(SourceError, match="cannot decode video file") as err:
        open_source(str(bad))
    assert str(bad) in str(err.value)


@pytest.mark.parametrize("spec", ["", "   "])
def test_empty_source_is_refused(spec):
    with pytest.raises(SourceError, match="webcam index"):
        open_source(spec)


def test_unreachable_webcam_fails_instead_of_hanging():
    with pytest.raises(SourceError, match="webcam 57"):
        open_source("57", open_timeout=2.0)


def test_camera_that_accepts_but_never_answers_fails_instead_of_hanging():
    with socket.socket() as silent:  # a camera whose firmware hangs after accepting
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(SourceError, match=f"cannot open camera rtsp://127.0.0.1:{port}/"):
            open_source(f"rtsp://127.0.0.1:{port}/stream1", open_timeout=1.0)


# --- credentials ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/stream1", "rtsp://***:***@10.0.0.5:554/stream1"),
        ("rtsp://admin:p@ss/word@cam/live", "rtsp://***:***@cam/live"),
        ("http://cam.local/video.mjpg", "http://cam.local/video.mjpg"),
    ],
)
def test_mask_credentials_hides_user_info(url, masked):
    assert mask_credentials(url) == masked


def test_separate_credentials_go_into_the_url_escaped():
    url = with_credentials("rtsp://old:creds@cam:554/live", "ad min", "p@ss:w/rd")
    assert url == "rtsp://ad%20min:p%40ss%3Aw%2Frd@cam:554/live"


def test_unreachable_camera_url_fails_with_credentials_masked():
    url = f"http://admin:s3cret@127.0.0.1:{free_port()}/video.mjpg"
    with pytest.raises(SourceError, match=r"cannot open camera http://\*\*\*:\*\*\*@") as err:
        open_source(url, open_timeout=3.0)
    assert "s3cret" not in str(err.value) and "admin" not in str(err.value)


def test_wrong_password_is_refused_without_showing_it():
    with MjpegCamera(credentials=("admin", "s3cret")) as camera:
        log = StatusLog()
        with pytest.raises(SourceError) as err:
            open_source(camera.url, username="admin", password="wrong", on_status=log)
    messages = [str(err.value)] + [e.message for e in log.events]
    assert not any("wrong" in m or "admin" in m for m in messages), messages
    assert log.states == ["opening", "failed"]


# --- a live camera -------------------------------------------------------------------------


def test_live_mjpeg_camera_keeps_the_latest_frame_and_reconnects(caplog):
    caplog.set_level(logging.INFO, logger="designer.core.engine.sources")
    log = StatusLog()
    camera = MjpegCamera(fps=30, credentials=("admin", "s3cret"))
    port = camera.port
    source = open_source(
        camera.url,
        username="admin",
        password="s3cret",
        on_status=log,
        reconnect_backoff=(0.1, 0.4),
    )
    restarted = None
    try:
        assert source.is_live and source.frame_size == (192, 112)
        first = source.read(timeout=5)
        time.sleep(0.6)  # a slow graph: the camera sends ~18 frames meanwhile
        second = source.read(timeout=5)
        assert first.source_pos is None and second.index == first.index + 1
        assert read_frame_number(second.image) - read_frame_number(first.image) >= 3
        assert source.dropped >= 1

        time.sleep(0.2)  # a frame is waiting unread ...
        camera.stop()  # ... when the camera goes away mid-stream
        lost = log.wait_for("reconnecting")
        assert log.events[lost].attempt == 1
        with pytest.raises(TimeoutError):
            source.read(timeout=0.2)  # nothing stale from before the outage

        restarted = MjpegCamera(port=port, fps=30, first_number=2000, credentials=("admin", "s3cret"))
        back = log.wait_for("live", after=lost)
        assert read_frame_number(source.read(timeout=5).image) >= 2000
    finally:
        source.close()
        camera.stop()
        if restarted is not None:
            restarted.stop()

    assert source.read() is None
    assert log.states[:3] == ["opening", "live", "reconnecting"]
    assert all(e.state == "reconnecting" for e in log.events[lost:back])
    messages = [e.message for e in log.events] + [r.getMessage() for r in caplog.records]
    assert any(f"camera http://***:***@127.0.0.1:{port}/" in m for m in messages)
    assert not any("s3cret" in m or "admin" in m for m in messages), messages


def test_fps_limit_on_a_live_camera_leaves_frames_out_at_the_source():
    with MjpegCamera(fps=30) as camera, open_source(camera.url, fps_limit=5) as source:
        frames = [source.read(timeout=5) for _ in range(6)]  # a consumer faster than 5 fps
        skipped = source.skipped

    got = numbers(frames)
    # ~1 s of a 30 fps camera went by; without the cap these would be 6 consecutive frames.
    assert got[-1] - got[0] >= 15, got
    assert skipped >= 10
