"""The engine end to end on real video files, real ONNX models and real gRPC servers."""

from __future__ import annotations

import json
import time

import cv2
import numpy as np
import pytest
from engine_helpers import Recorder, camera_to_log, run_skill, skill_of
from onnx_factory import blob_detector, color_classifier, write_labels
from video_factory import read_frame_number, square_box, write_video

from designer.core.engine.events import FrameEvent, NodeErrorEvent, RunState, StatusEvent
from designer.core.engine.executor import Engine, SkillNotRunnable
from designer.core.engine.runtime import RunContext
from designer.customnode import pb2
from designer.customnode.insights import object_meta
from designer.customnode.samples import BoxCounter, FakeDetection, Flip
from designer.customnode.server import CustomNode, CustomNodeServer


@pytest.fixture
def clip(tmp_path):
    return write_video(tmp_path / "clip.avi", frames=20, fps=25)


def serve(node: CustomNode) -> CustomNodeServer:
    return CustomNodeServer(0, node, host="127.0.0.1").start()


@pytest.fixture
def servers():
    started = []

    def start(node: CustomNode) -> str:
        server = serve(node)
        started.append(server)
        return f"127.0.0.1:{server.port}"

    yield start
    for server in started:
        server.stop(None)


def read_log(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- the whole pipeline -------------------------------------------------------------------


def test_every_frame_reaches_the_log_in_order_with_the_poss_message_shape(tmp_path, clip, servers):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("fake", "grpc-endpoint@1", {"endpoint_url": servers(FakeDetection())}),
        ("log", "insights-log@1", {"path": "out/insights.jsonl"}),
        links=[("cam", "fake"), ("fake", "log")],
    )
    engine, _recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED
    messages = read_log(tmp_path / "out/insights.jsonl")
    assert [m["frame_id"] for m in messages] == [str(i) for i in range(20)]
    first = messages[0]
    assert first["image"]["properties"] == {"height": 112, "width": 192, "color_format": "BGR"}
    car = first["insights_meta"]["objects_meta"][0]
    assert car["label"] == "car" and car["confidence"] == pytest.approx(0.9)
    assert car["bbox"] == pytest.approx({"l": 0.1, "t": 0.2, "w": 0.3, "h": 0.4})
    assert first["datetime"].endswith("+00:00") and first["timestamp"] > 1.7e9
    stats = engine.metrics().nodes
    assert stats["fake"].frames_in == 20 and stats["log"].frames_in == 20 and stats["fake"].p50_ms > 0


def test_max_frames_stops_the_run(tmp_path, clip):
    skill = camera_to_log({"source": str(clip), "loop": True})
    _engine, _, state = run_skill(skill, tmp_path, max_frames=7)
    assert state is RunState.FINISHED
    assert len(read_log(tmp_path / "log.jsonl")) == 7


def test_fan_out_branches_get_their_own_insights(tmp_path, clip, servers):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("fake", "grpc-endpoint@1", {"endpoint_url": servers(FakeDetection())}),
        ("cars", "filter@1", {"labels": ["car"]}),
        ("trucks", "filter@1", {"labels": ["truck"]}),
        ("log-cars", "insights-log@1", {"path": "cars.jsonl"}),
        ("log-trucks", "insights-log@1", {"path": "trucks.jsonl"}),
        links=[
            ("cam", "fake"),
            ("fake", "cars"),
            ("fake", "trucks"),
            ("cars", "log-cars"),
            ("trucks", "log-trucks"),
        ],
    )
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED
    cars, trucks = read_log(tmp_path / "cars.jsonl"), read_log(tmp_path / "trucks.jsonl")
    assert len(cars) == len(trucks) == 20
    assert all(len(m["insights_meta"]["objects_meta"]) == 1 for m in cars)
    assert all(m["insights_meta"]["objects_meta"] == [] for m in trucks)
    # The image is shared, not copied per branch.
    assert recorder.frames["log-cars"][0].image is recorder.frames["log-trucks"][0].image


# --- models ---------------------------------------------------------------------------------


def _green_with_red_square(canvas: np.ndarray, index: int) -> None:
    canvas[:] = (0, 160, 0)
    x1, y1, x2, y2 = square_box(index, (canvas.shape[1], canvas.shape[0]))
    canvas[y1:y2, x1:x2] = (120, 120, 255)  # bright, red-dominant: the blob the detector finds


