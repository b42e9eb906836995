"""The canvas: the skill's graph on screen, its edits (all undoable) and what they mean for the Skill.

Every edit goes through NodeGraphQt's undo stack; a short timer after each
change turns the scene back into a Skill (``skill_changed``), which is what
validation, saving and the preview see.
"""

from __future__ import annotations

import gc
from functools import partial
from typing import cast

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QCursor, QKeyEvent, QUndoCommand, QUndoStack
from PySide6.QtWidgets import QMenu, QVBoxLayout, QWidget

from designer.core.skill import SPECS, Edge, Node, PortRef, Problem, Settings, Skill, get_spec
from designer.core.skill.build import auto_layout, free_node_id, new_node_id
from designer.core.skill.links import link_refusal
from designer.ui.canvas import adapter
from designer.ui.canvas.graph import NODE_HEIGHT, NODE_ID, NODE_WIDTH, Link, SkillGraph, SkillNode
from designer.ui.icons import node_icon

NODE_MIME = "application/x-skill-designer-node"  # drag data: a catalog type id
CHANGE_DELAY_MS = 120
LOAD_SLICE_MS = 25  # building the scene yields to the event loop this often
FIT_ALL_LIMIT = 60  # larger skills open on their first nodes (F frames them all)
PASTE_OFFSET = 40.0
GAP = 36.0  # between a node and one placed next to it
NUDGE = 10.0  # Shift+arrow moves the selected nodes this far
ARROWS = {
    Qt.Key.Key_Left: (-1.0, 0.0),
    Qt.Key.Key_Right: (1.0, 0.0),
    Qt.Key.Key_Up: (0.0, -1.0),
    Qt.Key.Key_Down: (0.0, 1.0),
}


class _SettingsCommand(QUndoCommand):
    """Skill settings live beside the scene; this puts their changes on the same undo stack."""

    def __init__(self, canvas: Canvas, settings: Settings) -> None:
        super().__init__("Change skill settings")
        self.canvas, self.new, self.old = canvas, settings, canvas.base.settings

    def redo(self) -> None:
        self.canvas.base.settings = self.new
        self.canvas.schedule_change()

    def undo(self) -> None:
        self.canvas.base.settings = self.old
        self.canvas.schedule_change()


