"""A classifier that needs ImageNet mean/std answers the same wrong class for everything when it
is fed 0..1 pixels; choosing the ImageNet preset (kept by the library) makes it right, on a real
picture: a frame of the bundled street clip (issue 19, item 5)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from designer.core.models.library import ModelLibrary
from designer.core.models.preprocess_settings import PRESETS, preset_of, preset_overrides
from tests.core.models.onnx_factory import NORMALISATION_LABELS, normalisation_classifier

CLIP = Path(__file__).resolve().parents[3] / "resources" / "video" / "vtest.avi"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406])


def street_frame(index: int = 40) -> np.ndarray:
    capture = cv2.VideoCapture(str(CLIP))
    try:
        capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        ok, frame = capture.read()
    finally:
        capture.release()
    assert ok, f"cannot read frame {index} of {CLIP}"
    return frame


def expected_label(frame_bgr: np.ndarray) -> str:
    """Worked out apart from the model: each channel's mean against the ImageNet mean."""
    means = frame_bgr[:, :, ::-1].reshape(-1, 3).mean(axis=0) / 255.0
    assert np.all(np.abs(means - IMAGENET_MEAN) > 0.01), "too close to call: pick another frame"
    above = means > IMAGENET_MEAN
    return "".join(c.upper() if up else c for c, up in zip("rgb", above, strict=True))


@pytest.fixture
def library(tmp_path) -> ModelLibrary:
    library = ModelLibrary(tmp_path / "data")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(NORMALISATION_LABELS) + "\n")
    library.add("Street mood", "classification", normalisation_classifier(tmp_path / "m.onnx"), labels)
    return library


def test_the_imagenet_preset_turns_a_wrong_answer_right(library):
    frame = street_frame()
    right = expected_label(frame)
    assert right != "RGB"  # the picture is darker than ImageNet's mean in some channel
    entry = library.get("street-mood")
    assert preset_of(entry.info.preprocess) == "0..1"  # what inspection guesses
    before = library.try_model("street-mood", frame)
    assert before[0].label == "RGB"  # wrong, and the same for every picture
    assert len(before) == 5 and before[0].confidence > 0.5

    entry = library.set_preprocess("street-mood", preset_overrides("ImageNet mean/std"))
    assert preset_of(entry.info.preprocess) == "ImageNet mean/std"
    assert library.try_model("street-mood", frame)[0].label == right
    # kept: a library opened afresh (another window, the CLI) runs the model the same way
    again = ModelLibrary(library.data)
    assert preset_of(again.get("street-mood").info.preprocess) == "ImageNet mean/std"
    assert again.try_model("street-mood", frame)[0].label == right
    assert again.get("street-mood").inference_ms is not None


def test_every_preset_is_recognised_and_a_bad_setting_says_which(library):
    for name in PRESETS:
        entry = library.set_preprocess("street-mood", preset_overrides(name))
        assert preset_of(entry.info.preprocess) == name
    with pytest.raises(Exception, match="resize"):
        library.set_preprocess("street-mood", {"resize": "squash"})
    assert preset_of(library.get("street-mood").info.preprocess) == "raw 0..255"  # unchanged
