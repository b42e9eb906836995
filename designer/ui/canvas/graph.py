"""The one module that talks to NodeGraphQt: node classes from the catalog, our node item, the graph.

A later NodeGraphQt version should touch this file only. Everything else
works with ``SkillGraph``'s small API and our own stable node ids.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

from NodeGraphQt import BaseNode, NodeGraph
from NodeGraphQt.constants import Z_VAL_NODE, LayoutDirectionEnum, PipeLayoutEnum, ViewerEnum
from NodeGraphQt.qgraphics.node_abstract import AbstractNodeItem
from NodeGraphQt.qgraphics.node_base import NodeItem
from NodeGraphQt.qgraphics.pipe import PipeItem
from NodeGraphQt.qgraphics.port import PortItem
from NodeGraphQt.widgets.viewer import NodeViewer
from PySide6.QtCore import QPoint, QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QFont,
    QFontMetricsF,
    QGuiApplication,
    QMouseEvent,
    QPainter,
    QPen,
    QUndoStack,
)
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from designer.core.skill.catalog import SPECS, NodeSpec
from designer.core.skill.fields import Mark, has_mark
from designer.ui.icons import group_color, node_icon, state_color

IDENTIFIER = "skilldesigner"
NODE_WIDTH = 230.0
NODE_HEIGHT = 64.0

# Properties our nodes carry (NodeGraphQt keeps them and records their changes for undo).
NODE_ID = "node_id"
TYPE_ID = "type_id"
PARAMS = "params"
EXTRA = "extra"  # a node's unknown fields, kept and saved back unchanged

#: A link as the canvas names it: source node id, source port, target node id, target port.
Link = tuple[str, str, str, str]
#: Pressing a link this near (scene units) to one of its ends drags that end to another port;
#: further in, a press selects the link.
LINK_END_GRAB = 36.0
LINK_Z = Z_VAL_NODE + 1.5  # links above node bodies (a selected one too), below the one being drawn
LINK_TIP = "Link: click to select, Delete removes it; right-click for more; drag an end to move it"


def _dark() -> bool:
    return QGuiApplication.palette().window().color().lightness() < 128


class SkillNodeItem(NodeItem):
    """A node drawn our way: group colour, icon, name, type and a one-line status."""

    def __init__(self, name: str = "node", parent=None) -> None:
        super().__init__(name, parent)
        self.spec: NodeSpec | None = None
        self.type_title = ""
        self.detail = ""  # what the node runs (its model), after the type on the second line
        self.status_text = ""
        self.status_state = "idle"
        self.problem = ""  # "error", "warning" or ""
        self._icon_item.setVisible(False)
        self._text_item.setVisible(False)

    def calc_size(self, add_w: float = 0.0, add_h: float = 0.0) -> tuple[float, float]:
        return NODE_WIDTH + add_w, NODE_HEIGHT + add_h

    def _set_base_size(self, add_w: float = 0.0, add_h: float = 0.0) -> None:
        self._width, self._height = self.calc_size(add_w, add_h)

    def _draw_node_vertical(self) -> None:
        for text in (*self._input_items.values(), *self._output_items.values()):
            text.setVisible(False)
        self._set_base_size()
        self._tooltip_disable(self.disabled)
        self.align_ports()
        self.update()

    def _tooltip_disable(self, state: bool) -> None:
        spec = self.spec
        description = spec.description if spec else "Unknown node type: kept and saved back unchanged."
        kind = f"{self.type_title} \u00b7 {html.escape(self.detail)}" if self.detail else self.type_title
        self.setToolTip(f"<b>{html.escape(self.name)}</b><br/>{kind}<br/>{description}")

    def set_proxy_mode(self, mode: bool) -> None:
        """Our item has no child texts to hide: paint decides (NodeGraphQt toggles children: slow)."""
        self._proxy_mode = mode

    def paint(self, painter: QPainter, option, widget) -> None:
        # Zoomed far out, skip the text. (NodeGraphQt maps corners to screen for this: slow.)
        self._proxy_mode = option.levelOfDetailFromTransform(painter.worldTransform()) * self._width < 70
        dark = _dark()
        rect = QRectF(0.5, 0.5, self._width - 1, self._height - 1)
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        accent = group_color(self.spec.group if self.spec else None)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#2f333a" if dark else "#ffffff"))
        painter.drawRoundedRect(rect, 6, 6)
        painter.setBrush(accent)
        painter.drawRoundedRect(QRectF(rect.left(), rect.top(), 6, rect.height()), 3, 3)

        border, width = QColor("#4a4f57" if dark else "#c9ced6"), 1.0
        if self.problem:
            border, width = state_color(self.problem), 2.0
        if self.selected:
            border, width = QColor("#5aa0ff"), 2.4
        pen = QPen(border, width)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(rect, 6, 6)

        if not self._proxy_mode:
            text = QColor("#e8e8e8" if dark else "#1f2328")
            muted = QColor("#9aa0a8" if dark else "#6a737d")
            node_icon(self.spec).paint(painter, QRectF(14, 10, 22, 22).toRect())
            title_font = QFont(painter.font())
            title_font.setPointSizeF(10.0)
            title_font.setBold(True)
            painter.setFont(title_font)
            painter.setPen(text)
            available = self._width - 52
            name = QFontMetricsF(title_font).elidedText(self.name, Qt.TextElideMode.ElideRight, available)
            painter.drawText(QRectF(44, 6, available, 18), Qt.AlignmentFlag.AlignVCenter, name)
            small = QFont(painter.font())
            small.setPointSizeF(8.0)
            small.setBold(False)
            painter.setFont(small)
            painter.setPen(muted)
            kind = f"{self.type_title} \u00b7 {self.detail}" if self.detail else self.type_title
            subtitle = QFontMetricsF(small).elidedText(kind, Qt.TextElideMode.ElideRight, available)
            painter.drawText(QRectF(44, 23, available, 14), Qt.AlignmentFlag.AlignVCenter, subtitle)
            if self.status_text:
                colour = muted if self.status_state == "idle" else state_color(self.status_state)
                painter.setBrush(colour)
                painter.setPen(Qt.PenStyle.NoPen)
                painter.drawEllipse(QPointF(18, 48), 3.5, 3.5)
                painter.setPen(colour if self.status_state in ("error", "warning") else text)
                line = QFontMetricsF(small).elidedText(
                    self.status_text, Qt.TextElideMode.ElideRight, self._width - 40
                )
                painter.drawText(QRectF(27, 41, self._width - 36, 14), Qt.AlignmentFlag.AlignVCenter, line)
        painter.restore()


def model_detail(spec: NodeSpec | None, params: dict[str, Any]) -> str:
    """What a node runs, for its second line: the library model it names, else its model file."""
    if spec is None:
        return ""
    fields = spec.params.model_fields
    if not any(has_mark(info, Mark.MODEL) for info in fields.values()):
        return ""
    for marks in (Mark.MODEL, Mark.READS):  # the library model first; the file before the labels
        for name, info in fields.items():
            value = params.get(name)
            if has_mark(info, marks) and isinstance(value, str) and value.strip():
                return PurePath(value).name if marks is Mark.READS else value
    return ""


class SkillNode(BaseNode):
    """Base of the node classes generated from the catalog."""

    __identifier__ = IDENTIFIER
    NODE_NAME = "Node"
    SPEC: NodeSpec | None = None

    def __init__(self) -> None:
        super().__init__(qgraphics_item=SkillNodeItem)
        self.create_property(NODE_ID, "")
        self.create_property(TYPE_ID, self.SPEC.type_id if self.SPEC else "")
        self.create_property(PARAMS, {})
        self.create_property(EXTRA, {})
        self.view.spec = self.SPEC
        self.view.type_title = self.SPEC.title if self.SPEC else "Unknown node type"
        if self.SPEC is not None:
            for port in self.SPEC.inputs:
                self.add_input(port.name, multi_input=True, display_name=False)
            for port in self.SPEC.outputs:
                self.add_output(port.name, multi_output=True, display_name=False)

    def node_id(self) -> str:
        return self.get_property(NODE_ID)

    def type_id(self) -> str:
        return self.get_property(TYPE_ID)

    def params(self) -> dict:
        return copy.deepcopy(self.get_property(PARAMS))


class PlaceholderNode(SkillNode):
    """A node type this version does not know: shown, kept and saved back unchanged."""

    NODE_NAME = "Unknown node"

    def ensure_port(self, name: str, output: bool) -> None:
        ports = self.outputs() if output else self.inputs()
        if name not in ports:
            if output:
                self.add_output(name, multi_output=True, display_name=False)
            else:
                self.add_input(name, multi_input=True, display_name=False)


def _class_name(spec: NodeSpec) -> str:
    return "N_" + "".join(ch if ch.isalnum() else "_" for ch in spec.type_id)


NODE_CLASSES: dict[str, type[SkillNode]] = {
    spec.type_id: type(_class_name(spec), (SkillNode,), {"NODE_NAME": spec.title, "SPEC": spec})
    for spec in SPECS
}


def _qualified(cls: type[SkillNode]) -> str:
    return f"{IDENTIFIER}.{cls.__name__}"


class SkillViewer(NodeViewer):
    """NodeGraphQt's view, with links that can be picked, and no keys of its own for undo.

    NodeGraphQt gives its hidden context-menu bar Ctrl+Z / Ctrl+Shift+Z: with the window's own
    undo actions that made the keys ambiguous (Qt then runs neither). Here the window owns them.
    """

    def __init__(self, undo_stack: QUndoStack) -> None:
        super().__init__(undo_stack=undo_stack)
        for action in (self._undo_action, self._redo_action):
            if action is not None:
                action.setShortcuts([])
        self.link_menu_requested: Any = None  # callable(Link, QPoint): set by SkillGraph
        self.link_of: Any = None  # callable(PipeItem) -> Link
        self._picked: PipeItem | None = None

    def pipe_at(self, scene_pos: QPointF) -> PipeItem | None:
        """The link under ``scene_pos``, unless a node or port is there (they are on top)."""
        area = QRectF(scene_pos.x() - 4, scene_pos.y() - 4, 8, 8)
        items = self.scene().items(area)
        if any(isinstance(item, AbstractNodeItem | PortItem) for item in items):
            return None  # links are drawn over nodes, but a press there is the node's
        for item in items:
            if (
                isinstance(item, PipeItem)
                and item not in (self._LIVE_PIPE, self._SLICER_PIPE)
                and item.input_port is not None
                and item.output_port is not None
            ):
                return item
        return None

    @staticmethod
    def _near_an_end(pipe: PipeItem, scene_pos: QPointF) -> bool:
        """Within LINK_END_GRAB of an end, or the outer quarter of a short link."""
        ends = [port.sceneBoundingRect().center() for port in (pipe.input_port, pipe.output_port)]
        grab = min(LINK_END_GRAB, (ends[0] - ends[1]).manhattanLength() / 4)
        return any((end - scene_pos).manhattanLength() < grab for end in ends)

    def sceneMousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        plain = not (self.ALT_state or self.SHIFT_state or self.CTRL_state)
        if event.button() == Qt.MouseButton.LeftButton and plain and not self._LIVE_PIPE.isVisible():
            pipe = self.pipe_at(event.scenePos())
            if pipe is not None and not self._near_an_end(pipe, event.scenePos()):
                self._picked = pipe  # selected once the scene has handled the press
                return
        super().sceneMousePressEvent(event)

    def _sync_modifiers(self, modifiers: Qt.KeyboardModifier) -> None:
        """NodeGraphQt tracks Alt/Ctrl/Shift from key events, and a shortcut (Ctrl+Z) leaves
        them stale: a later plain click would then deselect. The mouse event knows the truth."""
        alt, ctrl, shift = (
            Qt.KeyboardModifier.AltModifier,
            Qt.KeyboardModifier.ControlModifier,
            Qt.KeyboardModifier.ShiftModifier,
        )
        self.ALT_state = modifiers in (alt, alt | shift)
        self.CTRL_state = modifiers == ctrl
        self.SHIFT_state = modifiers in (shift, alt | shift)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._sync_modifiers(event.modifiers())
        self._picked = None
        super().mousePressEvent(event)
        if self._picked is not None:
            self.scene().clearSelection()
            self._picked.setSelected(True)
            self._picked = None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        if not (event.buttons() & Qt.MouseButton.LeftButton):
            over_link = self.pipe_at(self.mapToScene(event.position().toPoint())) is not None
            if over_link:
                self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
            else:
                self.viewport().unsetCursor()

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:
        pipe = self.pipe_at(self.mapToScene(event.pos()))
        if pipe is not None and self.link_menu_requested is not None and self.link_of is not None:
            self.RMB_state = False
            self.scene().clearSelection()
            pipe.setSelected(True)
            self.link_menu_requested(self.link_of(pipe), event.globalPos())
            return
        super().contextMenuEvent(event)

    def establish_connection(self, start_port, end_port) -> None:
        super().establish_connection(start_port, end_port)
        for pipe in start_port.connected_pipes:
            if pipe.toolTip() != LINK_TIP:
                pipe.setToolTip(LINK_TIP)
            # Over the node bodies: a link passing behind a node looked attached to its ports.
            pipe.setZValue(LINK_Z)


class SkillGraph(NodeGraph):
    """NodeGraphQt's graph with our nodes, our look and our connection rules.

    ``check_link(source_id, source_port, target_id, target_port)`` is set by
    the canvas: it returns why a link would break a graph rule, or None.
    """

    link_refused = Signal(str)
    link_menu_requested = Signal(object, QPoint)  # Link, global position

    def __init__(self, parent=None) -> None:
        stack = QUndoStack()
        super().__init__(
            parent,
            layout_direction=LayoutDirectionEnum.VERTICAL.value,
            undo_stack=stack,
            viewer=SkillViewer(stack),
        )
        stack.setParent(self)
        self._viewer.link_of = self._link_of_pipe
        self._viewer.link_menu_requested = self.link_menu_requested.emit
        self.check_link: Callable[..., str | None] = lambda *_: None
        self.register_nodes([*NODE_CLASSES.values(), PlaceholderNode])
        self.set_acyclic(False)  # our own rule says why; NodeGraphQt's would refuse silently
        self.set_pipe_style(PipeLayoutEnum.CURVED.value)
        self.set_grid_mode(ViewerEnum.GRID_DISPLAY_DOTS.value)
        # No spatial index: adding and removing hundreds of items stays fast; a few hundred
        # items are few enough to search without one.
        self.scene().setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.apply_palette()
        self.property_changed.connect(self._property_changed)

    def _property_changed(self, node: Any, name: str, value: Any) -> None:
        """Parameters changed (an edit, undo, loading): the node's second line follows them."""
        if name == PARAMS and isinstance(node, SkillNode):
            detail = model_detail(node.SPEC, value)
            if detail != node.view.detail:
                node.view.detail = detail
                node.view.update()

    def apply_palette(self) -> None:
        if _dark():
            self.set_background_color(32, 34, 38)
            self.set_grid_color(62, 66, 72)
        else:
            self.set_background_color(244, 245, 247)
            self.set_grid_color(200, 204, 210)

    # -- nodes ---------------------------------------------------------------------------

    def create_skill_node(
        self,
        type_id: str,
        node_id: str,
        name: str,
        params: dict[str, Any],
        extra: dict[str, Any] | None = None,
        pos: tuple[float, float] = (0.0, 0.0),
        push_undo: bool = True,
    ) -> SkillNode:
        cls = NODE_CLASSES.get(type_id, PlaceholderNode)
        node = self.create_node(
            _qualified(cls), name=name, pos=list(pos), push_undo=push_undo, selected=push_undo
        )
        # Same node object on undo/redo: what is set now comes back with it.
        node.set_property("name", name, push_undo=False)  # an empty name stays empty
        node.set_property(NODE_ID, node_id, push_undo=False)
        node.set_property(TYPE_ID, type_id, push_undo=False)
        node.set_property(PARAMS, copy.deepcopy(params), push_undo=False)
        node.set_property(EXTRA, copy.deepcopy(extra or {}), push_undo=False)
        if cls is PlaceholderNode:
            node.view.type_title = f"Unknown type {type_id}"
        return node

    # Selection is not an edit: NodeGraphQt records it on the undo stack, we do not.

    def select(self, nodes: list, only: bool = True) -> None:
        if only:
            self.clear_selection()
        for node in nodes:
            node.view.setSelected(True)

    def clear_selection(self) -> None:
        for node in self.all_nodes():
            node.view.setSelected(False)

    def select_all(self) -> None:
        self.select(self.all_nodes())

    def fit(self, nodes: list) -> None:
        """Zoom to show ``nodes``.

        NodeGraphQt's own way groups the items to measure them, which takes
        seconds on a few hundred nodes; their positions and sizes are enough.
        """
        if not nodes:
            return
        rect = QRectF()
        for node in nodes:
            rect = rect.united(QRectF(node.view.pos(), QSizeF(node.view.width, node.view.height)))
        viewer = self._viewer
        viewer._scene_range = rect.adjusted(-40, -40, 40, 40)
        viewer._update_scene()
        if viewer.get_zoom() > 0.1:
            viewer.reset_zoom(rect.center())

    @staticmethod
    def position(node: SkillNode) -> tuple[float, float]:
        """Where a node is (QGraphicsItem.pos: cheap; NodeGraphQt's scene lookup is not)."""
        pos = node.view.pos()
        return pos.x(), pos.y()

    def get_unique_name(self, name: str) -> str:
        """Names are for people and may repeat; our node ids are what is unique."""
        return name

    def skill_nodes(self) -> list[SkillNode]:
        return [n for n in self.all_nodes() if isinstance(n, SkillNode)]

    def find(self, node_id: str) -> SkillNode | None:
        return next((n for n in self.skill_nodes() if n.node_id() == node_id), None)

    def set_params(self, node: SkillNode, params: dict) -> None:
        node.set_property(PARAMS, copy.deepcopy(params), push_undo=True)

    def change_type(self, node: SkillNode, type_id: str, params: dict) -> SkillNode:
        """Replace a node by one of another type (gRPC Endpoint <-> Container), links kept; one undo step."""
        links_in = [(p.name(), c) for p in node.input_ports() for c in p.connected_ports()]
        links_out = [(p.name(), c) for p in node.output_ports() for c in p.connected_ports()]
        self.undo_stack().beginMacro("change node type")
        pos = self.position(node)
        node_id, name, extra = node.node_id(), node.name(), node.get_property(EXTRA)
        self.delete_node(node, push_undo=True)
        fresh = self.create_skill_node(type_id, node_id, name, params, extra, pos=pos, push_undo=True)
        for port_name, other in links_in:
            if port_name in fresh.inputs():
                other.connect_to(fresh.inputs()[port_name], push_undo=True)
        for port_name, other in links_out:
            if port_name in fresh.outputs():
                fresh.outputs()[port_name].connect_to(other, push_undo=True)
        self.undo_stack().endMacro()
        return fresh

    # -- links ---------------------------------------------------------------------------

    def link(self, source: SkillNode, source_port: str, target: SkillNode, target_port: str) -> None:
        if isinstance(source, PlaceholderNode):
            source.ensure_port(source_port, output=True)
        if isinstance(target, PlaceholderNode):
            target.ensure_port(target_port, output=False)
        source.outputs()[source_port].connect_to(target.inputs()[target_port], push_undo=False)

    def _link_of_pipe(self, pipe: PipeItem) -> Link:
        return self._link_of(pipe.output_port, pipe.input_port)

    def selected_links(self) -> list[Link]:
        return [self._link_of_pipe(pipe) for pipe in self._viewer.selected_pipes()]

    def select_link(self, link: Link) -> bool:
        """Select the one link ``link`` (nodes deselected); False when there is no such link."""
        for pipe in self._pipes():
            if self._link_of_pipe(pipe) == link:
                self.scene().clearSelection()
                pipe.setSelected(True)
                return True
        return False

    def link_midpoint(self, link: Link) -> QPointF | None:
        """The middle of ``link`` in scene coordinates (for tests and for inserting a node)."""
        for pipe in self._pipes():
            if self._link_of_pipe(pipe) == link:
                return pipe.path().pointAtPercent(0.5)
        return None

    def port_position(self, node: SkillNode, port: str, output: bool) -> QPointF:
        """Where a port is drawn, in scene coordinates."""
        ports = node.outputs() if output else node.inputs()
        return ports[port].view.sceneBoundingRect().center()

    def _pipes(self) -> list[PipeItem]:
        return [
            item
            for item in self.scene().items()
            if isinstance(item, PipeItem) and item.input_port is not None and item.output_port is not None
        ]

    def remove_link(self, link: Link) -> None:
        source, source_port, target, target_port = link
        a, b = self.find(source), self.find(target)
        if a is not None and b is not None:
            a.outputs()[source_port].disconnect_from(b.inputs()[target_port], push_undo=True)

    def links(self) -> list[tuple[str, str, str, str]]:
        result = []
        for node in self.skill_nodes():
            for port in node.output_ports():
                for other in port.connected_ports():
                    target = other.node()
                    if isinstance(target, SkillNode):
                        result.append((node.node_id(), port.name(), target.node_id(), other.name()))
        return result

    def _on_connection_changed(self, disconnected, connected) -> None:
        """Mouse connections pass our graph rules first; a refused one says why and changes nothing."""
        dropped = {self._link_of(a, b) for a, b in disconnected}
        for a, b in connected:
            source_id, source_port, target_id, target_port = self._link_of(a, b)
            reason = self.check_link(source_id, source_port, target_id, target_port, dropped)
            if reason:
                for x, y in disconnected:  # put back a pipe the user dragged away
                    self._viewer.establish_connection(x, y)
                self.link_refused.emit(reason)
                return
        super()._on_connection_changed(disconnected, connected)

    def _link_of(self, a, b) -> tuple[str, str, str, str]:
        out_view, in_view = (a, b) if a.port_type == "out" else (b, a)
        source, target = self.model.nodes[out_view.node.id], self.model.nodes[in_view.node.id]
        return source.node_id(), out_view.name, target.node_id(), in_view.name