class Canvas(QWidget):
    skill_changed = Signal(object)
    selection_changed = Signal(list)  # our node ids
    node_activated = Signal(str)  # double-click, or Enter on the one selected node
    node_added = Signal(str)  # a node the user just added (the window opens dialogs for some)
    message = Signal(str)  # for the status bar
    quick_add_requested = Signal()
    loaded = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph = SkillGraph(self)
        self.graph.check_link = self._check_link
        self.base = Skill(settings=Settings(name="Untitled skill"))
        self._skill = self.base
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.graph.viewer())
        self.graph.viewer().setAcceptDrops(True)
        self._timer = QTimer(self, singleShot=True, interval=CHANGE_DELAY_MS)
        self._timer.timeout.connect(self._emit_change)
        self.graph.undo_stack().indexChanged.connect(self.schedule_change)
        self.graph.link_refused.connect(lambda reason: self.message.emit(f"Link refused: {reason}"))
        self.graph.link_menu_requested.connect(self._on_link_menu)
        self.menu: QMenu | None = None  # the link or "Connect to" menu on screen, if any
        self.graph.node_selection_changed.connect(lambda *_: self.selection_changed.emit(self.selected_ids()))
        self.graph.node_double_clicked.connect(self._on_double_click)
        self.graph.viewer().installEventFilter(self)
        self.graph.data_dropped.connect(self._on_drop)

    # -- the document ---------------------------------------------------------------------

    def undo_stack(self) -> QUndoStack:
        return self.graph.undo_stack()

    def load_skill(self, skill: Skill) -> None:
        """Show ``skill``. Large skills load in slices between events; ``loaded`` says when done."""
        self._timer.stop()
        self.base = skill.model_copy(update={"nodes": [], "edges": []}, deep=True)
        self._skill = skill  # what skill() answers while the scene is being built
        self._steps = adapter.load_steps(self.graph, skill)
        self._loading = True
        self.graph.viewer().setEnabled(False)
        self.graph.viewer().setUpdatesEnabled(False)  # no painting of a half-built scene
        gc.disable()  # a full collection amid thousands of new Qt wrappers stalls for 0.5 s
        self._load_slice()

    def is_loading(self) -> bool:
        return self._loading

    def _load_slice(self) -> None:
        clock = QElapsedTimer()
        clock.start()
        for _ in self._steps:
            if clock.elapsed() > LOAD_SLICE_MS:
                QTimer.singleShot(0, self._load_slice)
                return
        # Reading the scene back, announcing it and showing it: one event-loop turn each.
        self._skill = adapter.to_skill(self.graph, self.base)
        QTimer.singleShot(0, lambda: self.skill_changed.emit(self._skill))
        QTimer.singleShot(0, self._show_loaded)

    def _show_loaded(self) -> None:
        gc.enable()
        gc.freeze()  # the scene's objects live on; later collections need not walk them
        self._loading = False
        viewer = self.graph.viewer()
        viewer.setEnabled(True)
        nodes = self.graph.all_nodes()
        if len(nodes) <= FIT_ALL_LIMIT:
            self.frame_all()
        else:  # too many to read when all fit: open on the start of the graph, at full size
            self.graph.fit(nodes[: FIT_ALL_LIMIT // 4])
        viewer.setUpdatesEnabled(True)
        self.loaded.emit()

    def skill(self) -> Skill:
        """The current state; exact even between an edit and the debounced signal."""
        if self._timer.isActive():
            self._timer.stop()
            self._emit_change()
        return self._skill

    def schedule_change(self, *_: object) -> None:
        if not self._loading:
            self._timer.start()

    def _emit_change(self) -> None:
        self._skill = adapter.to_skill(self.graph, self.base)
        self.skill_changed.emit(self._skill)

    def set_settings(self, settings: Settings) -> None:
        if settings != self.base.settings:
            self.undo_stack().push(_SettingsCommand(self, settings))

    # -- nodes ---------------------------------------------------------------------------

    def add_node(self, type_id: str, scene_pos: QPointF | None = None) -> str:
        """Add a fresh node of ``type_id`` centred at ``scene_pos`` (the view centre by default),
        selected, so Properties shows it."""
        spec = get_spec(type_id)
        if spec is None:
            raise KeyError(type_id)
        if scene_pos is None:
            view = self.graph.viewer()
            scene_pos = view.mapToScene(view.viewport().rect().center())
        node_id = self._create(type_id, (scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - NODE_HEIGHT / 2))
        self.node_added.emit(node_id)
        return node_id

    def _create(self, type_id: str, pos: tuple[float, float]) -> str:
        spec = get_spec(type_id)
        if spec is None:
            raise KeyError(type_id)
        node_id = new_node_id(self.skill(), spec.kind)
        node = self.graph.create_skill_node(type_id, node_id, spec.title, spec.defaults(), pos=pos)
        self.graph.select([node])
        self.selection_changed.emit([node_id])
        return node_id

    def add_node_here(self, type_id: str, at: QPointF | None = None) -> str:
        """Add a node where the user means it (palette Enter, quick add): below the one selected
        node and linked from it when that link is allowed, else at ``at`` (the cursor), else
        near the view centre; never on top of another node. One undo step."""
        spec = get_spec(type_id)
        if spec is None:
            raise KeyError(type_id)
        selected = self.selected_ids()
        source = self.graph.find(selected[0]) if len(selected) == 1 else None
        if source is not None:
            x, y = self.graph.position(source)
            pos = self.free_place(x, y + NODE_HEIGHT + GAP * 2)
        else:
            if at is None:
                view = self.graph.viewer()
                at = view.mapToScene(view.viewport().rect().center())
            pos = self.free_place(at.x() - NODE_WIDTH / 2, at.y() - NODE_HEIGHT / 2)
        stack = self.undo_stack()
        stack.beginMacro(f"Add {spec.title}")
        node_id = self._create(type_id, pos)
        if source is not None and source.SPEC is not None and source.SPEC.outputs and spec.inputs:
            out_port, in_port = source.SPEC.outputs[0].name, spec.inputs[0].name
            edge = Edge(
                source=PortRef(node=source.node_id(), port=out_port),
                target=PortRef(node=node_id, port=in_port),
            )
            # Inside the macro the debounced skill lags behind: read the scene itself.
            if link_refusal(adapter.to_skill(self.graph, self.base), edge) is None:
                target = self._node(node_id)
                source.outputs()[out_port].connect_to(target.inputs()[in_port], push_undo=True)
        stack.endMacro()
        self.graph.select([self._node(node_id)])
        self.selection_changed.emit([node_id])
        self.node_added.emit(node_id)
        return node_id

    def cursor_scene_pos(self) -> QPointF | None:
        """Where the mouse is on the canvas, in scene coordinates; None when it is elsewhere."""
        view = self.graph.viewer()
        local = view.viewport().mapFromGlobal(QCursor.pos())
        if not view.viewport().rect().contains(local):
            return None
        return view.mapToScene(local)

    def free_place(self, x: float, y: float) -> tuple[float, float]:
        """The top-left nearest (x, y), looking down then right, where a node overlaps no other."""
        rects = [
            QRectF(*self.graph.position(n), NODE_WIDTH, NODE_HEIGHT).adjusted(
                -GAP / 2, -GAP / 2, GAP / 2, GAP / 2
            )
            for n in self.graph.skill_nodes()
        ]
        for column in range(20):
            for row in range(20):
                cx, cy = x + column * (NODE_WIDTH + GAP), y + row * (NODE_HEIGHT + GAP)
                box = QRectF(cx, cy, NODE_WIDTH, NODE_HEIGHT)
                if not any(box.intersects(r) for r in rects):
                    return cx, cy
        return x, y

    def node(self, node_id: str) -> SkillNode | None:
        return self.graph.find(node_id)

    def _node(self, node_id: str) -> SkillNode:
        """The node ``node_id``, which the caller knows is on the canvas."""
        node = self.graph.find(node_id)
        if node is None:
            raise KeyError(node_id)
        return node

    def set_node_params(self, node_id: str, params: dict, label: str = "Change parameters") -> None:
        node = self.graph.find(node_id)
        if node is None or node.params() == params:
            return
        stack = self.undo_stack()
        stack.beginMacro(label)
        self.graph.set_params(node, params)
        stack.endMacro()

    def rename_node(self, node_id: str, name: str) -> None:
        node = self.graph.find(node_id)
        if node is not None and node.name() != name:
            node.set_name(name)

    def change_node_type(self, node_id: str, type_id: str, params: dict) -> None:
        node = self.graph.find(node_id)
        if node is None:
            return
        if node.type_id() == type_id:
            self.set_node_params(node_id, params)
        else:
            fresh = self.graph.change_type(node, type_id, params)
            self.graph.select([fresh])
            self.selection_changed.emit([node_id])  # Properties follows the node's new type

    def connect_nodes(
        self, source: str, target: str, source_port: str = "out", target_port: str = "in"
    ) -> bool:
        """Link two nodes as the mouse would: refused (with a message) when it breaks a graph rule."""
        reason = self._check_link(source, source_port, target, target_port, set())
        if reason:
            self.message.emit(f"Link refused: {reason}")
            return False
        a, b = self._node(source), self._node(target)
        a.outputs()[source_port].connect_to(b.inputs()[target_port], push_undo=True)
        return True

    def disconnect_nodes(
        self, source: str, target: str, source_port: str = "out", target_port: str = "in"
    ) -> None:
        a, b = self._node(source), self._node(target)
        a.outputs()[source_port].disconnect_from(b.inputs()[target_port], push_undo=True)

    def _check_link(
        self, source: str, source_port: str, target: str, target_port: str, dropped: set
    ) -> str | None:
        skill = self.skill().model_copy(deep=True)
        skill.edges = [e for e in skill.edges if e.key() not in dropped]
        edge = Edge(
            source=PortRef(node=source, port=source_port), target=PortRef(node=target, port=target_port)
        )
        return link_refusal(skill, edge)

    # -- selection and view ----------------------------------------------------------------

    def selected_ids(self) -> list[str]:
        return [n.node_id() for n in self.graph.selected_nodes() if isinstance(n, SkillNode)]

    def select_node(self, node_id: str) -> None:
        node = self.graph.find(node_id)
        if node is None:
            return
        self.graph.select([node])
        self.graph.center_on([node])
        self.selection_changed.emit(self.selected_ids())

    def frame_all(self) -> None:
        if self.graph.all_nodes():
            self._fit_all()

    def _fit_all(self) -> None:
        self.graph.fit(self.graph.all_nodes())

    def select_all(self) -> None:
        self.graph.select_all()

    def delete_selected(self) -> None:
        """Delete the selected nodes (with their links) and the selected links: one undo step."""
        nodes = self.graph.selected_nodes()
        links = [link for link in self.graph.selected_links() if not nodes or not self._touches(link, nodes)]
        if not nodes and not links:
            return
        stack = self.undo_stack()
        stack.beginMacro("Delete" if nodes else "Remove links")
        for link in links:
            self.graph.remove_link(link)
        if nodes:
            self.graph.delete_nodes(nodes)
        stack.endMacro()
        self.selection_changed.emit(self.selected_ids())

    @staticmethod
    def _touches(link: Link, nodes: list) -> bool:
        ids = {n.node_id() for n in nodes if isinstance(n, SkillNode)}
        return link[0] in ids or link[2] in ids

    def remove_link(self, link: Link) -> None:
        self.graph.remove_link(link)

    def insert_node(self, link: Link, type_id: str) -> str | None:
        """Put a new node of ``type_id`` into ``link`` (source -> new -> target): one undo step.
        None, with the reason as a message, when the graph rules refuse it."""
        spec = get_spec(type_id)
        if spec is None or not spec.inputs or not spec.outputs:
            return None
        reason = self._insert_refusal(link, type_id)
        if reason:
            self.message.emit(f"Cannot insert {spec.title}: {reason}")
            return None
        source, source_port, target, target_port = link
        a, b = self._node(source), self._node(target)
        ax, ay = self.graph.position(a)
        bx, by = self.graph.position(b)
        stack = self.undo_stack()
        stack.beginMacro(f"Insert {spec.title}")
        self.graph.remove_link(link)
        node_id = self._create(type_id, self.free_place((ax + bx) / 2, (ay + by) / 2))
        new = self._node(node_id)
        a.outputs()[source_port].connect_to(new.inputs()[spec.inputs[0].name], push_undo=True)
        new.outputs()[spec.outputs[0].name].connect_to(b.inputs()[target_port], push_undo=True)
        stack.endMacro()
        self.graph.select([new])
        self.selection_changed.emit([node_id])
        self.node_added.emit(node_id)
        return node_id

    def _insert_refusal(self, link: Link, type_id: str) -> str | None:
        spec = get_spec(type_id)
        if spec is None or not spec.inputs or not spec.outputs:
            return "not a node that takes and gives frames"
        skill = self.skill().model_copy(deep=True)
        source, source_port, target, target_port = link
        skill.edges = [
            e for e in skill.edges if (e.source.node, e.source.port, e.target.node, e.target.port) != link
        ]
        trial = Node(id=free_node_id({n.id for n in skill.nodes}, spec.kind), type=type_id, name=spec.title)
        trial.params = spec.defaults()
        skill.nodes.append(trial)
        first = Edge(
            source=PortRef(node=source, port=source_port),
            target=PortRef(node=trial.id, port=spec.inputs[0].name),
        )
        reason = link_refusal(skill, first)
        if reason:
            return reason
        skill.edges.append(first)
        second = Edge(
            source=PortRef(node=trial.id, port=spec.outputs[0].name),
            target=PortRef(node=target, port=target_port),
        )
        return link_refusal(skill, second)

    def _on_link_menu(self, link: object, global_pos: QPoint) -> None:
        self.show_link_menu(cast(Link, link), global_pos)  # the graph's signal carries a Link

    def show_link_menu(self, link: Link, global_pos: QPoint) -> QMenu:
        """A link's menu: Delete, and Insert node (the node types the graph rules allow there)."""
        menu = QMenu(self)
        menu.setObjectName("LinkMenu")
        menu.addAction("Delete link", partial(self.remove_link, link))
        insert = menu.addMenu("Insert node")
        for spec in SPECS:
            if spec.inputs and spec.outputs and self._insert_refusal(link, spec.type_id) is None:
                insert.addAction(node_icon(spec), spec.title, partial(self.insert_node, link, spec.type_id))
        insert.setEnabled(bool(insert.actions()))
        self._show_menu(menu, global_pos)
        return menu

    def connect_menu(self) -> QMenu | None:
        """ "Connect to…" from the keyboard: the nodes the one selected node may link to."""
        selected = self.selected_ids()
        if len(selected) != 1:
            self.message.emit("Select one node to connect it")
            return None
        source = self._node(selected[0])
        menu = QMenu(self)
        menu.setObjectName("ConnectMenu")
        menu.setTitle("Connect to")
        source_id = source.node_id()
        for out in source.SPEC.outputs if source.SPEC is not None else ():
            for target in self.graph.skill_nodes():
                target_id = target.node_id()
                for port in target.SPEC.inputs if target.SPEC is not None else ():
                    if self._check_link(source_id, out.name, target_id, port.name, set()) is None:
                        menu.addAction(
                            node_icon(target.SPEC),
                            f"{target.name()}  ({target_id})",
                            partial(self.connect_nodes, source_id, target_id, out.name, port.name),
                        )
        if not menu.actions():
            self.message.emit(f"{source.name()} cannot link to any node here")
            return None
        view = self.graph.viewer()
        x, y = self.graph.position(source)
        at = view.viewport().mapToGlobal(view.mapFromScene(QPointF(x + NODE_WIDTH / 2, y + NODE_HEIGHT)))
        self._show_menu(menu, at)
        menu.setActiveAction(menu.actions()[0])
        return menu

    def _show_menu(self, menu: QMenu, global_pos: QPoint) -> None:
        if self.menu is not None:
            self.menu.close()
        self.menu = menu
        menu.aboutToHide.connect(menu.deleteLater)
        menu.destroyed.connect(lambda *_: setattr(self, "menu", None) if self.menu is menu else None)
        menu.popup(global_pos)

    def copy(self) -> None:
        self.graph.copy_nodes(self.graph.selected_nodes())

    def cut(self) -> None:
        self.graph.cut_nodes(self.graph.selected_nodes())

    def paste(self) -> None:
        stack = self.undo_stack()
        stack.beginMacro("Paste nodes")
        self._fresh_ids(self.graph.paste_nodes() or [])
        stack.endMacro()
        self.selection_changed.emit(self.selected_ids())

    def duplicate(self) -> None:
        selected = self.graph.selected_nodes()
        if not selected:
            return
        stack = self.undo_stack()
        stack.beginMacro("Duplicate nodes")
        copies = self.graph.duplicate_nodes(selected) or []
        self._fresh_ids(copies)
        stack.endMacro()
        self.graph.select(copies)
        self.selection_changed.emit(self.selected_ids())

    def _fresh_ids(self, nodes: list) -> None:
        """Pasted or duplicated nodes get ids of their own (the copies share them at first)."""
        fresh = {id(n) for n in nodes}
        taken = {n.node_id() for n in self.graph.skill_nodes() if id(n) not in fresh}
        for node in nodes:
            if not isinstance(node, SkillNode):
                continue
            spec = get_spec(node.type_id())
            node_id = node.node_id()
            if node_id in taken:
                node_id = free_node_id(taken, spec.kind if spec else "node")
            node.set_property(NODE_ID, node_id, push_undo=False)
            taken.add(node_id)
            x, y = self.graph.position(node)
            node.set_pos(x + PASTE_OFFSET, y + PASTE_OFFSET)

    def auto_layout(self) -> None:
        laid = auto_layout(self.skill().model_copy(deep=True)).layout.nodes
        stack = self.undo_stack()
        stack.beginMacro("Auto-layout")
        for node in self.graph.skill_nodes():
            pos = laid.get(node.node_id())
            if pos is not None:
                node.set_pos(pos.x, pos.y)
        stack.endMacro()
        self._fit_all()

    # -- status and problems -----------------------------------------------------------------

    def set_node_status(self, node_id: str, text: str, state: str = "idle") -> None:
        node = self.graph.find(node_id)
        if node is not None and (node.view.status_text, node.view.status_state) != (text, state):
            node.view.status_text, node.view.status_state = text, state
            node.view.update()

    def clear_node_status(self) -> None:
        for node in self.graph.skill_nodes():
            self.set_node_status(node.node_id(), "", "idle")

    def show_problems(self, problems: list[Problem]) -> None:
        """Outline nodes with errors in red and with warnings in amber."""
        worst: dict[str, str] = {}
        for problem in problems:
            if problem.node_id is not None:
                if problem.is_error or worst.get(problem.node_id) != "error":
                    worst[problem.node_id] = "error" if problem.is_error else "warning"
        for node in self.graph.skill_nodes():
            state = worst.get(node.node_id(), "")
            if node.view.problem != state:
                node.view.problem = state
                node.view.update()

    # -- events ----------------------------------------------------------------------------

    def _on_drop(self, mime, pos) -> None:
        if mime.hasFormat(NODE_MIME):
            type_id = bytes(mime.data(NODE_MIME).data()).decode()
            if get_spec(type_id) is not None:
                self.add_node(type_id, QPointF(pos))

    def _on_double_click(self, node) -> None:
        if isinstance(node, SkillNode):
            self.node_activated.emit(node.node_id())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.graph.viewer() and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() == Qt.Key.Key_Tab:
                self.quick_add_requested.emit()
                return True
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and not self._loading:
                selected = self.selected_ids()
                if len(selected) == 1:  # Enter opens a node as double-click does
                    self.node_activated.emit(selected[0])
                    return True
            if event.key() in ARROWS and not self._loading:
                dx, dy = ARROWS[Qt.Key(event.key())]
                if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    self.nudge(dx * NUDGE, dy * NUDGE)
                else:
                    self.select_towards(dx, dy)
                return True
        return super().eventFilter(watched, event)

    # -- the keyboard ----------------------------------------------------------------------

    def select_towards(self, dx: float, dy: float) -> None:
        """Arrow keys: select the nearest node in that direction (none selected: the first)."""
        nodes = self.graph.skill_nodes()
        if not nodes:
            return
        selected = [n for n in nodes if n.view.selected]
        if not selected:
            best = min(nodes, key=lambda n: (self.graph.position(n)[1], self.graph.position(n)[0]))
        else:
            x0, y0 = self.graph.position(selected[0])
            best, score = None, float("inf")
            for node in nodes:
                if node in selected:
                    continue
                x, y = self.graph.position(node)
                along = (x - x0) * dx + (y - y0) * dy
                across = abs((x - x0) * dy - (y - y0) * dx)
                if along <= 0 or across > along * 2:
                    continue
                if along + across * 2 < score:
                    best, score = node, along + across * 2
            if best is None:
                return
        self.graph.select([best])
        self.graph.center_on([best])
        self.selection_changed.emit(self.selected_ids())

    def nudge(self, dx: float, dy: float) -> None:
        """Shift+arrow keys: move the selected nodes a little; one undo step per press."""
        nodes = [n for n in self.graph.skill_nodes() if n.view.selected]
        if not nodes:
            return
        stack = self.undo_stack()
        stack.beginMacro("Move nodes")
        for node in nodes:
            x, y = self.graph.position(node)
            node.set_pos(x + dx, y + dy)
        stack.endMacro()
