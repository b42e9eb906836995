"""The Privacy Mask node: chosen boxes blurred or pixelated on a new image, the rest untouched;
end to end through a real detector into a real MP4 clip; and the validator's warning when no
detector runs before it."""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np
import pytest
from engine_helpers import run_skill, skill_of
from onnx_factory import blob_detector, write_labels
from pydantic import ValidationError
from video_factory import write_video

from designer.core.engine.events import RunState
from designer.core.engine.frame import BBox, Frame, ObjectMeta
from designer.core.engine.nodes.privacy_mask import PrivacyMaskRuntime, box_pixels
from designer.core.engine.runtime import RunContext
from designer.core.skill import validate_skill
from designer.core.skill.catalog import get_spec
from designer.core.skill.catalog.privacy_mask import PrivacyMaskParams

WIDTH, HEIGHT = 160, 120
CODE = "privacy-mask-needs-boxes"


def textured(width: int = WIDTH, height: int = HEIGHT, seed: int = 7) -> np.ndarray:
    """Random noise everywhere: any blur or block changes it a lot; read-only, as sources hand out."""
    image = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    image.flags.writeable = False
    return image


def pixel_box(x1: int, y1: int, x2: int, y2: int) -> BBox:
    return BBox(x1 / WIDTH, y1 / HEIGHT, (x2 - x1) / WIDTH, (y2 - y1) / HEIGHT)


def frame_of(image: np.ndarray, *objects: tuple[str, float, BBox | None]) -> Frame:
    return Frame(
        image=image,
        frame_id="0",
        timestamp=0.0,
        objects=[ObjectMeta(label, confidence, bbox) for label, confidence, bbox in objects],
    )


def masker(**params) -> PrivacyMaskRuntime:
    return PrivacyMaskRuntime("mask", PrivacyMaskParams(**params), RunContext())


