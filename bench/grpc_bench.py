"""Custom-node round trips on loopback: our client vs bare stubs, unary vs streaming.

Run by hand: ``python bench/grpc_bench.py [--frames 300] [--rounds 5]``.
The server (the FakeDetection sample, via ``skill-designer serve-sample``)
runs in its own process, as a user's node would. Every figure is a median
over rounds measured in this run; compare the ratios, not the absolute
numbers, across machines. Goals: our unary overhead <= 15 % over a bare
generated-stub call, streaming >= 3x the frames per second of unary.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import grpc
import numpy as np

from designer.customnode import CustomNodeClient, FrameData, pb2
from designer.customnode import custom_node_pb2_grpc as pb2_grpc
from designer.customnode.server import DEFAULT_MAX_MESSAGE_BYTES, channel_options

REPO = Path(__file__).resolve().parents[1]
CASES = [
    ("640x480", 640, 480, "numpy"),
    ("640x480", 640, 480, "jpeg"),
    ("1920x1080", 1920, 1080, "numpy"),
    ("1920x1080", 1920, 1080, "jpeg"),
    ("64x48 (per-call cost, almost no payload)", 64, 48, "numpy"),
]


def camera_frame(width: int, height: int) -> np.ndarray:
    """A camera-like frame: gradients plus mild noise, so JPEG sizes are realistic."""
    rng = np.random.default_rng(0)
    x = np.linspace(0, 255, width, dtype=np.float32)
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    image = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=2)
    image += rng.normal(0, 6, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def start_server(image_type: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "designer.cli",
            "serve-sample",
            "fake-detection",
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--image-type",
            image_type,
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    match = re.search(r"connect with (\S+?);", process.stdout.readline())
    if not match:
        process.kill()
        raise SystemExit("the sample server did not start")
    return process, match.group(1)


Loop = Callable[[int], list[float]]


def bare_loop(endpoint: str, image: np.ndarray, image_type: int) -> Loop:
    """A hand-written client at its leanest: encode, fill the request in place, one unary call."""
    channel = grpc.insecure_channel(endpoint, options=channel_options(DEFAULT_MAX_MESSAGE_BYTES))
    stub = pb2_grpc.CustomNodeHandlerStub(channel)
    stub.Handshake(pb2.HandshakeRequest(seq=1), timeout=5)
    height, width = image.shape[:2]
    seq = [1]

    def run(frames: int) -> list[float]:
        latencies = []
        for _ in range(frames):
            start = time.perf_counter()
            seq[0] += 1
            request = pb2.ProcessRequest(seq=seq[0])
            if image_type == pb2.IMAGE_TYPE_JPEG:
                data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            else:
                data = image.tobytes()
            request.frame.image.image_pointer = data
            request.frame.image.properties.height = height
            request.frame.image.properties.width = width
            request.frame.frame_id = str(seq[0])
            response = stub.Process(request, timeout=5)
            assert response.ack == seq[0]
            latencies.append(time.perf_counter() - start)
        return latencies

    return run


def client_loop(endpoint: str, image: np.ndarray, streaming: bool) -> Loop:
    client = CustomNodeClient(endpoint, timeout=5, streaming=streaming)
    empty = {"objects_meta": [], "events_meta": [], "other_meta": {}}

    def run(frames: int) -> list[float]:
        latencies = []
        for i in range(frames):
            start = time.perf_counter()
            client.process(FrameData(image, str(i), time.time(), empty))
            latencies.append(time.perf_counter() - start)
        return latencies

    return run


def measure(name: str, width: int, height: int, encoding: str, frames: int, rounds: int) -> None:
    process, endpoint = start_server(encoding)
    try:
        image = camera_frame(width, height)
        image_type = pb2.IMAGE_TYPE_JPEG if encoding == "jpeg" else pb2.IMAGE_TYPE_NUMPY
        loops = {
            "bare": bare_loop(endpoint, image, image_type),
            "unary": client_loop(endpoint, image, streaming=False),
            "stream": client_loop(endpoint, image, streaming=True),
        }
        for run in loops.values():
            run(max(frames // 10, 5))  # warm up: connect, handshake, first stream
        latencies: dict[str, list[float]] = {label: [] for label in loops}
        for _ in range(rounds):  # interleaved, so load from other processes hits all alike
            for label, run in loops.items():
                latencies[label] += run(frames)
        # median latency resists the spikes of a shared machine; mean fps is what a loop gets
        p50 = {k: statistics.median(v) * 1000 for k, v in latencies.items()}
        fps = {k: len(v) / sum(v) for k, v in latencies.items()}
        print(f"\n{name} {encoding}, {frames} frames x {rounds} rounds")
        labels = {"bare": "bare stub, unary", "unary": "our client, unary", "stream": "our client, stream"}
        for key, label in labels.items():
            print(f"  {label:20s} p50 {p50[key]:7.2f} ms  mean {fps[key]:7.1f} fps")
        print(
            f"  our unary overhead vs bare: p50 {(p50['unary'] / p50['bare'] - 1) * 100:+.1f} %,"
            f" fps {(fps['bare'] / fps['unary'] - 1) * 100:+.1f} % (goal <= 15 %)"
        )
        print(
            f"  stream vs our unary: p50 {p50['unary'] / p50['stream']:.2f}x,"
            f" fps {fps['stream'] / fps['unary']:.2f}x (goal >= 3x)"
        )
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=300, help="frames per round at 640x480")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    for name, width, height, encoding in CASES:
        frames = args.frames if width <= 640 else max(args.frames // 6, 10)
        measure(name, width, height, encoding, frames, args.rounds)


if __name__ == "__main__":
    main()
