"""Video Snippet: playable MP4 clips with pre-roll, the delay buffer, safe names, verified
uploads to a real Azurite, and folders that cannot take a clip."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from export_helpers import Events, context, frame, wait_until
from export_servers import MODELS, free_port
from pydantic import ValidationError

from designer.core.engine.nodes.video_snippet import VideoSnippetRuntime
from designer.core.engine.runtime import NodeError
from designer.core.skill.catalog.exports import VideoSnippetParams

STEP = 0.125  # 8 frames per second of the source's clock (exact in binary)
SIZE = (160, 120)


def snippet(tmp_path, events: Events | None = None, **params) -> VideoSnippetRuntime:
    params.setdefault("filename_prefix", "cam1")
    runtime = VideoSnippetRuntime("clips", VideoSnippetParams(**params), context(tmp_path, events=events))
    runtime.open()
    return runtime


def feed(runtime, frames: range, *, objects_from: int = 0) -> None:
    for i in frames:
        runtime.process(frame(i, objects=1 if i >= objects_from else 0, step=STEP, size=SIZE))


def read_clip(path: Path) -> tuple[list[np.ndarray], float]:
    capture = cv2.VideoCapture(str(path))
    fps = capture.get(cv2.CAP_PROP_FPS)
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    return images, fps


def test_a_clip_holds_the_pre_roll_and_the_duration_and_plays_that_long(tmp_path):
    runtime = snippet(tmp_path, duration_s=2, delay_buffer_s=60)
    feed(runtime, range(80), objects_from=40)  # the first object at frame 40 (5 s in)
    runtime.close()

    (clip,) = runtime.clips
    assert re.fullmatch(r"cam1-people-counter-edge-7-\d{8}T\d{6}\.\d{3}Z\.mp4", clip.name)
    assert clip.parent == tmp_path / "out" / "snippets"
    images, fps = read_clip(clip)
    assert fps == pytest.approx(8.0)
    assert len(images) == 32  # 2 s of pre-roll (frames 24..39) and 2 s from the trigger (40..55)
    assert len(images) / fps == pytest.approx(4.0)
    assert images[0].shape == (SIZE[1], SIZE[0], 3)
    # The frames are the right ones: frame i is grey level i (give or take the codec).
    assert abs(float(images[0].mean()) - 24) < 3 and abs(float(images[-1].mean()) - 55) < 3
    stats = runtime.delivery_stats()
    assert (stats["messages"], stats["sent"], stats["messages_dropped"]) == (1, 1, 0)
    assert not list(clip.parent.glob(".*"))  # no temporary file left behind


def test_the_overlay_draws_the_boxes_into_the_clip(tmp_path):
    with_boxes = snippet(tmp_path / "a", duration_s=1, insights_overlay=True)
    plain = snippet(tmp_path / "b", duration_s=1, insights_overlay=False)
    for runtime in (with_boxes, plain):
        feed(runtime, range(12))
        runtime.close()
    boxed, _ = read_clip(with_boxes.clips[0])
    bare, _ = read_clip(plain.clips[0])
    # The box (l=0.1, t=0.2) is drawn in colour; the plain clip is grey there.
    x, y = int(0.1 * SIZE[0]), int(0.2 * SIZE[1])
    edge = (slice(y - 1, y + 2), slice(x + 10, x + 20))
    assert np.abs(boxed[0][edge].astype(int) - bare[0][edge].astype(int)).max() > 60
    assert float(np.std(bare[0][edge])) < 4


def test_clip_starts_honour_the_delay_buffer(tmp_path):
    runtime = snippet(tmp_path, duration_s=1, delay_buffer_s=10)
    feed(runtime, range(8 * 25))  # 25 s of frames, all with objects
    runtime.close()
    assert len(runtime.clips) == 3  # at 0 s, 10 s and 20 s
    stamps = [re.search(r"T(\d{6})", c.name)[1] for c in runtime.clips]
    assert [int(s[-2:]) % 60 for s in stamps] == [0, 10, 20]


def test_prefixes_with_spaces_or_slashes_are_refused():
    for prefix in ("my clip", "clips/cam", "..", "c:\\x"):
        with pytest.raises(ValidationError, match="cannot be a file name prefix"):
            VideoSnippetParams(filename_prefix=prefix)


def test_a_clip_is_uploaded_once_storage_is_up_and_deleted_only_after_it_matches(tmp_path, monkeypatch):
    from azure.storage.blob import BlobServiceClient

    monkeypatch.setattr(VideoSnippetRuntime, "retry_max_s", 0.3)
    storage = MODELS.Azurite(MODELS.find_azurite(), free_port(), tmp_path / "azurite")
    (tmp_path / "azurite").mkdir()
    events = Events()
    runtime = snippet(
        tmp_path,
        events,
        duration_s=1,
        blob_container="snippets",
        blob_connection_string=storage.connection_string,
    )
    try:
        feed(runtime, range(12))  # storage is not running yet
        assert wait_until(lambda: runtime.delivery_stats()["queued"] == 1, 20)
        (clip,) = runtime.clips
        local = clip.read_bytes()
        assert wait_until(lambda: any("cannot deliver" in m for _, m in events.warnings), 10)

        storage.start()
        assert wait_until(lambda: runtime.delivery_stats()["sent"] == 1, 30), events.text()
        assert not clip.exists()  # deleted once the upload was verified
        service = BlobServiceClient.from_connection_string(storage.connection_string)
        blob = service.get_blob_client("snippets", f"video-snippet/people-counter/edge-7/{clip.name}")
        assert blob.download_blob().readall() == local
        assert blob.get_blob_properties().content_settings.content_type == "video/mp4"
    finally:
        runtime.close()
        storage.stop()
    assert storage.connection_string.split("AccountKey=")[1][:20] not in events.text()


def test_a_folder_that_is_a_file_is_refused_at_start(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "snippets").write_text("not a folder")
    with pytest.raises(NodeError, match=r"node clips: cannot write clips to .*parameter 'output_folder'"):
        snippet(tmp_path)


def _mount_tmpfs(target: Path, options: str) -> bool:
    target.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(target)], capture_output=True)
    return done.returncode == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real file system that is read-only or nearly full (a tmpfs; needs root)."""
    mounted: list[Path] = []

    def make(options: str) -> Path:
        target = tmp_path / f"disk{len(mounted)}"
        if not _mount_tmpfs(target, options):
            pytest.skip("cannot mount a tmpfs here (needs root): disk-full and read-only cases not run")
        mounted.append(target)
        return target

    yield make
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def test_a_read_only_folder_is_a_clear_error_at_start(tmp_path, small_disk):
    disk = small_disk("ro,size=1m")
    expected = r"cannot write clips to .*disk0.*parameter 'output_folder'.*Read-only"
    with pytest.raises(NodeError, match=expected):
        snippet(tmp_path, output_folder=str(disk))