@pytest.fixture
def models(tmp_path):
    detector = blob_detector(tmp_path / "blob.onnx")
    write_labels(tmp_path / "blob.txt", ["thing"])
    classifier = color_classifier(tmp_path / "color.onnx")
    write_labels(tmp_path / "color.txt", ["red", "green", "blue"])
    return detector, classifier


def test_classifier_after_detector_labels_each_box_from_its_crop(tmp_path, models):
    clip = write_video(tmp_path / "square.avi", frames=12, draw=_green_with_red_square)
    skill = skill_of(
        ("cam", "camera@1", {"source": "square.avi", "loop": False}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        (
            "cls",
            "model@1",
            {"model_path": "color.onnx", "labels_path": "color.txt", "confidence_threshold": 0},
        ),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "det"), ("det", "cls"), ("cls", "log")],
    )
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED, recorder.errors
    assert clip.exists()
    messages = read_log(tmp_path / "log.jsonl")
    assert len(messages) == 12
    for index, message in enumerate(messages):
        (obj,) = message["insights_meta"]["objects_meta"]
        assert obj["label"] == "thing"
        # The crop is red although the whole frame is mostly green.
        assert [(a["name"], a["label"]) for a in obj["attributes"]] == [("color", "red")]
        x1, _y1, x2, _y2 = square_box(index, (192, 112))
        assert obj["bbox"]["l"] == pytest.approx(x1 / 192, abs=0.04)
        assert obj["bbox"]["w"] == pytest.approx((x2 - x1) / 192, abs=0.04)


def test_classifier_without_detector_labels_the_whole_frame(tmp_path, models):
    write_video(tmp_path / "square.avi", frames=5, draw=_green_with_red_square)
    skill = skill_of(
        ("cam", "camera@1", {"source": "square.avi", "loop": False}),
        (
            "cls",
            "model@1",
            {"model_path": "color.onnx", "labels_path": "color.txt", "confidence_threshold": 0},
        ),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "cls"), ("cls", "log")],
    )
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED, recorder.errors
    for message in read_log(tmp_path / "log.jsonl"):
        (obj,) = message["insights_meta"]["objects_meta"]
        assert obj["label"] == "green"
        assert obj["bbox"] == {"l": 0.0, "t": 0.0, "w": 1.0, "h": 1.0}


# --- gRPC nodes of every response type inside a running skill -------------------------------


class Stamp(CustomNode):
    """IMAGE_AND_INSIGHTS_META: paints the frame white and reports one 'stamp' object."""

    def Handshake(self, request, context):
        return pb2.HandshakeResponse(
            ack=request.seq,
            image_type=pb2.IMAGE_TYPE_JPEG,
            process_request_type=pb2.FRAME_WITH_IMAGE,
            process_response_type=pb2.IMAGE_AND_INSIGHTS_META,
        )

    def Process(self, request, context):
        props = request.frame.image.properties
        white = np.full((props.height, props.width, 3), 255, np.uint8)
        image = pb2.Image(image_pointer=cv2.imencode(".jpg", white)[1].tobytes(), properties=props)
        meta = pb2.InsightsMeta(objects_meta=[object_meta("stamp", 0.5, (0.0, 0.0, 0.5, 0.5))])
        return pb2.ProcessResponse(ack=request.seq, image=image, insights_meta=meta)


class Silent(CustomNode):
    """EMPTY: acks and changes nothing."""

    def __init__(self) -> None:
        self.seen = 0

    def Handshake(self, request, context):
        return pb2.HandshakeResponse(ack=request.seq, process_response_type=pb2.EMPTY)

    def Process(self, request, context):
        self.seen += 1
        return pb2.ProcessResponse(ack=request.seq)


def test_grpc_nodes_of_each_response_type(tmp_path, clip, servers):
    silent = Silent()
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("fake", "grpc-endpoint@1", {"endpoint_url": servers(FakeDetection())}),  # INSIGHTS_META_ONLY
        ("flip", "grpc-endpoint@1", {"endpoint_url": servers(Flip())}),  # IMAGE_ONLY
        ("count", "grpc-endpoint@1", {"endpoint_url": servers(BoxCounter())}),  # events, no image
        ("quiet", "grpc-endpoint@1", {"endpoint_url": servers(silent)}),  # EMPTY
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "fake"), ("fake", "flip"), ("flip", "count"), ("count", "quiet"), ("quiet", "log")],
    )
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED, recorder.errors
    assert silent.seen == 20
    frames = recorder.frames["log"]
    assert len(frames) == 20
    source = cv2.VideoCapture(str(clip))
    for frame in frames:
        ok, original = source.read()
        assert ok
        # IMAGE_ONLY replaced the image: it is the mirror of the source frame.
        assert np.abs(frame.image.astype(int) - cv2.flip(original, 1).astype(int)).mean() < 3
        assert [o.label for o in frame.objects] == ["car"]
        events = [e for e in frame.events]
        assert len(events) == 1 and "1" in events[0].properties.values()


