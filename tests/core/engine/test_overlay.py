"""Overlay drawing: boxes and captions where the objects are, on a copy of the frame."""

from __future__ import annotations

import numpy as np

from designer.core.engine.frame import Attribute, BBox, ObjectMeta, TrackingInfo
from designer.core.engine.overlay import ZoneShape, colour_for, draw_insights, object_caption

HEIGHT, WIDTH = 240, 320


def blank() -> np.ndarray:
    image = np.full((HEIGHT, WIDTH, 3), 40, dtype=np.uint8)
    image.setflags(write=False)  # frames are shared read-only
    return image


def changed(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    return np.any(before != after, axis=2)


def person(bbox: BBox, tracking_id: str | None = None) -> ObjectMeta:
    return ObjectMeta(
        label="person",
        confidence=0.87,
        bbox=bbox,
        attributes=[Attribute(name="helmet", label="yes", confidence=0.9)],
        tracking_info=TrackingInfo(tracking_id) if tracking_id else None,
    )


def test_box_is_drawn_on_a_new_image_and_the_frame_is_untouched() -> None:
    image = blank()
    out = draw_insights(image, [person(BBox(0.25, 0.5, 0.5, 0.25))])
    assert not np.shares_memory(out, image)
    assert np.all(image == 40) and not image.flags.writeable
    diff = changed(image, out)
    x1, y1, x2, y2 = 80, 120, 240, 180
    assert diff[y1, x1:x2].all() and diff[y2 - 1, x1:x2].all()  # top and bottom edges
    assert diff[y1:y2, x1].all() and diff[y1:y2, x2 - 1].all()  # left and right edges
    assert not diff[y1 + 20 : y2 - 20, x1 + 20 : x2 - 20].any()  # the inside stays visible
    assert not diff[y2 + 5 :, :].any()  # nothing below the box
    assert diff[y1 - 12 : y1, x1 : x1 + 40].any()  # the caption sits on top of the box


def test_caption_has_label_confidence_attributes_and_tracking_id() -> None:
    assert object_caption(person(BBox(0, 0, 1, 1), "12")) == "person 0.87, helmet: yes #12"
    assert object_caption(ObjectMeta(label="car", confidence=0.5)) == "car 0.50"


def test_captions_stay_inside_the_image() -> None:
    image = blank()
    at_top = draw_insights(image, [person(BBox(0.3, 0.0, 0.2, 0.3))])
    # no room above the box: the caption goes inside it, under its top edge
    assert changed(image, at_top)[4:12, 100:140].all()
    at_right = draw_insights(image, [person(BBox(0.9, 0.5, 0.1, 0.2), "7")])
    # a caption longer than the box is moved left so that it ends at the image's edge
    diff = changed(image, at_right)
    assert diff[110:118, WIDTH - 3].all() and diff[110:118, 200].all()


def test_colour_follows_the_tracking_id() -> None:
    image = blank()
    out = draw_insights(image, [person(BBox(0.1, 0.5, 0.2, 0.3), "3"), person(BBox(0.6, 0.5, 0.2, 0.3), "4")])
    first, second = tuple(out[170, 32]), tuple(out[170, 192])  # on each box's left edge
    assert first == colour_for("3") and second == colour_for("4")
    assert first != second
    moved = draw_insights(image, [person(BBox(0.4, 0.5, 0.2, 0.3), "3")])
    assert tuple(moved[170, 128]) == colour_for("3")


def test_zones_are_drawn_from_normalised_points_with_their_counts() -> None:
    image = blank()
    line = ZoneShape(points=((0.0, 0.5), (1.0, 0.5)), closed=False, text="door: in 1 / out 2")
    out = draw_insights(image, [], zones=[line])
    diff = changed(image, out)
    assert diff[HEIGHT // 2, 60:WIDTH].all()
    assert diff[100:119, 0:60].any()  # the counts, above the line's first point
    triangle = ZoneShape(points=((0.1, 0.1), (0.9, 0.1), (0.1, 0.9)), closed=True)
    diff = changed(image, draw_insights(image, [], zones=[triangle]))
    assert diff[HEIGHT // 2, WIDTH // 2]  # on the closing edge from (0.1, 0.9) back to (0.9, 0.1)
    assert not diff[200:, 200:].any()


def test_objects_without_boxes_are_skipped() -> None:
    image = blank()
    out = draw_insights(image, [ObjectMeta(label="scene", confidence=0.9)])
    assert np.array_equal(out, image)
