"""`skill-designer run` with all five exports and the Insights Log, against local mosquitto
(plain and TLS), Azurite and an HTTP server, with both brokers restarted mid-run."""

from __future__ import annotations

import base64
import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import cv2
from export_helpers import frame_ids, wait_until
from onnx_factory import blob_detector, write_labels
from video_factory import write_video

from designer.core.skill import save_skill
from designer.core.skill.catalog.exports import edge_output_name

REPO = Path(__file__).resolve().parents[4]
KEY = base64.b64encode(b"skill-designer-test-key-32-bytes").decode()
FPS = 20
FRAMES = 80  # four seconds, played in real time


def gated(log: list[dict], delay: float) -> list[str]:
    """The documented rule: frames with objects only, at most one per ``delay`` seconds."""
    ids, last = [], None
    for message in log:
        if not message["insights_meta"]["objects_meta"]:
            continue
        if last is not None and message["timestamp"] < last + delay:
            continue
        last = message["timestamp"]
        ids.append(message["frame_id"])
    return ids


def counts(summary: str, node: str) -> tuple[int, int]:
    """(messages built, sent) of an export, from the run's summary."""
    match = re.search(rf"^  {node}: (\d+) messages, (\d+) sent", summary, re.M)
    assert match, f"no delivery line for {node} in the summary:\n{summary}"
    return int(match[1]), int(match[2])


def frames_dropped(summary: str) -> dict[str, int]:
    """Frames each node dropped in the live run (the summary table's 'dropped' column)."""
    rows = re.findall(r"^  (\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s", summary, re.M)
    return {node: int(dropped) for node, _, _, dropped, _ in rows}


def test_a_skill_with_every_export_delivers_everything_across_broker_restarts(
    tmp_path, broker, tls_broker, certificates, subscribe, http_endpoint, azurite
):
    from engine_helpers import skill_of

    write_video(tmp_path / "clip.avi", frames=FRAMES, fps=FPS)
    blob_detector(tmp_path / "blob.onnx")
    write_labels(tmp_path / "blob.txt", ["thing"])
    skill = skill_of(
        ("cam", "camera@1", {"source": "clip.avi", "loop": False}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        ("log", "insights-log@1", {"path": "insights.jsonl"}),
        (
            "mq",
            "mqtt@1",
            {"broker_address": broker.address, "topic": "site/insights", "qos": 1, "delay_buffer_s": 0.2},
        ),
        (
            "hub",
            "iothub@1",
            {
                "connection_string": "$param(hub_cs)",
                "ca_certificate": str(certificates.ca),
                "delay_buffer_s": 0.2,
            },
        ),
        ("edge", "iotedge@1", {"module_name": "counter", "module_input": "insights", "delay_buffer_s": 0.2}),
        ("hook", "http@1", {"url": http_endpoint.url}),
        (
            "clips",
            "video-snippet@1",
            {"filename_prefix": "door", "duration_s": 1, "delay_buffer_s": 1, "blob_container": "clips"},
        ),
        links=[("cam", "det")] + [("det", n) for n in ("log", "mq", "hub", "edge", "hook", "clips")],
        fps=FPS,
    )
    skill.settings.name = "Door watch"
    save_skill(skill, tmp_path / "door.skill.json")
    mqtt_sub = subscribe(broker.port)
    tls_sub = subscribe(tls_broker.port, tls=certificates)
    env = {
        **os.environ,
        "EdgeHubConnectionString": (
            f"HostName=hub.example.net;DeviceId=dev1;ModuleId=mod1;SharedAccessKey={KEY};GatewayHostName=localhost"
        ),
        "EdgeModuleCACertificateFile": str(certificates.ca),
        "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string,
        "SKILL_DESIGNER_RETRY_MAX_S": "0.5",
    }
    run = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "designer.cli",
            "run",
            "door.skill.json",
            "--quiet",
            "--param",
            f"hub_cs=HostName=localhost;DeviceId=dev1;SharedAccessKey={KEY}",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_until(lambda: len(mqtt_sub.wait_for(0, 0)) >= 1, 30), "no MQTT message in 30 s"
        broker.stop()
        tls_broker.stop()
        time.sleep(0.7)
        broker.start()
        tls_broker.start()
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 0, err
    assert KEY not in err

    log = [json.loads(line) for line in (tmp_path / "insights.jsonl").read_text().splitlines()]
    assert len(log) >= FRAMES // 2  # a live run may drop a frame when a node falls behind
    expected = gated(log, 0.2)
    assert len(expected) >= 10

    assert mqtt_sub.resubscribed() and tls_sub.resubscribed(15)

    def topic_ids(sub, prefix):
        return frame_ids(p for t, p in sub.wait_for(0, 0) if t.startswith(prefix))

    delivered = {
        "mq": lambda: topic_ids(mqtt_sub, "site/insights"),
        "hub": lambda: topic_ids(tls_sub, "devices/dev1/messages/events/"),
        "edge": lambda: topic_ids(tls_sub, f"devices/dev1/modules/mod1/messages/events/%24.on={output}"),
        "hook": lambda: [m["frame_id"] for m in http_endpoint.accepted],
    }
    output = edge_output_name("counter", "insights")
    dropped = frames_dropped(err)
    for node, ids in delivered.items():
        built, sent = counts(err, node)
        assert sent == built, f"{node}: {built} messages built, {sent} sent\n{err}"
        assert wait_until(lambda ids=ids, built=built: len(ids()) >= built, 10), f"{node}\n{err}"
        got = ids()
        assert len(got) == built, f"{node} delivered {len(got)} of {built}\n{err}"
        if dropped.get(node, 0) == 0 and dropped.get("log", 0) == 0:  # it saw the frames the log saw
            assert got == ([m["frame_id"] for m in log] if node == "hook" else expected), node
        else:
            log_ids = [m["frame_id"] for m in log]
            assert got == sorted(got, key=log_ids.index), node  # in order

    # Clips: uploaded under video-snippet/<skill>/<device>/, playable, and no local copy left.
    from azure.storage.blob import BlobServiceClient

    container = BlobServiceClient.from_connection_string(azurite.connection_string).get_container_client(
        "clips"
    )
    device = "".join(c if c.isalnum() or c in "_.-" else "-" for c in socket.gethostname()).strip("-.")
    blobs = [b.name for b in container.list_blobs()]
    assert blobs and all(b.startswith(f"video-snippet/Door-watch/{device}/door-Door-watch-") for b in blobs)
    data = container.download_blob(blobs[0]).readall()
    (tmp_path / "downloaded.mp4").write_bytes(data)
    capture = cv2.VideoCapture(str(tmp_path / "downloaded.mp4"))
    ok, image = capture.read()  # playable; a live run may have left some frames out of the clip
    assert ok and image.shape == (112, 192, 3) and capture.get(cv2.CAP_PROP_FRAME_COUNT) >= FPS // 2
    capture.release()
    assert list((tmp_path / "snippets").glob("*.mp4")) == []
    assert "clips: " in err and "0 queued" in err and "0 dropped" in err
