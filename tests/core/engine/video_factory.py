"""Small synthetic videos and a live MJPEG camera, standing in for real cameras in tests.

The default drawing is a white square moving right on black, with the frame number written as
big binary cells along the top edge so a test can tell which frame it got, even after lossy
compression (``read_frame_number``).
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import cv2
import numpy as np

CODE_BITS = 12  # frame numbers 0..4095
CODE_HEIGHT = 16  # pixels; the code strip is the top CODE_HEIGHT rows
SQUARE_SIDE = 24
SQUARE_STEP = 4  # pixels per frame

Draw = Callable[[np.ndarray, int], None]
FOURCC_BY_SUFFIX = {".avi": "MJPG", ".mp4": "mp4v"}


def draw_frame_number(canvas: np.ndarray, number: int) -> None:
    """Write ``number`` as CODE_BITS black/white cells across the top strip of ``canvas``."""
    if not 0 <= number < 2**CODE_BITS:
        raise ValueError(f"frame number {number} does not fit in {CODE_BITS} bits")
    cell = canvas.shape[1] // CODE_BITS
    canvas[:CODE_HEIGHT] = 0
    for bit in range(CODE_BITS):
        if number >> bit & 1:
            canvas[:CODE_HEIGHT, bit * cell : (bit + 1) * cell] = 255


def read_frame_number(image: np.ndarray) -> int:
    """The number written by ``draw_frame_number``, read from the centre of each cell."""
    cell = image.shape[1] // CODE_BITS
    strip = image[CODE_HEIGHT // 4 : CODE_HEIGHT * 3 // 4]
    number = 0
    for bit in range(CODE_BITS):
        centre = strip[:, bit * cell + cell // 4 : (bit + 1) * cell - cell // 4]
        if centre.mean() > 127:
            number |= 1 << bit
    return number


def square_box(index: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x1, y1, x2, y2) of the moving square in frame ``index`` of a video of ``size`` (w, h)."""
    width, height = size
    x = index * SQUARE_STEP % (width - SQUARE_SIDE)
    y = CODE_HEIGHT + (height - CODE_HEIGHT - SQUARE_SIDE) // 2
    return x, y, x + SQUARE_SIDE, y + SQUARE_SIDE


def draw_numbered_square(canvas: np.ndarray, index: int) -> None:
    """The default frame: the moving square below the frame-number strip."""
    height, width = canvas.shape[:2]
    x1, y1, x2, y2 = square_box(index, (width, height))
    canvas[y1:y2, x1:x2] = 255
    draw_frame_number(canvas, index)


def numbered_frame(index: int, size: tuple[int, int] = (192, 112), draw: Draw | None = None) -> np.ndarray:
    """One BGR frame (black canvas of ``size`` (w, h) drawn on by ``draw``)."""
    width, height = size
    canvas = np.zeros((height, width, 3), np.uint8)
    (draw or draw_numbered_square)(canvas, index)
    return canvas


def write_video(
    path: Path,
    *,
    frames: int = 25,
    fps: float = 25.0,
    size: tuple[int, int] = (192, 112),
    draw: Draw | None = None,
) -> Path:
    """Write ``frames`` frames of ``size`` (w, h) at ``fps`` to ``path`` (.avi MJPG or .mp4 mp4v).

    ``draw(canvas, index)`` paints frame ``index`` onto a black BGR canvas in place.
    """
    path = Path(path)
    fourcc = FOURCC_BY_SUFFIX.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"write_video writes {sorted(FOURCC_BY_SUFFIX)} files, not {path.name}")
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {fourcc} video to {path}")
    try:
        for index in range(frames):
            writer.write(numbered_frame(index, size, draw))
    finally:
        writer.release()
    return path


def jpeg(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError("OpenCV cannot encode JPEG")
    return data.tobytes()


def write_raw_mjpeg(
    path: Path, *, frames: int = 6, size: tuple[int, int] = (192, 112), draw: Draw | None = None
) -> Path:
    """Concatenated JPEGs without a container: OpenCV reads it but cannot seek back in it."""
    path = Path(path)
    path.write_bytes(b"".join(jpeg(numbered_frame(i, size, draw)) for i in range(frames)))
    return path


class MjpegCamera:
    """An IP camera on 127.0.0.1: numbered frames as MJPEG over HTTP (multipart/x-mixed-replace).

    Frame numbers count up from ``first_number``; ``credentials`` (user, password) turns on HTTP
    Basic authentication. ``stop()`` closes open streams, as a camera losing power does.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        fps: float = 30.0,
        size: tuple[int, int] = (192, 112),
        first_number: int = 0,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.fps = fps
        self.size = size
        self.next_number = first_number
        self.authorization = None
        if credentials is not None:
            token = base64.b64encode(":".join(credentials).encode()).decode()
            self.authorization = f"Basic {token}"
        self._stopping = threading.Event()
        self._server = _CameraServer(("127.0.0.1", port), _CameraHandler)
        self._server.camera = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/video.mjpg"

    def stop(self) -> None:
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._server.shutdown()
        self._server.server_close()  # joins the streaming handlers: their sockets are closed
        self._thread.join()

    def __enter__(self) -> MjpegCamera:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stream(self, handler: BaseHTTPRequestHandler) -> None:
        """Send frames to one client at ``fps`` until stopped or the client goes away."""
        handler.send_response(200)
        handler.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
        handler.end_headers()
        due = time.monotonic()
        while not self._stopping.is_set():
            number, self.next_number = self.next_number, self.next_number + 1
            data = jpeg(numbered_frame(number % 2**CODE_BITS, self.size))
            head = b"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n"
            try:
                handler.wfile.write(head % len(data) + data + b"\r\n")
            except OSError:
                return
            due += 1.0 / self.fps
            self._stopping.wait(max(0.0, due - time.monotonic()))


class _CameraServer(ThreadingHTTPServer):
    daemon_threads = False  # server_close() joins the handlers
    camera: MjpegCamera


class _CameraHandler(BaseHTTPRequestHandler):
    server: _CameraServer

    def do_GET(self) -> None:
        camera = self.server.camera
        if camera.authorization and self.headers.get("Authorization") != camera.authorization:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="camera"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        camera.stream(self)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: tests read statuses, not access logs."""
