"""The bundled detector's exact detections on fixed frames of the bundled clip.

The expected detections come from an independent decode written here with numpy alone: the
model's documented pre-processing (stretch to 416 x 416, RGB, /255), its raw output
(``[1, N, 85]``: centre x, centre y, width, height normalised to the input, objectness, then 80
class scores already multiplied by objectness) and textbook greedy NMS. The Run ML Model node,
with its default parameters and with parameters changed while it runs, must find the same
boxes: the same count, labels and scores, boxes within a small tolerance. A changed default
(confidence 30 %, NMS IoU 0.45, 100 detections) or a broken NMS shows up as a different count.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
import pytest

from designer.core.engine.frame import Frame
from designer.core.engine.nodes.model import ModelRuntime
from designer.core.engine.runtime import RunContext
from designer.core.models.inspect import inspect_model
from designer.core.models.session import OnnxModel
from designer.core.skill.catalog.process import ModelParams

RESOURCES = Path(__file__).resolve().parents[3] / "resources"
MODEL = RESOURCES / "models" / "yolov3-tiny-coco.onnx"
LABELS = RESOURCES / "models" / "yolov3-tiny-coco.labels.txt"
CLIP = RESOURCES / "video" / "vtest.avi"
FRAMES = (100, 300, 600)
BOX_TOLERANCE = 2e-3  # of the frame size; OpenCV's NMS and ours differ only in rounding


@pytest.fixture(scope="module")
def frames() -> dict[int, np.ndarray]:
    found: dict[int, np.ndarray] = {}
    cap = cv2.VideoCapture(str(CLIP))
    try:
        for index in range(max(FRAMES) + 1):
            ok, image = cap.read()
            assert ok, f"{CLIP} ended at frame {index}"
            if index in FRAMES:
                found[index] = image
    finally:
        cap.release()
    return found


@pytest.fixture(scope="module")
def raw_outputs(frames) -> dict[int, np.ndarray]:
    """The model's raw ``[N, 85]`` rows per frame, from a session of our own."""
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    outputs = {}
    for index, image in frames.items():
        rgb = cv2.cvtColor(cv2.resize(image, (416, 416), interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]
        (rows,) = session.run(None, {"images": tensor})
        outputs[index] = rows[0]
    return outputs


LABEL_NAMES = [line.strip() for line in LABELS.read_text().splitlines() if line.strip()]


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    left = np.maximum(box[0], others[:, 0])
    top = np.maximum(box[1], others[:, 1])
    right = np.minimum(box[2], others[:, 2])
    bottom = np.minimum(box[3], others[:, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / (area + areas - inter)


def expected(
    rows: np.ndarray,
    conf: float = 0.30,
    nms_iou: float = 0.45,
    max_detections: int = 100,
    class_agnostic: bool = False,
) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    """(label, score, (l, t, w, h)) best first: threshold, greedy NMS, clip to the frame."""
    classes = rows[:, 5:].argmax(axis=1)
    scores = rows[np.arange(len(rows)), 5 + classes]
    sel = scores >= conf
    centre, size = rows[sel, :2], rows[sel, 2:4]
    xyxy = np.concatenate([centre - size / 2, centre + size / 2], axis=1).astype(np.float64)
    classes, scores = classes[sel], scores[sel]
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        rivals = [k for k in kept if class_agnostic or classes[k] == classes[i]]
        if not rivals or iou(xyxy[i], xyxy[rivals]).max() <= nms_iou:
            kept.append(int(i))
    result = []
    for i in kept[:max_detections]:
        x1, y1, x2, y2 = np.clip(xyxy[i], 0.0, 1.0)
        result.append((LABEL_NAMES[classes[i]], float(scores[i]), (x1, y1, x2 - x1, y2 - y1)))
    return result


def assert_same(found, wanted) -> None:
    """Same detections, best first: count and labels exact, scores and boxes close."""
    assert [(label, round(score, 3)) for label, score, _ in found] == [
        (label, round(score, 3)) for label, score, _ in wanted
    ]
    for (_, _, box), (label, score, want) in zip(found, wanted, strict=True):
        assert box == pytest.approx(want, abs=BOX_TOLERANCE), (label, score)


def detections_of(frame: Frame) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    objects = sorted(frame.objects, key=lambda o: -o.confidence)
    return [(o.label, o.confidence, (o.bbox.l, o.bbox.t, o.bbox.w, o.bbox.h)) for o in objects]


def params(**changes: object) -> ModelParams:
    """The node's parameters on the bundled model: the catalog's defaults but for ``changes``."""
    return ModelParams(model_path=str(MODEL), labels_path=str(LABELS), **changes)  # type: ignore[arg-type]


@pytest.fixture
def node(tmp_path):
    """A Run ML Model node on the bundled model, its parameters the catalog's defaults."""
    runtime = ModelRuntime(
        "detector",
        ModelParams(model_path=str(MODEL), labels_path=str(LABELS)),
        RunContext(skill_dir=tmp_path),
    )
    runtime.open()
    yield runtime
    runtime.close()


def run(runtime: ModelRuntime, image: np.ndarray) -> list:
    return detections_of(runtime.process(Frame(image=image, frame_id="0", timestamp=0.0)))


def test_the_independent_decode_sees_a_crowd(raw_outputs) -> None:
    """The fixed frames are worth pinning: several people, some close enough for NMS to matter."""
    for index, rows in raw_outputs.items():
        people = [d for d in expected(rows) if d[0] == "person"]
        assert len(people) >= 3, index
        assert len(expected(rows, nms_iou=1.0)) > len(expected(rows)), index  # NMS removes boxes


@pytest.mark.parametrize("index", FRAMES)
def test_the_node_with_default_parameters_finds_exactly_the_expected_boxes(node, frames, raw_outputs, index):
    assert_same(run(node, frames[index]), expected(raw_outputs[index]))


@pytest.mark.parametrize("index", FRAMES)
def test_class_agnostic_nms_finds_exactly_the_expected_boxes(frames, raw_outputs, index):
    model = OnnxModel(inspect_model(MODEL, LABELS), class_agnostic_nms=True)
    found = [
        (d.label, d.confidence, (d.left, d.top, d.width, d.height)) for d in model.detect(frames[index], 0.2)
    ]
    assert_same(found, expected(raw_outputs[index], conf=0.2, class_agnostic=True))


def test_nms_and_max_detections_change_while_the_node_runs(node, frames, raw_outputs) -> None:
    image, rows = frames[300], raw_outputs[300]
    before = node.model
    assert node.update(params(nms_iou=0.8)) is True
    assert node.model is before  # no reload
    assert_same(run(node, image), expected(rows, nms_iou=0.8))
    fewer = params(nms_iou=0.8, max_detections=2)
    assert node.update(fewer) is True
    assert_same(run(node, image), expected(rows, nms_iou=0.8, max_detections=2))
    stricter = params(confidence_threshold=60)
    assert node.update(stricter) is True
    assert_same(run(node, image), expected(rows, conf=0.6))


def test_a_change_that_needs_a_reload_is_refused_live(node) -> None:
    other = params(resize="letterbox")
    assert node.update(other) is False