def outside(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels of ``image`` outside ``box`` (x1, y1, x2, y2), flattened."""
    keep = np.ones(image.shape[:2], bool)
    x1, y1, x2, y2 = box
    keep[y1:y2, x1:x2] = False
    return image[keep]


def region(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return image[y1:y2, x1:x2].astype(np.int16)


# --- the node on single frames --------------------------------------------------------------


def test_blur_changes_the_padded_box_only_on_a_new_image():
    image = textured()
    before = image.copy()
    node = masker(labels=["face"], method="blur", strength=30, padding=10)
    out = node.process(frame_of(image, ("face", 0.9, pixel_box(40, 30, 100, 80))))
    padded = (34, 25, 106, 85)  # 10 % of 60 x 50 on each side
    assert out.image is not image and out.image.shape == image.shape and out.image.dtype == np.uint8
    assert np.array_equal(image, before)  # the shared input is untouched
    assert np.array_equal(outside(out.image, padded), outside(before, padded))
    change = np.abs(region(out.image, padded) - region(before, padded)).mean()
    assert change > 40  # noise (std ~74) becomes nearly flat
    assert region(out.image, padded).std() < 0.25 * region(before, padded).std()
    # The padding is masked as strongly as the box: no sharp ring of original pixels.
    ring = np.abs(out.image[25:30, 34:106].astype(np.int16) - before[25:30, 34:106]).mean()
    assert ring > 30
    # The insights pass on unchanged.
    assert [(o.label, o.confidence) for o in out.objects] == [("face", 0.9)]


def test_pixelate_gives_uniform_blocks_of_the_strength_size():
    image = textured()
    node = masker(method="pixelate", strength=20, padding=0)  # 20 % of 50 px: 10 px blocks
    out = node.process(frame_of(image, ("face", 0.9, pixel_box(40, 30, 100, 80))))
    masked = out.image[30:80, 40:100]
    blocks = masked.reshape(5, 10, 6, 10, 3)
    assert (blocks == blocks[:, :1, :, :1, :]).all()  # every 10 x 10 block is one colour
    colours = {tuple(blocks[by, 0, bx, 0]) for by in range(5) for bx in range(6)}
    assert len(colours) == 30  # one block per cell, not one colour for the box
    # Each block is its cell's average (INTER_AREA), so the box keeps its overall tone.
    cell = image[30:40, 40:50].reshape(-1, 3).mean(axis=0)
    assert np.abs(blocks[0, 0, 0, 0].astype(float) - cell).max() <= 1
    assert np.array_equal(outside(out.image, (40, 30, 100, 80)), outside(image, (40, 30, 100, 80)))


def test_stronger_hides_more():
    image = textured()
    box = (40, 30, 100, 80)
    spread = {}
    for strength in (2, 20, 100):
        out = masker(strength=strength, padding=0).process(frame_of(image, ("face", 1.0, pixel_box(*box))))
        spread[strength] = region(out.image, box).std()
    assert spread[2] > spread[20] > spread[100]
    assert spread[100] < 8  # nearly one colour


def test_labels_not_chosen_and_low_confidence_are_untouched():
    image = textured()
    face, car, faint = (10, 10, 40, 40), (60, 10, 100, 50), (110, 60, 150, 100)
    node = masker(labels=["face", "licence plate"], confidence_threshold=50, padding=0)
    out = node.process(
        frame_of(
            image,
            ("face", 0.9, pixel_box(*face)),
            ("car", 0.9, pixel_box(*car)),
            ("face", 0.49, pixel_box(*faint)),
        )
    )
    assert np.abs(region(out.image, face) - region(image, face)).mean() > 40
    assert np.array_equal(outside(out.image, face), outside(image, face))
    # Multi-word labels match whole, as the Filter matches them.
    out = node.process(frame_of(image, ("licence plate", 0.5, pixel_box(*car))))
    assert not np.array_equal(out.image[10:50, 60:100], image[10:50, 60:100])


def test_nothing_to_mask_keeps_the_very_same_image():
    image = textured()
    node = masker(labels=["face"])
    for objects in (
        [],
        [("person", 0.9, pixel_box(10, 10, 50, 50))],  # another label
        [("face", 0.9, None)],  # a whole-frame result has no box
        [("face", 0.9, BBox(0.2, 0.2, 0.0, 0.3))],  # zero width
        [("face", 0.9, BBox(0.2, 0.2, -0.1, 0.3))],  # negative width
        [("face", 0.9, BBox(math.nan, 0.2, 0.1, 0.3))],
        [("face", 0.9, BBox(0.2, 0.2, math.inf, 0.3))],
        [("face", 0.9, BBox(1.2, 0.2, 0.2, 0.3))],  # wholly outside the image
        [("face", 0.9, BBox(0.2, -0.6, 0.2, 0.3))],
    ):
        out = node.process(frame_of(image, *objects))
        assert out.image is image, objects


def test_boxes_partly_outside_the_image_are_clamped():
    image = textured()
    node = masker(padding=0, strength=30)
    out = node.process(
        frame_of(
            image,
            ("face", 0.9, BBox(-0.125, -0.25, 0.375, 0.5)),  # top-left corner: 0..40 x 0..30
            ("face", 0.9, BBox(0.875, 0.75, 0.5, 0.5)),  # bottom-right corner: 140..160 x 90..120
        )
    )
    for box in ((0, 0, 40, 30), (140, 90, 160, 120)):
        assert np.abs(region(out.image, box) - region(image, box)).mean() > 30, box
    keep = np.ones((HEIGHT, WIDTH), bool)
    keep[0:30, 0:40] = keep[90:120, 140:160] = False
    assert np.array_equal(out.image[keep], image[keep])


def test_box_pixels_round_outwards_and_clamp():
    assert box_pixels(pixel_box(40, 30, 100, 80), WIDTH, HEIGHT, 0) == (40, 30, 100, 80)
    assert box_pixels(BBox(0.101, 0.101, 0.1, 0.1), 100, 100, 0) == (10, 10, 21, 21)
    assert box_pixels(BBox(0.5, 0.5, 0.2, 0.2), 100, 100, 50) == (40, 40, 80, 80)
    assert box_pixels(BBox(-1.0, -1.0, 5.0, 5.0), 100, 100, 100) == (0, 0, 100, 100)
    assert box_pixels(BBox(0.5, 0.5, 1e-9, 1e-9), 100, 100, 0) is None  # less than a pixel: nothing


def test_one_pixel_boxes_and_grey_images_work():
    grey = np.random.default_rng(1).integers(0, 256, (20, 30), dtype=np.uint8)
    for method in ("blur", "pixelate"):
        node = masker(method=method, padding=0)
        out = node.process(Frame(grey, "0", 0.0, [ObjectMeta("x", 1.0, BBox(0.5, 0.5, 1 / 30, 1 / 20))]))
        assert out.image.shape == grey.shape
        out = node.process(Frame(grey, "0", 0.0, [ObjectMeta("x", 1.0, BBox(0.1, 0.1, 0.5, 0.5))]))
        assert not np.array_equal(out.image[2:12, 3:18], grey[2:12, 3:18])


def test_parameters_change_while_running():
    image = textured()
    face, car = (10, 10, 50, 50), (80, 10, 120, 50)
    objects = (("face", 0.9, pixel_box(*face)), ("car", 0.9, pixel_box(*car)))
    node = masker(labels=["face"], padding=0)
    out = node.process(frame_of(image, *objects))
    assert np.array_equal(region(out.image, car), region(image, car))
    assert node.update(PrivacyMaskParams(labels=["car"], method="pixelate", strength=25, padding=0)) is True
    out = node.process(frame_of(image, *objects))
    assert np.array_equal(region(out.image, face), region(image, face))
    cells = out.image[10:50, 80:120].reshape(4, 10, 4, 10, 3)
    assert (cells == cells[:, :1, :, :1, :]).all()


def test_parameters_are_checked():
    spec = get_spec("privacy-mask@1")
    assert spec.params is PrivacyMaskParams and spec.kan is None
    assert spec.defaults() == {
        "labels": [],
        "method": "blur",
        "strength": 20,
        "padding": 10,
        "confidence_threshold": 0,
    }
    for bad in ({"strength": 0}, {"strength": 101}, {"padding": -1}, {"method": "paint"}, {"labels": [" "]}):
        with pytest.raises(ValidationError):
            PrivacyMaskParams(**bad)
    assert PrivacyMaskParams(labels=[" face "]).labels == ["face"]


# --- end to end: camera -> detector -> privacy mask -> video snippet ---------------------------

SIZE = (192, 112)
SQUARE = (80, 40, 120, 80)  # x1, y1, x2, y2 of the bright textured square the detector finds


def _scene(canvas: np.ndarray, index: int) -> None:
    """Dark 8 px checks everywhere (below the detector's threshold), and a bright square of
    4 px checks (above it) that stands for a face."""
    ys, xs = np.indices(canvas.shape[:2])
    canvas[:] = np.where(((xs // 8 + ys // 8) % 2 == 0)[..., None], 90, 0).astype(np.uint8)
    x1, y1, x2, y2 = SQUARE
    checks = (xs[y1:y2, x1:x2] // 4 + ys[y1:y2, x1:x2] // 4) % 2 == 0
    canvas[y1:y2, x1:x2] = np.where(checks[..., None], 255, 150).astype(np.uint8)


def _write_scene(path, frames: int = 30):
    return write_video(path, frames=frames, fps=25, size=SIZE, draw=_scene)


def _read_all(path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    images = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        images.append(image)
    capture.release()
    return images


def _clip_of(tmp_path, *, mask: bool) -> list[np.ndarray]:
    folder = tmp_path / ("masked" if mask else "plain")
    nodes = [
        ("cam", "camera@1", {"source": "scene.avi", "loop": False}),
        ("det", "model@1", {"model_path": "blob.onnx", "labels_path": "blob.txt"}),
        (
            "clips",
            "video-snippet@1",
            {
                "filename_prefix": "cam",
                "duration_s": 1,
                "insights_overlay": False,
                "output_folder": str(folder),
                "delay_buffer_s": 600,
            },
        ),
    ]
    links = [("cam", "det"), ("det", "clips")]
    if mask:
        nodes.insert(2, ("mask", "privacy-mask@1", {"labels": ["face"], "strength": 30, "padding": 15}))
        links = [("cam", "det"), ("det", "mask"), ("mask", "clips")]
    _engine, recorder, state = run_skill(skill_of(*nodes, links=links), tmp_path)
    assert state is RunState.FINISHED, recorder.errors
    assert not recorder.errors
    (clip,) = folder.glob("*.mp4")
    images = _read_all(clip)
    assert len(images) >= 20
    return images


def _detail(image: np.ndarray, box: tuple[int, int, int, int]) -> float:
    """How much the 4 px checks show: the mean change from one check to the next, across and down
    (a blur's smooth slope towards the box's dark surround barely counts)."""
    pixels = region(image, box)
    return float(np.abs(pixels[:, 4:] - pixels[:, :-4]).mean() + np.abs(pixels[4:] - pixels[:-4]).mean()) / 2


def test_a_clip_after_the_mask_shows_the_face_masked_and_the_rest_as_recorded(tmp_path):
    source = _read_all(_write_scene(tmp_path / "scene.avi"))
    blob_detector(tmp_path / "blob.onnx")
    write_labels(tmp_path / "blob.txt", ["face"])
    masked, plain = _clip_of(tmp_path, mask=True), _clip_of(tmp_path, mask=False)
    x1, y1, x2, y2 = SQUARE
    inner = (x1 + 2, y1 + 2, x2 - 2, y2 - 2)  # inside, whatever the detector's rounding
    far = np.ones(source[0].shape[:2], bool)
    far[y1 - 16 : y2 + 16, x1 - 16 : x2 + 16] = False  # well outside the padded box
    original = source[0].astype(np.int16)  # every frame of the scene is the same
    checks = _detail(original, inner)
    assert checks > 80
    for image in plain:  # the codec keeps the face's checks...
        assert _detail(image, inner) > 0.8 * checks
    for image in masked:  # ...so the mask is what hides them
        assert _detail(image, inner) < 0.2 * checks
        assert np.abs(region(image, inner) - region(original, inner)).mean() > 30
        assert np.abs(image.astype(np.int16)[far] - original[far]).mean() < 3  # the rest as recorded


# --- validation -------------------------------------------------------------------------------


def _validated(*upstream: tuple[str, str, dict]) -> list:
    chain = [("cam", "camera@1", {"source": "scene.avi"}), *upstream]
    nodes = [*chain, ("mask", "privacy-mask@1", {}), ("log", "insights-log@1", {"path": "log.jsonl"})]
    links = list(itertools.pairwise(node[0] for node in nodes))
    return [p for p in validate_skill(skill_of(*nodes, links=links)) if p.code == CODE]


def test_without_a_detector_upstream_the_mask_warns():
    (problem,) = _validated()
    assert problem.node_id == "mask" and problem.severity.value == "warning"
    assert "detector" in problem.message
    (problem,) = _validated(("keep", "filter@1", {}))
    assert problem.node_id == "mask"
    classifier = {"model_path": "color.onnx", "model_type": "classification"}
    assert [p.node_id for p in _validated(("cls", "model@1", classifier))] == ["mask"]


def test_with_a_detector_upstream_the_mask_does_not_warn():
    assert _validated(("det", "model@1", {"model_path": "blob.onnx", "model_type": "detection"})) == []
    assert _validated(("grpc", "grpc-endpoint@1", {"endpoint_url": "127.0.0.1:6677"})) == []
    detector_then_filter = (
        ("det", "model@1", {"model_path": "blob.onnx", "model_type": "detection"}),
        ("keep", "filter@1", {"labels": ["face"]}),
    )
    assert _validated(*detector_then_filter) == []
