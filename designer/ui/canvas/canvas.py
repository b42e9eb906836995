"""The canvas: the skill's graph on screen, its edits (all undoable) and what they mean for the Skill.

Every edit goes through NodeGraphQt's undo stack; a short timer after each
change turns the scene back into a Skill (``skill_changed``), which is what
validation, saving and the preview see.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QElapsedTimer, QEvent, QObject, QPointF, Qt, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack
from PySide6.QtWidgets import QVBoxLayout, QWidget

from designer.core.skill import Edge, PortRef, Problem, Settings, Skill, get_spec
from designer.core.skill.build import auto_layout, free_node_id, new_node_id
from designer.core.skill.links import link_refusal
from designer.ui.canvas import adapter
from designer.ui.canvas.graph import NODE_HEIGHT, NODE_ID, NODE_WIDTH, SkillGraph, SkillNode

NODE_MIME = "application/x-skill-designer-node"  # drag data: a catalog type id
CHANGE_DELAY_MS = 120
LOAD_SLICE_MS = 25  # building the scene yields to the event loop this often
FIT_ALL_LIMIT = 60  # larger skills open on their first nodes (F frames them all)
PASTE_OFFSET = 40.0


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
    node_activated = Signal(str)  # double-click
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
        """Add a fresh node of ``type_id`` centred at ``scene_pos`` (the view centre by default)."""
        spec = get_spec(type_id)
        if spec is None:
            raise KeyError(type_id)
        if scene_pos is None:
            view = self.graph.viewer()
            scene_pos = view.mapToScene(view.viewport().rect().center())
        node_id = new_node_id(self.skill(), spec.kind)
        pos = (scene_pos.x() - NODE_WIDTH / 2, scene_pos.y() - NODE_HEIGHT / 2)
        self.graph.create_skill_node(type_id, node_id, spec.title, spec.defaults(), pos=pos)
        self.node_added.emit(node_id)
        return node_id

    def node(self, node_id: str) -> SkillNode | None:
        return self.graph.find(node_id)

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
            self.graph.change_type(node, type_id, params)

    def connect_nodes(
        self, source: str, target: str, source_port: str = "out", target_port: str = "in"
    ) -> bool:
        """Link two nodes as the mouse would: refused (with a message) when it breaks a graph rule."""
        reason = self._check_link(source, source_port, target, target_port, set())
        if reason:
            self.message.emit(f"Link refused: {reason}")
            return False
        a, b = self.graph.find(source), self.graph.find(target)
        a.outputs()[source_port].connect_to(b.inputs()[target_port], push_undo=True)
        return True

    def disconnect_nodes(
        self, source: str, target: str, source_port: str = "out", target_port: str = "in"
    ) -> None:
        a, b = self.graph.find(source), self.graph.find(target)
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
        nodes = self.graph.selected_nodes()
        if nodes:
            self.graph.delete_nodes(nodes)
            return
        pipes = self.graph.selected_pipes()
        if pipes:
            stack = self.undo_stack()
            stack.beginMacro("Remove links")
            for out_port, in_port in pipes:
                out_port.disconnect_from(in_port, push_undo=True)
            stack.endMacro()

    def copy(self) -> None:
        self.graph.copy_nodes(self.graph.selected_nodes())

    def cut(self) -> None:
        self.graph.cut_nodes(self.graph.selected_nodes())

    def paste(self) -> None:
        stack = self.undo_stack()
        stack.beginMacro("Paste nodes")
        self._fresh_ids(self.graph.paste_nodes() or [])
        stack.endMacro()

    def duplicate(self) -> None:
        selected = self.graph.selected_nodes()
        if not selected:
            return
        stack = self.undo_stack()
        stack.beginMacro("Duplicate nodes")
        self._fresh_ids(self.graph.duplicate_nodes(selected) or [])
        stack.endMacro()

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
            if event.key() == Qt.Key.Key_Tab:
                self.quick_add_requested.emit()
                return True
        return super().eventFilter(watched, event)
