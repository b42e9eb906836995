"""The video surface: the newest frame, scaled to fit with its aspect kept, and a caption."""

from __future__ import annotations

from pathlib import Path

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


class VideoWidget(QWidget):
    """Paints only what it was last given; the preview decides what and when."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._caption = ""
        self._placeholder = "Press Run (F5) to preview the skill"
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent)

    def sizeHint(self) -> QSize:
        return QSize(480, 270)

    def set_frame(self, image: np.ndarray, caption: str = "") -> None:
        self._image = to_qimage(image)
        self._caption = caption
        self.update()

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def clear(self) -> None:
        self._image = None
        self._caption = ""
        self.update()

    def image(self) -> QImage | None:
        """The frame shown now, at its own resolution (with the overlay when it is on)."""
        return None if self._image is None else self._image.copy()

    def caption(self) -> str:
        return self._caption

    def save_png(self, path: Path) -> bool:
        image = self.image()
        return image is not None and image.save(str(path), "PNG")

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(16, 16, 16))
        if self._image is None:
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        painter.drawImage(fit_rect(self._image.size(), self.size()), self._image)
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