def test_grpc_image_and_insights(tmp_path, clip, servers):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("stamp", "grpc-endpoint@1", {"endpoint_url": servers(Stamp())}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "stamp"), ("stamp", "log")],
    )
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED, recorder.errors
    for frame in recorder.frames["log"]:
        assert frame.image.min() > 240
        assert [o.label for o in frame.objects] == ["stamp"]


# --- live changes, failures, stopping -------------------------------------------------------


def test_parameter_change_while_running_takes_effect(tmp_path, clip, servers):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": True}),
        ("fake", "grpc-endpoint@1", {"endpoint_url": servers(FakeDetection())}),
        ("keep", "filter@1", {"labels": ["car"], "confidence_threshold": 40}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "fake"), ("fake", "keep"), ("keep", "log")],
    )
    engine = Engine(skill, realtime=True, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
    recorder = Recorder()
    engine.subscribe(recorder)
    engine.start()
    deadline = time.monotonic() + 20
    while len(recorder.frames.get("log", [])) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.update_params("keep", {"labels": ["bus"]})  # the other parameters stay as they were
    changed_at = len(recorder.frames["log"])
    while len(recorder.frames["log"]) < changed_at + 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    engine.stop()
    frames = recorder.frames["log"]
    assert all(f.objects for f in frames[:5])
    assert all(not f.objects for f in frames[changed_at + 3 :])
    assert engine.state is RunState.STOPPED
    assert engine.plan.nodes["keep"].params.confidence_threshold == 40
    with pytest.raises(ValueError, match="node keep: confidence_threshold"):
        engine.update_params("keep", {"confidence_threshold": 150})


def test_a_down_grpc_server_fails_its_branch_only(tmp_path, clip):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("remote", "grpc-endpoint@1", {"endpoint_url": "127.0.0.1:1", "timeout_s": 0.5}),
        ("keep", "filter@1", {}),
        ("log-remote", "insights-log@1", {"path": "remote.jsonl"}),
        ("log-local", "insights-log@1", {"path": "local.jsonl"}),
        links=[("cam", "remote"), ("cam", "keep"), ("remote", "log-remote"), ("keep", "log-local")],
    )
    engine, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED
    assert len(read_log(tmp_path / "local.jsonl")) == 20
    # the frames the node failed on go on unchanged, the failure noted (issue 12, item 3)
    remote = read_log(tmp_path / "remote.jsonl")
    assert len(remote) == 20 and all("remote.error" in m["insights_meta"]["other_meta"] for m in remote)
    errors = recorder.errors_of("remote")
    assert errors and "127.0.0.1:1" in errors[0]
    assert engine.metrics().nodes["remote"].errors == 20


def test_a_model_that_cannot_load_is_reported_and_the_rest_runs(tmp_path, clip):
    (tmp_path / "broken.onnx").write_bytes(b"not a model")
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("det", "model@1", {"model_path": "broken.onnx"}),
        ("keep", "filter@1", {}),
        ("log-det", "insights-log@1", {"path": "det.jsonl"}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "det"), ("cam", "keep"), ("det", "log-det"), ("keep", "log")],
    )
    engine, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FINISHED
    (fatal,) = [e for e in recorder.errors if e.node_id == "det"]
    assert fatal.fatal and "broken.onnx" in fatal.message
    assert engine.metrics().nodes["det"].failed
    assert len(read_log(tmp_path / "log.jsonl")) == 20


def test_nothing_can_run_fails_the_run_with_the_reason(tmp_path, clip):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("det", "model@1", {"model_path": "missing.onnx"}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "det"), ("det", "log")],
    )
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FAILED
    status = [e for e in recorder.events if isinstance(e, StatusEvent)][-1]
    assert "no export node can run" in status.message
    assert any("missing.onnx" in e.message for e in recorder.errors if isinstance(e, NodeErrorEvent))


def test_missing_video_file_fails_naming_the_camera(tmp_path):
    skill = camera_to_log({"source": "nowhere.avi"})
    _, recorder, state = run_skill(skill, tmp_path)
    assert state is RunState.FAILED
    assert any("nowhere.avi" in m for m in recorder.errors_of("cam"))


