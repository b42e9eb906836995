"""The Transform maps what the model sees back onto the frame, for any sizes and both modes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from designer.core.models.preprocess import PreprocessSettings, resize_image


@settings(max_examples=40, deadline=None)
@given(
    src=st.tuples(st.integers(100, 400), st.integers(100, 400)),
    dst=st.tuples(st.integers(32, 128), st.integers(32, 128)),
    rect=st.tuples(st.floats(0.05, 0.5), st.floats(0.05, 0.5), st.floats(0.3, 0.45), st.floats(0.3, 0.45)),
    mode=st.sampled_from(["stretch", "letterbox"]),
)
def test_box_seen_by_the_model_maps_back_to_the_drawn_box(src, dst, rect, mode) -> None:
    (w, h), (in_w, in_h), (left, top, width, height) = src, dst, rect
    frame = np.zeros((h, w, 3), np.uint8)
    x1, y1 = round(left * w), round(top * h)
    x2, y2 = round((left + width) * w), round((top + height) * h)
    frame[y1:y2, x1:x2] = 255
    resized, transform = resize_image(
        frame, PreprocessSettings(width=in_w, height=in_h, resize=mode, pad_value=0)
    )
    assert resized.shape == (in_h, in_w, 3)
    ys, xs = np.nonzero(resized[:, :, 0] > 127)
    seen = np.array([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]], np.float32)
    (got,) = transform.to_frame(seen)
    # One input pixel of resampling slack, expressed in frame units.
    tol_x, tol_y = 1.5 / (transform.scale_x * w), 1.5 / (transform.scale_y * h)
    assert got[0] == pytest.approx(x1 / w, abs=tol_x)
    assert got[1] == pytest.approx(y1 / h, abs=tol_y)
    assert got[0] + got[2] == pytest.approx(x2 / w, abs=tol_x)
    assert got[1] + got[3] == pytest.approx(y2 / h, abs=tol_y)


def test_empty_image_is_refused() -> None:
    with pytest.raises(ValueError, match="empty image"):
        resize_image(np.zeros((0, 10, 3), np.uint8), PreprocessSettings(width=8, height=8))