def test_a_full_disk_loses_the_clip_with_an_error_and_the_run_goes_on(tmp_path, small_disk):
    disk = small_disk("size=1m")
    events = Events()
    runtime = snippet(tmp_path, events, output_folder=str(disk), duration_s=1, delay_buffer_s=2)
    feed(runtime, range(40))
    time.sleep(0.2)
    runtime.close()
    assert runtime.clips == []
    assert runtime.delivery_stats()["messages_dropped"] == 3  # three clips were due, none fit
    assert any(node == "clips" and "KiB free" in m and "output_folder" in m for node, m in events.errors)


def decode(path: Path) -> tuple[str, list[np.ndarray], float]:
    """(codec, frames as BGR, duration in s) of a clip, read back with PyAV (FFmpeg)."""
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        images = [f.to_ndarray(format="bgr24") for f in container.decode(stream)]
        duration = float(stream.duration * stream.time_base) if stream.duration else container.duration / 1e6
    return codec, images, duration


def test_a_clip_is_h264_with_faststart_and_decodes_to_the_pre_roll_and_the_duration(tmp_path):
    runtime = snippet(tmp_path, duration_s=2, delay_buffer_s=60, insights_overlay=False)
    feed(runtime, range(80), objects_from=40)
    runtime.close()

    (clip,) = runtime.clips
    codec, images, duration = decode(clip)
    assert codec == "h264"
    assert len(images) == 32  # frames 24..39 (pre-roll) and 40..55
    assert duration == pytest.approx(4.0, abs=0.15)
    levels = [float(image.mean()) for image in images]
    assert abs(levels[0] - 24) < 3 and abs(levels[15] - 39) < 3  # the pre-roll, in order
    assert abs(levels[16] - 40) < 3 and abs(levels[-1] - 55) < 3
    data = clip.read_bytes()
    assert 0 <= data.find(b"moov") < data.find(b"mdat")  # the index first: plays while it downloads


def test_an_encoder_that_is_not_here_falls_back_to_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(VideoSnippetRuntime, "encoders", ("h264_not_on_this_device", "libx264"))
    events = Events()
    runtime = snippet(tmp_path, events, duration_s=1)
    feed(runtime, range(12))
    runtime.close()
    assert runtime.codec == "libx264"
    assert decode(runtime.clips[0])[0] == "h264"
    assert not events.warnings  # H.264 all the same: nothing to warn about


def test_without_any_h264_encoder_clips_are_mpeg4_with_a_warning(tmp_path, monkeypatch):
    monkeypatch.setattr(VideoSnippetRuntime, "encoders", ("h264_not_on_this_device", "mpeg4"))
    events = Events()
    runtime = snippet(tmp_path, events, duration_s=1)
    feed(runtime, range(12))
    runtime.close()
    assert decode(runtime.clips[0])[0] == "mpeg4"
    (warning,) = [m for _, m in events.warnings]
    assert "MPEG-4 Part 2" in warning and "h264_not_on_this_device" in warning


def test_a_frame_with_odd_sides_still_makes_a_playable_clip(tmp_path):
    runtime = snippet(tmp_path, duration_s=1)
    for i in range(12):
        runtime.process(frame(i, step=STEP, size=(161, 121)))
    runtime.close()
    codec, images, _ = decode(runtime.clips[0])
    assert codec == "h264" and len(images) == 8 and images[0].shape == (120, 160, 3)