def test_invalid_skill_is_refused_with_located_problems(tmp_path):
    skill = skill_of(
        ("cam", "camera@1", {"source": "x.avi"}),
        ("log", "insights-log@1", {}),
        links=[("cam", "log")],
    )
    with pytest.raises(SkillNotRunnable) as info:
        Engine(skill)
    assert any(p.code == "no-process-node" for p in info.value.problems)


def test_stop_is_prompt_on_an_endless_source(tmp_path, clip):
    skill = camera_to_log({"source": str(clip), "loop": True})
    engine = Engine(skill, realtime=True, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
    engine.start()
    time.sleep(0.5)
    started = time.monotonic()
    engine.stop()
    assert engine.state is RunState.STOPPED
    assert time.monotonic() - started < 3
    assert not [t for t in engine._workers.values() if t.thread.is_alive()]


def test_placeholders_are_filled_and_source_overridden(tmp_path, clip):
    skill = skill_of(
        ("cam", "camera@1", {"source": "$param(camera)", "loop": False}),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "$param(out)"}),
        links=[("cam", "keep"), ("keep", "log")],
    )
    run_skill(skill, tmp_path, params={"camera": str(clip), "out": "filled.jsonl"}, max_frames=3)
    assert len(read_log(tmp_path / "filled.jsonl")) == 3
    other = write_video(tmp_path / "other.avi", frames=4)
    run_skill(skill, tmp_path, params={"camera": "unused.avi", "out": "other.jsonl"}, source=str(other))
    assert len(read_log(tmp_path / "other.jsonl")) == 4
    with pytest.raises(ValueError, match="camera"):
        Engine(skill, params={"out": "x"})


def test_frames_are_read_only_and_numbered(tmp_path, clip):
    skill = camera_to_log({"source": str(clip), "loop": False})
    _, recorder, _ = run_skill(skill, tmp_path)
    frames = recorder.frames["log"]
    assert [read_frame_number(f.image) for f in frames] == list(range(20))
    with pytest.raises(ValueError):
        frames[0].image[0, 0] = 1


def test_a_duplicated_link_carries_each_frame_once(tmp_path, clip):
    skill = skill_of(
        ("cam", "camera@1", {"source": str(clip), "loop": False}),
        ("keep", "filter@1", {}),
        ("log", "insights-log@1", {"path": "log.jsonl"}),
        links=[("cam", "keep"), ("cam", "keep"), ("keep", "log")],
    )
    run_skill(skill, tmp_path)
    assert len(read_log(tmp_path / "log.jsonl")) == 20


def test_quick_successive_parameter_changes_are_all_kept(tmp_path, clip):
    skill = camera_to_log({"source": str(clip), "loop": True})
    engine = Engine(skill, realtime=True, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
    engine.update_params("keep", {"labels": ["person"]})
    engine.update_params("keep", {"confidence_threshold": 50})
    engine.start()
    time.sleep(0.3)
    engine.stop()
    params = engine.plan.nodes["keep"].params
    assert (params.labels, params.confidence_threshold) == (["person"], 50)


def test_stop_from_an_event_callback_does_not_wait_for_itself(tmp_path, clip):
    skill = camera_to_log({"source": str(clip), "loop": True})
    engine = Engine(skill, realtime=False, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
    took = []

    def stop_on_fifth(event):
        if isinstance(event, FrameEvent) and event.frame.frame_id == "5":
            started = time.monotonic()
            engine.stop()
            took.append(time.monotonic() - started)

    engine.subscribe(stop_on_fifth)
    assert engine.start().wait(10) is RunState.STOPPED
    assert took and took[0] < 1.0


def test_stop_before_start_returns_at_once(tmp_path, clip):
    skill = camera_to_log({"source": str(clip)})
    engine = Engine(skill, context=RunContext(skill_dir=tmp_path, output_dir=tmp_path))
    started = time.monotonic()
    engine.stop()
    assert time.monotonic() - started < 1.0 and engine.state is RunState.STOPPED


def test_file_frames_carry_the_files_own_clock_at_full_speed(tmp_path, clip):
    """25 fps file: timestamps 40 ms apart however fast it is read, so speeds stay true."""
    skill = camera_to_log({"source": str(clip), "loop": False})
    run_skill(skill, tmp_path)
    stamps = [m["timestamp"] for m in read_log(tmp_path / "log.jsonl")]
    assert np.diff(stamps) == pytest.approx([0.04] * 19, abs=1e-6)
