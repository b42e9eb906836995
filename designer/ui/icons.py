"""One small icon set, drawn with QPainter: consistent line weight, group colours, both palettes.

Each glyph is a few strokes on a 24x24 grid. Node icons take their group's
colour; action icons take the palette's text colour (or a state colour), so
they read on light and dark themes alike.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPainter, QPainterPath, QPen, QPixmap, QPolygonF

from designer.core.skill.catalog import Group, NodeSpec

GROUP_COLORS = {
    Group.IMPORT: "#2e8b57",
    Group.PROCESS: "#3b78d8",
    Group.EXPORT: "#c8772a",
}
STATE_COLORS = {
    "error": "#d64545",
    "warning": "#d49a1a",
    "info": "#3b78d8",
    "ok": "#2e8b57",
    "running": "#2e8b57",
    "dry": "#8a63d2",
    "idle": "#888888",
}
UNKNOWN_COLOR = "#8a8a8a"

Glyph = Callable[[QPainter], None]


def group_color(group: Group | str | None) -> QColor:
    return QColor(GROUP_COLORS.get(group, UNKNOWN_COLOR))  # type: ignore[arg-type]


def state_color(state: str) -> QColor:
    return QColor(STATE_COLORS.get(state, STATE_COLORS["idle"]))


def _poly(p: QPainter, *points: tuple[float, float], closed: bool = True) -> None:
    poly = QPolygonF([QPointF(x, y) for x, y in points])
    if closed:
        p.drawPolygon(poly)
    else:
        p.drawPolyline(poly)


def _camera(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(3, 7, 13, 11), 2, 2)
    _poly(p, (16, 10.5), (21, 8), (21, 17), (16, 14.5))


def _model(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(6, 6, 12, 12), 2, 2)
    p.drawRect(QRectF(9.5, 9.5, 5, 5))
    for c in (9, 12, 15):
        p.drawLine(QPointF(c, 3), QPointF(c, 6))
        p.drawLine(QPointF(c, 18), QPointF(c, 21))
        p.drawLine(QPointF(3, c), QPointF(6, c))
        p.drawLine(QPointF(18, c), QPointF(21, c))


def _filter(p: QPainter) -> None:
    _poly(p, (3, 5), (21, 5), (14, 13), (14, 19), (10, 21), (10, 13))


def _plug(p: QPainter) -> None:
    p.drawEllipse(QRectF(3, 9, 6, 6))
    p.drawEllipse(QRectF(15, 3, 6, 6))
    p.drawEllipse(QRectF(15, 15, 6, 6))
    p.drawLine(QPointF(9, 11), QPointF(15, 7))
    p.drawLine(QPointF(9, 13), QPointF(15, 17))


def _container(p: QPainter) -> None:
    _poly(p, (12, 3), (20, 7.5), (20, 16.5), (12, 21), (4, 16.5), (4, 7.5))
    _poly(p, (4, 7.5), (12, 12), (20, 7.5), closed=False)
    p.drawLine(QPointF(12, 12), QPointF(12, 21))


def _tracker(p: QPainter) -> None:
    p.drawEllipse(QRectF(5, 5, 14, 14))
    p.drawEllipse(QRectF(10, 10, 4, 4))
    for a, b in (((12, 2), (12, 6)), ((12, 18), (12, 22)), ((2, 12), (6, 12)), ((18, 12), (22, 12))):
        p.drawLine(QPointF(*a), QPointF(*b))


def _zone(p: QPainter) -> None:
    _poly(p, (4, 8), (12, 3), (20, 9), (17, 20), (6, 18))
    p.drawLine(QPointF(2, 21), QPointF(22, 13))


def _clip(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(3, 5, 18, 14), 2, 2)
    _poly(p, (10, 9), (15.5, 12), (10, 15))


def _cloud(p: QPainter) -> None:
    path = QPainterPath()
    path.moveTo(7, 18)
    path.arcTo(QRectF(2, 10, 8, 8), 270, -180)
    path.arcTo(QRectF(6, 5, 11, 11), 160, -150)
    path.arcTo(QRectF(14, 10, 8, 8), 90, -180)
    path.closeSubpath()
    p.drawPath(path)


def _edge(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(3, 13, 18, 7), 2, 2)
    p.drawLine(QPointF(7, 13), QPointF(7, 9))
    p.drawLine(QPointF(17, 13), QPointF(17, 9))
    p.drawEllipse(QRectF(5, 4, 4, 4))
    p.drawEllipse(QRectF(15, 4, 4, 4))


def _broadcast(p: QPainter) -> None:
    p.drawEllipse(QRectF(10, 10, 4, 4))
    for r in (5.0, 9.0):
        rect = QRectF(12 - r, 12 - r, 2 * r, 2 * r)
        p.drawArc(rect, 30 * 16, 120 * 16)
        p.drawArc(rect, 210 * 16, 120 * 16)


def _globe(p: QPainter) -> None:
    p.drawEllipse(QRectF(3, 3, 18, 18))
    p.drawEllipse(QRectF(8, 3, 8, 18))
    p.drawLine(QPointF(3, 12), QPointF(21, 12))


def _document(p: QPainter) -> None:
    _poly(p, (6, 3), (15, 3), (19, 7), (19, 21), (6, 21))
    for y in (10, 13.5, 17):
        p.drawLine(QPointF(9, y), QPointF(16, y))


def _unknown(p: QPainter) -> None:
    p.drawRoundedRect(QRectF(4, 4, 16, 16), 3, 3)
    path = QPainterPath()
    path.moveTo(9.5, 10)
    path.arcTo(QRectF(9.5, 7, 5, 5), 180, -250)
    path.lineTo(12, 14.5)
    p.drawPath(path)
    p.drawPoint(QPointF(12, 17.5))


def _run(p: QPainter) -> None:
    _poly(p, (7, 4), (19, 12), (7, 20))


def _stop(p: QPainter) -> None:
    p.drawRect(QRectF(6, 6, 12, 12))


def _pause(p: QPainter) -> None:
    p.drawRect(QRectF(6, 5, 4, 14))
    p.drawRect(QRectF(14, 5, 4, 14))


def _step(p: QPainter) -> None:
    _poly(p, (5, 5), (15, 12), (5, 19))
    p.drawLine(QPointF(19, 5), QPointF(19, 19))


def _add(p: QPainter) -> None:
    p.drawLine(QPointF(12, 5), QPointF(12, 19))
    p.drawLine(QPointF(5, 12), QPointF(19, 12))


def _remove(p: QPainter) -> None:
    p.drawLine(QPointF(5, 12), QPointF(19, 12))


def _test(p: QPainter) -> None:
    _poly(p, (4, 13), (9, 18), (20, 6), closed=False)


def _folder(p: QPainter) -> None:
    _poly(p, (3, 6), (9, 6), (11, 8), (21, 8), (21, 19), (3, 19))


def _error(p: QPainter) -> None:
    p.drawEllipse(QRectF(3, 3, 18, 18))
    p.drawLine(QPointF(12, 7), QPointF(12, 13.5))
    p.drawPoint(QPointF(12, 17))


def _warning(p: QPainter) -> None:
    _poly(p, (12, 3), (21.5, 20), (2.5, 20))
    p.drawLine(QPointF(12, 9), QPointF(12, 14))
    p.drawPoint(QPointF(12, 17))


def _info(p: QPainter) -> None:
    p.drawEllipse(QRectF(3, 3, 18, 18))
    p.drawLine(QPointF(12, 11), QPointF(12, 17))
    p.drawPoint(QPointF(12, 7.5))


def _refresh(p: QPainter) -> None:
    p.drawArc(QRectF(5, 5, 14, 14), 60 * 16, 280 * 16)
    _poly(p, (15, 3), (19, 7), (14, 8.5), closed=False)


def _snapshot(p: QPainter) -> None:
    _poly(p, (3, 8), (8, 8), (10, 5), (14, 5), (16, 8), (21, 8), (21, 19), (3, 19))
    p.drawEllipse(QRectF(8.5, 10, 7, 7))


def _layout(p: QPainter) -> None:
    p.drawRect(QRectF(9, 3, 6, 5))
    p.drawRect(QRectF(3, 16, 6, 5))
    p.drawRect(QRectF(15, 16, 6, 5))
    _poly(p, (6, 16), (6, 12), (18, 12), (18, 16), closed=False)
    p.drawLine(QPointF(12, 8), QPointF(12, 12))


def _frame(p: QPainter) -> None:
    for a, b, c in (((3, 8), (3, 3), (8, 3)), ((16, 3), (21, 3), (21, 8))):
        _poly(p, a, b, c, closed=False)
    for a, b, c in (((3, 16), (3, 21), (8, 21)), ((16, 21), (21, 21), (21, 16))):
        _poly(p, a, b, c, closed=False)


def _save(p: QPainter) -> None:
    _poly(p, (4, 4), (17, 4), (20, 7), (20, 20), (4, 20))
    p.drawRect(QRectF(8, 4, 7, 5))
    p.drawRect(QRectF(7.5, 13, 9, 7))


def _undo(p: QPainter) -> None:
    path = QPainterPath()
    path.moveTo(5, 10)
    path.lineTo(15, 10)
    path.arcTo(QRectF(10, 10, 10, 9), 90, -180)
    path.lineTo(9, 19)
    p.drawPath(path)
    _poly(p, (9, 6), (5, 10), (9, 14), closed=False)


def _redo(p: QPainter) -> None:
    p.save()
    p.translate(24, 0)
    p.scale(-1, 1)
    _undo(p)
    p.restore()


GLYPHS: dict[str, Glyph] = {
    "save": _save,
    "undo": _undo,
    "redo": _redo,
    # node drawings, named by a node spec's ``icon``
    "camera": _camera,
    "model": _model,
    "filter": _filter,
    "plug": _plug,
    "container": _container,
    "tracker": _tracker,
    "zone": _zone,
    "clip": _clip,
    "cloud": _cloud,
    "edge": _edge,
    "broadcast": _broadcast,
    "globe": _globe,
    "document": _document,
    "unknown": _unknown,
    "run": _run,
    "stop": _stop,
    "pause": _pause,
    "step": _step,
    "snapshot": _snapshot,
    "add": _add,
    "remove": _remove,
    "test": _test,
    "folder": _folder,
    "error": _error,
    "warning": _warning,
    "info": _info,
    "refresh": _refresh,
    "layout": _layout,
    "frame": _frame,
}
FILLED = {"run", "stop", "pause"}
STATE_GLYPHS = {"error", "warning", "info"}


def _text_color() -> QColor:
    app = QGuiApplication.instance()
    return QGuiApplication.palette().windowText().color() if app else QColor("#333333")


def pixmap(name: str, color: QColor | str, size: int = 24) -> QPixmap:
    """The glyph ``name`` in ``color``; unknown names draw the placeholder glyph."""
    glyph = GLYPHS.get(name, _unknown)
    ratio = 2.0
    pm = QPixmap(int(size * ratio), int(size * ratio))
    pm.setDevicePixelRatio(ratio)
    pm.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pm)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.scale(size / 24, size / 24)
    colour = QColor(color)
    pen = QPen(colour, 1.8, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(colour if name in FILLED else Qt.BrushStyle.NoBrush)
    glyph(painter)
    painter.end()
    return pm


@cache
def _cached_icon(name: str, color: str) -> QIcon:
    result = QIcon()
    for size in (16, 24, 32):
        result.addPixmap(pixmap(name, color, size))
    return result


def icon(name: str, color: QColor | str | None = None) -> QIcon:
    """An action icon: the text colour, or the state colour for error/warning/info."""
    if color is None:
        color = state_color(name) if name in STATE_GLYPHS else _text_color()
    return _cached_icon(name, QColor(color).name())


def node_icon(spec: NodeSpec | None) -> QIcon:
    """A node type's icon in its group colour; the placeholder glyph for unknown types."""
    if spec is None:
        return icon("unknown", UNKNOWN_COLOR)
    return icon(spec.icon, group_color(spec.group))
