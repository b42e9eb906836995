"""The video surface: the newest frame, scaled to fit with its aspect kept, and a caption."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from PySide6.QtCore import QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

CAPTION_MARGIN = 6


def to_qimage(image: np.ndarray) -> QImage:
    """A QImage over a BGR array (no conversion: Qt reads BGR); it keeps the array alive."""
    array = np.ascontiguousarray(image)
    height, width = array.shape[:2]
    qimage = QImage(array.data, width, height, array.strides[0], QImage.Format.Format_BGR888)
    qimage._array = array  # type: ignore[attr-defined]  # the buffer must outlive the QImage
    return qimage


def fit_rect(image_size: QSize, area: QSize) -> QRectF:
    """The largest rectangle of the image's aspect inside ``area``, centred."""
    if image_size.isEmpty() or area.isEmpty():
        return QRectF()
    scale = min(area.width() / image_size.width(), area.height() / image_size.height())
    width, height = image_size.width() * scale, image_size.height() * scale
    return QRectF((area.width() - width) / 2, (area.height() - height) / 2, width, height)


def scale_to(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` resized to ``size`` (width, height), fast enough for every frame.

    Bilinear is sharp enough down to half size; beyond that, an area reduction by a whole
    factor first (cheap for integer factors) keeps it from aliasing. Plain INTER_AREA to an
    arbitrary size costs about 8x more.
    """
    height, width = image.shape[:2]
    if size == (width, height):
        return image
    factor = int(min(width / size[0], height / size[1]))
    if factor >= 2:
        image = cv2.resize(image, (width // factor, height // factor), None, 0, 0, cv2.INTER_AREA)
    return cv2.resize(image, size, None, 0, 0, cv2.INTER_LINEAR)


class VideoWidget(QWidget):
    """Paints only what it was last given; the preview decides what and when.

    The frame is scaled to the widget with OpenCV once per frame (``scale_to``, a fraction of a
    millisecond) and painted unscaled: letting QPainter smooth-scale a full frame on every paint
    costs several milliseconds of the GUI thread.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._frame: np.ndarray | None = None  # the frame at its own resolution
        self._image: QImage | None = None  # the frame scaled to the widget
        self._scaled_for: tuple[int, int] | None = None
        self._caption = ""
        self._placeholder = "Press Run (F5) to preview the skill"
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(480, 270)

    def set_frame(self, image: np.ndarray, caption: str = "") -> None:
        self._frame = image
        self._image = None
        self._caption = caption
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def clear(self) -> None:
        self._frame = None
        self._image = None
        self._caption = ""
        self.update()

    def image(self) -> QImage | None:
        """The frame shown now, at its own resolution (with the overlay when it is on)."""
        return None if self._frame is None else to_qimage(self._frame).copy()

    def caption(self) -> str:
        return self._caption

    def save_png(self, path: Path) -> bool:
        image = self.image()
        return image is not None and image.save(str(path), b"PNG")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        if self._frame is None:
            painter.setPen(QColor(170, 170, 170))
            # wrapped, with a margin: "Cannot preview: <a long reason>" is read in full
            area = self.rect().adjusted(12, 12, -12, -12)
            flags = int(Qt.AlignmentFlag.AlignCenter) | int(Qt.TextFlag.TextWordWrap)
            painter.drawText(area, flags, self._placeholder)
            return
        height, width = self._frame.shape[:2]
        target = fit_rect(QSize(width, height), self.size())
        ratio = self.devicePixelRatioF()
        size = (max(round(target.width() * ratio), 1), max(round(target.height() * ratio), 1))
        if self._image is None or self._scaled_for != size:
            self._image = to_qimage(scale_to(self._frame, size))
            self._image.setDevicePixelRatio(ratio)
            self._scaled_for = size
        painter.drawImage(target.topLeft(), self._image)
        if self._caption:
            font = QFont(painter.font())
            font.setPointSizeF(max(font.pointSizeF(), 9.0))
            painter.setFont(font)
            metrics = painter.fontMetrics()
            box = metrics.boundingRect(self._caption).adjusted(-4, -2, 4, 2)
            box.moveTopLeft(QPoint(CAPTION_MARGIN, CAPTION_MARGIN))
            painter.fillRect(box, QColor(0, 0, 0, 160))
            painter.setPen(QColor(240, 240, 240))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self._caption)
