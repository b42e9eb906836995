"""The palette: every catalog node type, grouped Import / Process / Export, searchable, draggable.

Generated from the catalog specs, so a new node type appears here with no
UI change. The same list (``NodeList``) serves the Tab quick-add popup.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QKeyEvent
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QLineEdit,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from designer.core.skill.catalog import SPECS, Group, search
from designer.ui.canvas import NODE_MIME
from designer.ui.icons import node_icon

TYPE_ROLE = Qt.ItemDataRole.UserRole


class NodeList(QTreeWidget):
    """Node types under their group headers; drag one out, or activate it (double-click, Enter)."""

    chosen = Signal(str)  # a type id

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(True)
        self.setIndentation(12)
        self.setDragEnabled(True)
        self.setUniformRowHeights(True)
        self.setIconSize(QSize(20, 20))
        self._groups: dict[Group, QTreeWidgetItem] = {}
        self._items: dict[str, QTreeWidgetItem] = {}
        for group in Group:
            header = QTreeWidgetItem(self, [group.value])
            header.setFlags(Qt.ItemFlag.ItemIsEnabled)
            font = header.font(0)
            font.setBold(True)
            header.setFont(0, font)
            self._groups[group] = header
        for spec in SPECS:
            item = QTreeWidgetItem(self._groups[spec.group], [spec.title])
            item.setIcon(0, node_icon(spec))
            item.setData(0, TYPE_ROLE, spec.type_id)
            item.setToolTip(0, f"<b>{spec.title}</b> <i>({spec.type_id})</i><br/>{spec.description}")
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
            )
            self._items[spec.type_id] = item
        self.expandAll()
        self.itemActivated.connect(self._activated)

    def filter(self, text: str) -> None:
        """Show the node types whose title, type id or keywords match; select the first."""
        matching = {spec.type_id for spec in search(text)}
        first = None
        for header in self._groups.values():
            shown = 0
            for i in range(header.childCount()):
                item = header.child(i)
                visible = item.data(0, TYPE_ROLE) in matching
                item.setHidden(not visible)
                shown += visible
                if visible and first is None:
                    first = item
            header.setHidden(shown == 0)
            if text:
                header.setExpanded(True)
        if first is not None:
            self.setCurrentItem(first)
        else:
            self.setCurrentIndex(QModelIndex())  # nothing matches: nothing current

    def current_type(self) -> str | None:
        item = self.currentItem()
        return item.data(0, TYPE_ROLE) if item is not None and not item.isHidden() else None

    def visible_types(self) -> list[str]:
        return [type_id for type_id, item in self._items.items() if not item.isHidden()]

    def step(self, delta: int) -> None:
        """Move the current entry by ``delta`` among the visible ones (arrow keys in the search box)."""
        types = self.visible_types()
        if types:
            current = self.current_type()
            i = types.index(current) + delta if current in types else 0
            self.setCurrentItem(self._items[types[max(0, min(len(types) - 1, i))]])

    def _activated(self, item: QTreeWidgetItem) -> None:
        type_id = item.data(0, TYPE_ROLE)
        if type_id:
            self.chosen.emit(type_id)

    def mimeData(self, items: Iterable[QTreeWidgetItem]) -> QMimeData:
        mime = QMimeData()
        first = next(iter(items), None)
        type_id = first.data(0, TYPE_ROLE) if first is not None else None
        if type_id:
            mime.setData(NODE_MIME, type_id.encode())
            mime.setText(type_id)  # the canvas viewer only lets known formats in
        return mime

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        if item is None or not item.data(0, TYPE_ROLE):
            return
        drag = QDrag(self)
        drag.setMimeData(self.mimeData([item]))
        drag.setPixmap(item.icon(0).pixmap(32, 32))
        drag.exec(Qt.DropAction.CopyAction)


class _SearchBox(QLineEdit):
    """Arrow keys move in the list below; Enter takes the current entry."""

    def __init__(self, nodes: NodeList) -> None:
        super().__init__()
        self.nodes = nodes

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() in (Qt.Key.Key_Down, Qt.Key.Key_Up):
            self.nodes.step(1 if event.key() == Qt.Key.Key_Down else -1)
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            type_id = self.nodes.current_type()
            if type_id:
                self.nodes.chosen.emit(type_id)
            return
        super().keyPressEvent(event)


class Palette(QWidget):
    """Search box over the grouped node list."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.nodes = NodeList(self)
        self.search = _SearchBox(self.nodes)
        self.search.setPlaceholderText("Search nodes…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.no_matches = QLabel(self)
        self.no_matches.setWordWrap(True)
        self.no_matches.setProperty("muted", True)
        self.no_matches.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.setSpacing(6)
        layout.addWidget(self.search)
        layout.addWidget(self.no_matches)
        layout.addWidget(self.nodes)
        self.nodes.chosen.connect(self.chosen)

    def _filter(self, text: str) -> None:
        self.nodes.filter(text)
        none = bool(text.strip()) and not self.nodes.visible_types()
        if none:
            self.no_matches.setText(
                f"No node matches \u201c{text.strip()}\u201d. Try a word like camera, model or export."
            )
        self.no_matches.setVisible(none)


class QuickAdd(QFrame):
    """The Tab popup on the canvas: type to search, Enter or click to add at the view centre."""

    chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.palette_widget = Palette(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.palette_widget)
        self.palette_widget.chosen.connect(self._chosen)
        self.resize(280, 360)

    def popup(self, global_pos: QPoint) -> None:
        self.palette_widget.search.clear()
        self.move(global_pos)
        self.show()
        self.palette_widget.search.setFocus()

    def _chosen(self, type_id: str) -> None:
        self.hide()
        self.chosen.emit(type_id)
