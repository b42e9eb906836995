"""Video Snippet: on a frame with objects, a playable MP4 of the moments around it.

A clip holds the pre-roll (the last ``PRE_ROLL_S`` seconds before the trigger) and
``duration_s`` seconds from the trigger on, with or without the insights overlay;
clip starts are at least ``delay_buffer_s`` apart. Frames go to an encoder thread
of the node's own, so encoding never holds the frame path (a live run drops clip
frames rather than wait; a lossless run waits). The clip's frame rate is measured
from the frames' own timestamps, so it plays as long as it was recorded.

Files are named ``<prefix>-<skill>-<device>-<UTC time>.mp4`` with safe characters
only, written under a temporary name and renamed when complete. Codec: H.264 in an
MP4 with the index at the front (faststart: plays while it downloads, in browsers,
the Azure portal and phones), through PyAV, on the first encoder of ``ENCODERS``
that opens here: NVENC, Quick Sync or V4L2 M2M hardware, else libx264 (in PyAV's
wheels). Only without any H.264 encoder, MPEG-4 Part 2 with a warning at start.

With ``blob_container`` set, each clip goes through the export outbox to Azure
Blob storage at ``video-snippet/<skill>/<device>/<file>`` (content type
``video/mp4``), retried while the service is unreachable; the local copy is
deleted only once the uploaded blob's size and MD5 match it.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import queue
import shutil
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import av
import cv2
import numpy as np

from designer.core.engine.frame import Frame, ObjectMeta
from designer.core.engine.nodes.delivery import (
    ExportRuntime,
    Refused,
    Rejected,
    Transient,
    safe_name,
    secret_value,
)
from designer.core.engine.overlay import draw_insights
from designer.core.engine.runtime import RunContext
from designer.core.skill.catalog.exports import VideoSnippetParams

if TYPE_CHECKING:
    from azure.storage.blob import ContainerClient

log = logging.getLogger(__name__)

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
PRE_ROLL_S = 2.0
PRE_ROLL_MAX_FRAMES = 60  # frames are full images: bound the memory the pre-roll holds
MIN_FREE_BYTES = 16 * 1024 * 1024  # a clip is not started on a disk with less free space
ENCODER_QUEUE = 96  # frames waiting for the encoder
FPS_SAMPLE = 8  # frames whose timestamps set the clip's frame rate
FALLBACK_FPS = 15.0
#: H.264 encoders in order of preference: hardware first, software last; then MPEG-4 Part 2.
ENCODERS = ("h264_nvenc", "h264_qsv", "h264_v4l2m2m", "libx264", "mpeg4")
_ENCODER_OPTIONS = {
    "libx264": {"preset": "superfast"},  # 400 frames/s at 640x480 on one busy core (bench)
    "h264_nvenc": {"preset": "p4"},
}
_encoder_lock = threading.Lock()
_encoders: dict[tuple[str, ...], tuple[str, tuple[str, ...]]] = {}


def _pixel_format(encoder: str) -> str:
    return "nv12" if encoder == "h264_qsv" else "yuv420p"


def video_encoder(candidates: tuple[str, ...] = ENCODERS) -> tuple[str, tuple[str, ...]]:
    """(the first of ``candidates`` that encodes here, those that did not): each is tried on a
    few frames in memory, once per process (a hardware encoder without its device fails to open)."""
    with _encoder_lock:
        if candidates not in _encoders:
            failed: list[str] = []
            chosen = ""
            for name in candidates:
                if _encodes(name):
                    chosen = name
                    break
                failed.append(name)
            _encoders[candidates] = (chosen, tuple(failed))
        return _encoders[candidates]


def _encodes(name: str) -> bool:
    try:
        with av.open(io.BytesIO(), "w", format="mp4") as container:
            stream = container.add_stream(name, rate=10, options=_ENCODER_OPTIONS.get(name, {}))
            assert isinstance(stream, av.VideoStream)
            stream.width, stream.height, stream.pix_fmt = 64, 48, _pixel_format(name)
            for index in range(3):
                picture = av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="bgr24")
                picture = picture.reformat(format=_pixel_format(name))
                picture.pts = index
                container.mux(stream.encode(picture))
            container.mux(stream.encode(None))
        return True
    except Exception:  # unknown here, no device, no driver: try the next one
        return False


class ClipWriter:
    """One MP4 clip through PyAV: H.264 (or what ``encoder`` is) at ``fps``, faststart."""

    def __init__(self, path: Path, encoder: str, fps: float, size: tuple[int, int]) -> None:
        self.container = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            rate = Fraction(fps).limit_denominator(1001)
            stream = self.container.add_stream(encoder, rate=rate, options=_ENCODER_OPTIONS.get(encoder, {}))
            assert isinstance(stream, av.VideoStream)
            self.stream = stream
            self.stream.width, self.stream.height = size
            self.stream.pix_fmt = _pixel_format(encoder)
            self.stream.codec_context.time_base = 1 / rate
        except Exception:
            self.container.close()
            raise
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        picture = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        picture = picture.reformat(format=self.stream.pix_fmt)
        picture.pts = self.frames
        picture.time_base = self.stream.codec_context.time_base
        self.container.mux(self.stream.encode(picture))
        self.frames += 1

    def close(self) -> None:
        try:
            self.container.mux(self.stream.encode(None))  # the frames the encoder still holds
        finally:
            self.container.close()


def utc_stamp(timestamp: float) -> str:
    """``20251124T160019.250Z``: sortable, no characters a file system or blob path dislikes."""
    when = datetime.fromtimestamp(timestamp, UTC)
    return when.strftime("%Y%m%dT%H%M%S.") + f"{when.microsecond // 1000:03d}Z"


@dataclass
class _Clip:
    path: Path
    blob: str
    trigger: str
    frames: int = 0
    dropped: int = 0
    stamps: list[float] = field(default_factory=list)


_END = object()


class VideoSnippetRuntime(ExportRuntime[VideoSnippetParams]):
    outbox_limit: ClassVar[int] = 200  # clips waiting for upload
    flush_timeout_s: ClassVar[float] = 10.0
    encoder_timeout_s: ClassVar[float] = 30.0
    encoders: ClassVar[tuple[str, ...]] = ENCODERS

    def __init__(self, node_id: str, params: VideoSnippetParams, context: RunContext) -> None:
        super().__init__(node_id, params, context)
        self._preroll: deque[tuple[np.ndarray, list[ObjectMeta], float]] = deque(maxlen=PRE_ROLL_MAX_FRAMES)
        self._clip: _Clip | None = None
        self._clip_until = 0.0
        self._frames: queue.Queue = queue.Queue(ENCODER_QUEUE)
        self._encoder: threading.Thread | None = None
        self.container: ContainerClient | None = None
        self.folder: Path | None = None
        self.codec = ""
        self.clips: list[Path] = []  # clips written in this run (uploaded ones are deleted)

    # --- opening ---------------------------------------------------------------------------

    def connect(self) -> None:
        p = self.params
        self.folder = self.context.resolve_output(p.output_folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=self.folder, prefix=".probe-"):
                pass
        except OSError as exc:
            raise self.fail(
                f"cannot write clips to '{self.folder}' (parameter 'output_folder'): {exc.strerror or exc}; "
                "choose a folder you can write to"
            ) from None
        self.endpoint = str(self.folder)
        if p.blob_container:
            self._connect_blob(p)
        self.codec, unavailable = video_encoder(self.encoders)
        if not self.codec:
            raise self.fail(f"no video encoder works here (tried {', '.join(self.encoders)})")
        if not self.codec.startswith(("h264", "libx264")):
            self.context.warn(
                self.node_id,
                f"clips are MPEG-4 Part 2 ({self.codec}): no H.264 encoder works here (tried "
                f"{', '.join(unavailable)}); browsers and most phones cannot play them",
            )
        name = f"node-{self.node_id}-encoder"
        self._encoder = threading.Thread(target=self._encode_loop, name=name, daemon=True)
        self._encoder.start()

    def _connect_blob(self, p: VideoSnippetParams) -> None:
        from azure.storage.blob import BlobServiceClient

        text = secret_value(
            p.blob_connection_string,
            CONNECTION_STRING_ENV,
            node_id=self.node_id,
            param="blob_connection_string",
        )
        if not text:
            raise self.fail(
                f"parameter 'blob_container' is {p.blob_container!r} but there is no storage connection "
                f"string: set 'blob_connection_string' (as $param(...)) or {CONNECTION_STRING_ENV}"
            )
        self.secrets = (text,)
        try:
            service = BlobServiceClient.from_connection_string(
                text, retry_total=0, connection_timeout=10, read_timeout=120
            )
        except ValueError:
            raise self.fail(
                "parameter 'blob_connection_string' is not a storage connection string "
                "(DefaultEndpointsProtocol=...;AccountName=...;AccountKey=...)"
            ) from None
        self.container = service.get_container_client(p.blob_container)
        account = service.url.split("?", 1)[0].rstrip("/")
        self.endpoint = f"{account}/{p.blob_container}"

    def uses_outbox(self) -> bool:
        return self.container is not None  # the outbox holds uploads

    # --- frames ----------------------------------------------------------------------------

    def process(self, frame: Frame) -> None:
        p = self.params
        if self._clip is not None:
            if frame.timestamp < self._clip_until:
                self._to_encoder(frame.image, frame.objects, frame.timestamp)
                return None
            self._end_clip()
        if self.due(frame):
            self._start_clip(frame)
            return None
        self._preroll.append((frame.image, frame.objects, frame.timestamp))
        while self._preroll and self._preroll[0][2] < frame.timestamp - min(PRE_ROLL_S, p.duration_s):
            self._preroll.popleft()
        return None

    def _start_clip(self, frame: Frame) -> None:
        p = self.params
        start = frame.timestamp - min(PRE_ROLL_S, p.duration_s) - 1e-6  # pre-roll: [t - PRE_ROLL_S, t)
        while self._preroll and self._preroll[0][2] < start:
            self._preroll.popleft()
        name = f"{p.filename_prefix}-{safe_name(self.context.skill_id or 'skill', 'skill')}-"
        name += f"{safe_name(self.context.device_id or 'device', 'device')}-{utc_stamp(frame.timestamp)}.mp4"
        folder = self.folder or self.context.resolve_output(p.output_folder)
        path = folder / name
        number = 1
        while path.exists():
            path = folder / f"{name[:-4]}-{number}.mp4"
            number += 1
        blob = "/".join(
            (
                "video-snippet",
                safe_name(self.context.skill_id or "skill", "skill"),
                safe_name(self.context.device_id or "device", "device"),
                path.name,
            )
        )
        description = {
            "file": str(path),
            "blob": blob if p.blob_container else None,
            "trigger_frame": frame.frame_id,
            "datetime": datetime.fromtimestamp(frame.timestamp, UTC).isoformat(),
            "duration_s": p.duration_s,
            "pre_roll_frames": len(self._preroll),
        }
        self.enqueue(json.dumps(description, allow_nan=False).encode(), deliver=False)
        self._clip_until = frame.timestamp + p.duration_s
        if self.dry:
            self._preroll.clear()
            self._clip = _Clip(path, blob, frame.frame_id)  # skip the clip's frames, as a real one would
            return
        try:
            free = shutil.disk_usage(folder).free
        except OSError:
            free = MIN_FREE_BYTES
        if free < MIN_FREE_BYTES:
            self._count_dropped()
            self.report_error(
                f"no clip recorded: '{folder}' (parameter 'output_folder') has only {free // 1024} KiB free"
            )
            self._clip = _Clip(path, blob, frame.frame_id)
            self._clip.dropped = -1  # nothing goes to the encoder for this one
            return
        self._clip = _Clip(path, blob, frame.frame_id)
        self._put(self._clip)
        for image, objects, stamp in self._preroll:
            self._to_encoder(image, objects, stamp)
        self._preroll.clear()
        self._to_encoder(frame.image, frame.objects, frame.timestamp)

    def _to_encoder(self, image: np.ndarray, objects: list[ObjectMeta], stamp: float) -> None:
        clip = self._clip
        if self.dry or clip is None or clip.dropped < 0:
            return
        if not self._put((image, objects, stamp), wait=self.context.lossless):  # live: never wait
            clip.dropped += 1

    def _put(self, item: object, *, wait: bool = True) -> bool:
        """Hand an item to the encoder; waiting (if asked) only while the encoder is alive."""
        while True:
            try:
                self._frames.put(item, timeout=0.5) if wait else self._frames.put_nowait(item)
                return True
            except queue.Full:
                if not wait or self._encoder is None or not self._encoder.is_alive():
                    return False

    def _end_clip(self) -> None:
        clip, self._clip = self._clip, None
        if clip is not None and not self.dry and clip.dropped >= 0:
            self._put(_END)

    def _count_dropped(self) -> None:
        with self._counts_lock:
            self.dropped_messages += 1

    # --- encoding (its own thread) ---------------------------------------------------------

    def _encode_loop(self) -> None:
        clip: _Clip | None = None
        pending: list[tuple[np.ndarray, list[ObjectMeta], float]] = []
        writer: ClipWriter | None = None
        size: tuple[int, int] = (0, 0)
        tmp: Path | None = None
        failed: str | None = None
        while True:
            item = self._frames.get()
            if item is None:
                return
            if isinstance(item, _Clip):
                clip, pending, writer, failed = item, [], None, None
                tmp = item.path.with_name(f".{item.path.stem}.part.mp4")
                continue
            if clip is None:
                continue
            if item is not _END:
                pending.append(item)
                if writer is None and len(pending) < FPS_SAMPLE:
                    continue
            try:
                if writer is None and pending and failed is None:
                    assert tmp is not None
                    height, width = pending[0][0].shape[:2]
                    size = (width - width % 2, height - height % 2)  # 4:2:0 needs even sides
                    writer = ClipWriter(tmp, self.codec, _fps(pending), size)
                if writer is not None:
                    for image, objects, stamp in pending:
                        writer.write(self._picture(image, objects, size))
                        clip.frames += 1
                        clip.stamps.append(stamp)
                pending = []
            except Exception as exc:  # any failure ends this clip, never the thread
                failed = str(exc)
                pending = []
            if item is _END:
                try:
                    if writer is not None:
                        try:
                            writer.close()
                        except Exception as exc:  # a full disk at the last write: the clip is lost
                            failed = failed or str(exc)
                        writer = None
                    self._finish(clip, tmp, failed)
                except Exception as exc:  # the thread must outlive any clip
                    log.exception("node %s: finishing a clip", self.node_id)
                    self.report_error(f"cannot finish the clip '{clip.path}': {exc}")
                clip = None

    def _picture(self, image: np.ndarray, objects: list[ObjectMeta], size: tuple[int, int]) -> np.ndarray:
        if image.shape[1] != size[0] or image.shape[0] != size[1]:
            image = cv2.resize(image, size)
        return draw_insights(image, objects) if self.params.insights_overlay else image

    def _finish(self, clip: _Clip, tmp: Path | None, failed: str | None) -> None:
        where = f"'{clip.path}' (parameter 'output_folder')"
        if failed is None and (tmp is None or not tmp.is_file() or clip.frames == 0):
            failed = "nothing was written"
        if failed is None and tmp is not None and not _playable(tmp):
            failed = "the file is not a readable video (is the disk full?)"
        if failed is None and tmp is not None:
            try:
                tmp.replace(clip.path)
            except OSError as exc:
                failed = exc.strerror or str(exc)
        if failed is not None:
            if tmp is not None:
                tmp.unlink(missing_ok=True)
            self._count_dropped()
            self.report_error(f"cannot write the clip {where}: {failed}; the clip is lost")
            return
        self.clips.append(clip.path)
        if clip.dropped:
            left_out = f"{clip.dropped} frames left out of {clip.path.name}"
            self.warn_once("slow", f"the encoder fell behind: {left_out}")
        if self.container is None:
            with self._counts_lock:
                self.sent += 1  # written locally is delivered
            return
        job = {"file": str(clip.path), "blob": clip.blob}
        try:
            self.enqueue(json.dumps(job, allow_nan=False).encode(), count=False)
        except Exception as exc:
            self.report_error(str(getattr(exc, "message", exc)))

    # --- uploading (the delivery thread) ---------------------------------------------------

    def send(self, payload: bytes) -> None:
        from azure.core.exceptions import (
            ClientAuthenticationError,
            HttpResponseError,
            ResourceNotFoundError,
            ServiceRequestError,
            ServiceResponseError,
        )
        from azure.storage.blob import ContentSettings

        job = json.loads(payload)
        path = Path(job["file"])
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise Rejected(f"the clip '{path}' is no longer there to upload") from None
        except OSError as exc:
            raise Transient(f"cannot read '{path}': {exc.strerror}") from None
        md5 = hashlib.md5(data).digest()
        container = self.container
        if container is None:
            raise Transient("the storage client is closed")
        blob = container.get_blob_client(job["blob"])
        settings = ContentSettings(content_type="video/mp4", content_md5=bytearray(md5))
        try:
            try:
                blob.upload_blob(data, overwrite=True, content_settings=settings, validate_content=True)
            except ResourceNotFoundError as exc:
                if getattr(exc, "error_code", "") != "ContainerNotFound":
                    raise
                container.create_container()
                blob.upload_blob(data, overwrite=True, content_settings=settings, validate_content=True)
            properties = blob.get_blob_properties()
        except ClientAuthenticationError as exc:
            raise Refused(f"the storage service refused the credentials: {_short(exc)}") from None
        except (ServiceRequestError, ServiceResponseError, ConnectionError) as exc:
            raise Transient(_short(exc)) from None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status in (401, 403):
                raise Refused(f"the storage service refused the credentials: {_short(exc)}") from None
            if 400 <= status < 500 and status not in (408, 409, 429):
                raise Rejected(f"blob {job['blob']}: {_short(exc)}") from None
            raise Transient(_short(exc)) from None
        stored_md5 = properties.content_settings.content_md5
        if properties.size != len(data) or stored_md5 is None or bytes(stored_md5) != md5:
            raise Transient(f"blob {job['blob']} does not match the local clip after upload; uploading again")
        path.unlink(missing_ok=True)

    def on_dropped(self, payloads: list[bytes]) -> None:
        files = [json.loads(p).get("file", "?") for p in payloads if p]
        self.warn_once("kept", f"not uploading {', '.join(files)}: too many clips waiting; they stay on disk")

    # --- closing ---------------------------------------------------------------------------

    def close(self) -> None:
        """Finish the clip being recorded, let the encoder write it, then flush uploads."""
        encoder = self._encoder
        if encoder is not None:
            self._end_clip()
            self._put(None)  # waits only while the encoder runs
            encoder.join(self.encoder_timeout_s)
            self._encoder = None
        super().close()

    def disconnect(self) -> None:
        self.container = None

    def update(self, params: VideoSnippetParams) -> bool:
        live = ("duration_s", "insights_overlay", "delay_buffer_s", "filename_prefix")
        if params.model_copy(update={k: getattr(self.params, k) for k in live}) != self.params:
            return False
        self.params = params
        return True


def _playable(path: Path) -> bool:
    """The clip opens and its first frame decodes."""
    try:
        with av.open(str(path)) as container:
            return next(container.decode(video=0), None) is not None
    except Exception:
        return False


def _fps(frames: list[tuple[np.ndarray, list[ObjectMeta], float]]) -> float:
    """Frames per second from the frames' own timestamps (a file run keeps the file's clock)."""
    stamps = [stamp for _, _, stamp in frames]
    if len(stamps) >= 2 and stamps[-1] > stamps[0]:
        return float(min(120.0, max(1.0, (len(stamps) - 1) / (stamps[-1] - stamps[0]))))
    return FALLBACK_FPS


def _short(exc: Exception) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
