"""Export throughput and outage behaviour (run by hand; prints, asserts nothing).

    .venv/bin/python bench/exports_bench.py [--messages 2000] [--outage-s 5] [--only http,mqtt,...]

Starts the same real endpoints as the export tests (a local HTTP server, mosquitto plain and
TLS on 127.0.0.1:8883 with a test CA, Azurite) and drives each export runtime directly, the
way the engine's worker thread does:

- sustained messages/s: N gated messages as fast as the frame path hands them over, timed
  until the endpoint acknowledged the last one (every message through the on-disk outbox);
  also the frame-path cost per message (what ``process`` takes: build + write to the outbox)
  and its ratio to a 30 fps frame budget;
- outage: messages at a steady rate while the endpoint is stopped for ``--outage-s`` seconds
  and started again: how many the outbox held, how long it took to flush after the restart,
  how many were lost (goal 0), and how long the default outbox (10,000 messages) would hold
  at the defaults' rates;
- Video Snippet: encoder frames/s for 640x480 with the overlay, and verified upload MB/s;
- hostile (``--only hostile``): HTTP messages/s when the endpoint redirects once (each message
  re-POSTed to the new location), recovery after a damaged outbox entry (the start's scan, and
  how long until every whole message queued during an outage is delivered), and the size of
  run.log after 10,000 HTTP messages (and what httpx's per-request INFO lines would have made it).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests/core/engine/exports"), str(REPO / "tests/core/models")]

from export_helpers import Events, context, frame, frame_ids, wait_until  # noqa: E402
from export_servers import MODELS, Broker, HttpEndpoint, Subscriber, free_port, make_certificates  # noqa: E402

from designer.core.engine.nodes.delivery import ExportRuntime  # noqa: E402
from designer.core.engine.nodes.http import HttpRuntime  # noqa: E402
from designer.core.engine.nodes.iotedge import IotEdgeRuntime  # noqa: E402
from designer.core.engine.nodes.iothub import IotHubRuntime  # noqa: E402
from designer.core.engine.nodes.mqtt import MqttRuntime  # noqa: E402
from designer.core.engine.nodes.video_snippet import VideoSnippetRuntime  # noqa: E402
from designer.core.skill.catalog.exports import (  # noqa: E402
    HttpParams,
    IotEdgeParams,
    IotHubParams,
    MqttParams,
    VideoSnippetParams,
)

KEY = base64.b64encode(b"skill-designer-bench-key-32bytes").decode()
FRAME_BUDGET_S = 1 / 30
DEFAULT_RATES = {  # messages per second at each export's default delay buffer (HTTP: every frame at 15 fps)
    "iothub (delay 30 s)": 1 / 30,
    "iotedge (delay 10 s)": 1 / 10,
    "mqtt (delay 30 s)": 1 / 30,
    "http (15 fps)": 15.0,
}


def sustained(runtime: ExportRuntime, count: int) -> tuple[float, float]:
    """(messages/s end to end, seconds of frame path per message)."""
    runtime.open()
    spent = 0.0
    started = time.perf_counter()
    for i in range(count):
        tick = time.perf_counter()
        runtime.process(frame(i))
        spent += time.perf_counter() - tick
    if not wait_until(lambda: runtime.sent >= count, 300):
        print(f"    only {runtime.sent} of {count} delivered in 300 s")
    elapsed = time.perf_counter() - started
    runtime.close()
    return runtime.sent / elapsed, spent / count


def outage(
    runtime: ExportRuntime,
    stop: Callable[[], None],
    start: Callable[[], None],
    delivered: Callable[[], list[str]],
    rate: float,
    outage_s: float,
) -> dict:
    runtime.open()
    index = 0

    def send_for(seconds: float) -> None:
        nonlocal index
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            runtime.process(frame(index))
            index += 1
            time.sleep(1 / rate)

    send_for(1.0)
    stop()
    send_for(outage_s)
    held = runtime.delivery_stats()["queued"]
    start()
    restarted = time.monotonic()
    total = index
    wait_until(lambda: runtime.sent >= total, 120)
    flush_s = time.monotonic() - restarted
    wait_until(lambda: len(delivered()) >= total, 20)
    runtime.close()
    got = delivered()
    return {
        "sent": total,
        "held": held,
        "flush_s": flush_s,
        "lost": total - len(set(got)),
        "in_order": got == sorted(got, key=int),
    }


def report_outage(name: str, result: dict, outage_s: float, rate: float) -> None:
    print(
        f"  {name:<8} outage {outage_s:.0f} s at {rate:.0f} msg/s: outbox held {result['held']}, "
        f"flushed {result['flush_s']:.1f} s after the endpoint came back, lost {result['lost']} of "
        f"{result['sent']}, in order: {result['in_order']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--outage-s", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=50.0, help="messages/s during the outage test")
    parser.add_argument("--only", default="http,mqtt,iothub,iotedge,snippet,hostile")
    args = parser.parse_args()
    only = set(args.only.split(","))
    for cls in (HttpRuntime, MqttRuntime, IotHubRuntime, IotEdgeRuntime, VideoSnippetRuntime):
        cls.retry_max_s = 0.5  # the outage test measures the outbox, not the backoff ceiling
    tmp = Path(tempfile.mkdtemp(prefix="exports-bench-"))
    certs = make_certificates(tmp / "certs")
    results: dict[str, tuple[float, float]] = {}
    print(f"sustained delivery, {args.messages} messages each (every one through the on-disk outbox):")

    if "http" in only:
        endpoint = HttpEndpoint()
        params = HttpParams(url=endpoint.url)
        results["http"] = sustained(HttpRuntime("hook", params, context(tmp / "http")), args.messages)
        endpoint.close()
        port = free_port()
        endpoint = HttpEndpoint(port=port)
        holder: dict = {"endpoint": endpoint}

        def stop_http() -> None:
            holder["endpoint"].close()

        def start_http() -> None:
            holder["endpoint"] = HttpEndpoint(port=port)

        runtime = HttpRuntime("hook", HttpParams(url=f"http://127.0.0.1:{port}/x"), context(tmp / "http-out"))
        seen: list[str] = []

        def http_delivered() -> list[str]:
            return seen + [m["frame_id"] for m in holder["endpoint"].accepted]

        def stop_http_keep() -> None:
            seen.extend(m["frame_id"] for m in holder["endpoint"].accepted)
            stop_http()

        outcome = outage(runtime, stop_http_keep, start_http, http_delivered, args.rate, args.outage_s)
        holder["endpoint"].close()
        results["http-outage"] = outcome  # type: ignore[assignment]

    broker = Broker(free_port(), tmp / "mosquitto")
    if "mqtt" in only:
        broker.start()
        sub = Subscriber(broker.port)
        for qos in (0, 1):
            params = MqttParams(
                broker_address=broker.address, topic=f"bench/{qos}", delay_buffer_s=1e-6, qos=qos
            )
            results[f"mqtt qos {qos}"] = sustained(
                MqttRuntime("mq", params, context(tmp / f"mq{qos}")), args.messages
            )
        params = MqttParams(broker_address=broker.address, topic="bench/outage", delay_buffer_s=1e-6, qos=1)

        def mqtt_delivered() -> list[str]:
            return frame_ids(p for t, p in sub.wait_for(0, 0) if t == "bench/outage")

        def start_broker() -> None:
            broker.start()
            sub.resubscribed(10)

        outcome = outage(
            MqttRuntime("mq", params, context(tmp / "mq-out")),
            broker.stop,
            start_broker,
            mqtt_delivered,
            args.rate,
            args.outage_s,
        )
        results["mqtt-outage"] = outcome  # type: ignore[assignment]
        sub.close()
        broker.stop()

    if only & {"iothub", "iotedge"}:
        tls = Broker(8883, tmp / "mosquitto-tls", certs)
        tls.start()
        sub = Subscriber(8883, tls=certs)
        if "iothub" in only:
            device = f"HostName=localhost;DeviceId=dev1;SharedAccessKey={KEY}"
            params = IotHubParams(connection_string=device, ca_certificate=str(certs.ca), delay_buffer_s=1e-6)
            results["iothub"] = sustained(IotHubRuntime("hub", params, context(tmp / "hub")), args.messages)

            def hub_delivered() -> list[str]:
                return frame_ids(
                    p for t, p in sub.wait_for(0, 0) if t.startswith("devices/dev1/messages/events/")
                )

            def start_tls() -> None:
                tls.start()
                sub.resubscribed(10)

            sub.messages.clear()
            outcome = outage(
                IotHubRuntime("hub", params, context(tmp / "hub-out")),
                tls.stop,
                start_tls,
                hub_delivered,
                args.rate,
                args.outage_s,
            )
            results["iothub-outage"] = outcome  # type: ignore[assignment]
        if "iotedge" in only:
            import os

            os.environ["EdgeHubConnectionString"] = (
                f"HostName=hub.example.net;DeviceId=dev1;ModuleId=mod1;SharedAccessKey={KEY};"
                "GatewayHostName=localhost"
            )
            os.environ["EdgeModuleCACertificateFile"] = str(certs.ca)
            params = IotEdgeParams(module_name="counter", module_input="in", delay_buffer_s=1e-6)
            results["iotedge"] = sustained(
                IotEdgeRuntime("edge", params, context(tmp / "edge")), args.messages
            )
        sub.close()
        tls.stop()

    for name, value in results.items():
        if name.endswith("-outage"):
            continue
        rate, cost = value
        print(
            f"  {name:<10} {rate:8.0f} msg/s sustained; frame path {cost * 1e6:6.0f} us per message "
            f"({cost / FRAME_BUDGET_S:.3f}x of a 30 fps frame)"
        )
    print(f"outage ({args.outage_s:.0f} s, endpoint stopped and started again):")
    for name, value in results.items():
        if name.endswith("-outage"):
            report_outage(name.removesuffix("-outage"), value, args.outage_s, args.rate)  # type: ignore[arg-type]
    limit = ExportRuntime.outbox_limit
    print(f"how long the default outbox ({limit} messages) holds an outage before dropping the oldest:")
    for name, rate in DEFAULT_RATES.items():
        print(f"  {name:<22} {limit / rate / 3600:8.1f} h")

    if "snippet" in only:
        snippet_bench(tmp)
    if "hostile" in only:
        hostile_bench(tmp, args.messages)


def snippet_bench(tmp: Path) -> None:
    import cv2
    import numpy as np

    from designer.core.engine.frame import BBox, Frame, ObjectMeta

    size, frames, fps = (640, 480), 300, 30.0
    rng = np.random.default_rng(0)
    capture = cv2.VideoCapture(str(REPO / "resources/video/vtest.avi"))  # people walking: real content
    street = []
    while len(street) < 64:
        ok, image = capture.read()
        if not ok:
            break
        street.append(cv2.resize(image, size))
    capture.release()
    noise = [rng.integers(0, 255, (size[1], size[0], 3), np.uint8) for _ in range(8)]
    for label, images in (("street scene", street), ("random noise, the worst case", noise)):
        runtime = VideoSnippetRuntime(
            "clips",
            VideoSnippetParams(filename_prefix="bench", duration_s=10, delay_buffer_s=600),
            context(tmp / f"snippet-{len(images)}"),
        )
        runtime.context.lossless = True  # every frame reaches the encoder: measures the encoder
        runtime.open()
        started = time.perf_counter()
        for i in range(frames + 1):
            person = ObjectMeta("person", 0.9, bbox=BBox(0.2, 0.2, 0.3, 0.5))
            image = images[i % len(images)]
            runtime.process(Frame(image, str(i), 1_764_000_000 + i / fps, objects=[person]))
        runtime.close()
        elapsed = time.perf_counter() - started
        (clip,) = runtime.clips
        print(
            f"video snippet ({label}): {frames} frames 640x480 with overlay encoded ({runtime.codec}) in "
            f"{elapsed:.1f} s = {frames / elapsed:.0f} frames/s ({frames / elapsed / fps:.1f}x real time at "
            f"30 fps); clip {clip.stat().st_size / 1e6:.1f} MB"
        )
    storage = MODELS.Azurite(MODELS.find_azurite(), free_port(), tmp / "azurite")
    (tmp / "azurite").mkdir()
    storage.start()
    try:
        events = Events()
        params = VideoSnippetParams(
            filename_prefix="bench",
            duration_s=10,
            blob_container="bench",
            blob_connection_string=storage.connection_string,
        )
        uploader = VideoSnippetRuntime("clips", params, context(tmp / "upload", events=events))
        uploader.open()
        job = json.dumps({"file": str(clip), "blob": "video-snippet/bench/dev/clip.mp4"}).encode()
        size_mb = clip.stat().st_size / 1e6
        started = time.perf_counter()
        uploader.enqueue(job, count=False)
        wait_until(lambda: uploader.sent >= 1, 120)
        elapsed = time.perf_counter() - started
        uploader.close()
        print(
            f"video snippet upload (size + MD5 verified, then deleted): {size_mb / elapsed:.1f} MB/s "
            "to Azurite"
        )
    finally:
        storage.stop()


def hostile_bench(tmp: Path, count: int) -> None:
    """Redirected HTTP, recovery after a damaged outbox entry, run.log after 10,000 messages."""
    import logging
    import os

    from export_servers import ScriptedHttp, reply, unused_port

    def moved(handler, seen) -> None:  # type: ignore[no-untyped-def]
        if seen.path == "/old":
            reply(handler, 301, "moved", {"Location": "/new"})
        else:
            reply(handler, 200, "ok")

    server = ScriptedHttp(moved)
    rate, cost = sustained(
        HttpRuntime("hook", HttpParams(url=server.url("/old")), context(tmp / "moved")), count
    )
    server.close()
    print(
        f"http through one 301 (re-POSTed): {rate:.0f} msg/s sustained; "
        f"frame path {cost * 1e6:.0f} us per message"
    )

    port = unused_port()
    params = HttpParams(url=f"http://127.0.0.1:{port}/insights")
    down = HttpRuntime("hook", params, context(tmp / "damaged"))
    down.open()
    for i in range(count):
        down.process(frame(i))
    folder = down.outbox.folder if down.outbox is not None else tmp
    down.close()
    entries = sorted(folder.glob("*.msg"))
    victim = entries[len(entries) // 2]
    victim.write_bytes(victim.read_bytes()[:-7])  # torn, as by a power cut mid-write
    endpoint = HttpEndpoint(port=port)
    events = Events()
    started = time.perf_counter()
    up = HttpRuntime("hook", params, context(tmp / "damaged", events=events))
    up.open()
    opened = time.perf_counter() - started
    wait_until(lambda: up.sent >= count - 1, 300)
    recovered = time.perf_counter() - started
    up.close()
    endpoint.close()
    aside = up.outbox.set_aside["damaged"] if up.outbox is not None else -1
    print(
        f"recovery after a damaged entry ({count} queued, 1 torn): open (scan) {opened * 1e3:.0f} ms, "
        f"{up.sent} delivered {recovered:.2f} s after open ({up.sent / recovered:.0f} msg/s), "
        f"{aside} set aside"
    )

    from designer.commands import run as run_command

    for quiet in (True, False):
        os.environ["SKILL_DESIGNER_DATA"] = str(tmp / f"data-{quiet}")
        path, handler = run_command._open_run_log()
        endpoint = HttpEndpoint()
        runtime = HttpRuntime(
            "hook", HttpParams(url=endpoint.url + "?code=secret"), context(tmp / f"log-{quiet}")
        )
        runtime.open()
        if not quiet:
            logging.getLogger("httpx").setLevel(logging.NOTSET)  # what the run log got before
        for i in range(10_000):
            runtime.process(frame(i))
        wait_until(lambda r=runtime: r.sent >= 10_000, 300)  # type: ignore[misc]
        runtime.close()
        endpoint.close()
        run_command._close_run_log(handler)
        size = sum(p.stat().st_size for p in path.parent.glob("run.log*")) if path else -1
        label = "now" if quiet else "with httpx's INFO lines, as before"
        print(f"run.log after 10,000 HTTP messages ({label}): {size:,} bytes")
    logging.getLogger("httpx").setLevel(logging.WARNING)


if __name__ == "__main__":
    main()
