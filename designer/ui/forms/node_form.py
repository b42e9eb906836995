"""The properties form of one node, generated from its parameter model.

Titles and help come from the field metadata; the validator's messages are
shown under the field they concern. Each edit is one undo step on the canvas.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from designer.core.skill import Problem, Skill, get_spec
from designer.core.skill.fields import Mark, has_mark
from designer.ui.dialogs.node_dialogs import has_own_dialog
from designer.ui.forms.fields import Editor, LabelsEditor, editor_for
from designer.ui.icons import node_icon
from designer.ui.library import add_model, library_events, model_summary
from designer.ui.problems import field_message
from designer.ui.session import LibraryGetter
from designer.ui.workers import submit

#: The labels of the model(s) upstream of a node (None: not known); the session answers it.
LabelsGetter = Callable[[str], "tuple[str, ...] | None"]

if TYPE_CHECKING:
    from designer.core.models.registry import ModelEntry
    from designer.ui.canvas import Canvas


class ModelPicker(Editor):
    """A model from the library, with what it is; "Add external model…" right here."""

    def __init__(self, library: LibraryGetter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        column = QVBoxLayout()
        column.setSpacing(2)
        self._layout.addLayout(column)
        row = QHBoxLayout()
        self.combo = QComboBox(self)
        self.combo.setMinimumContentsLength(12)
        self.combo.addItem("(none: name the files below)", "")
        self.add_button = QPushButton("Add external model…", self)
        row.addWidget(self.combo, 1)
        row.addWidget(self.add_button)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setProperty("muted", True)
        column.addLayout(row)
        column.addWidget(self.summary)
        self._entries: dict[str, ModelEntry] = {}
        self._value = ""
        self.combo.activated.connect(self._chosen)
        self.add_button.clicked.connect(self._add)
        library_events().models_changed.connect(self.reload)  # added or removed in the Models dock
        self.reload()

    def reload(self) -> None:
        library = self.library
        submit(lambda: _entries(library), on_done=self._listed, parent=self)

    def _listed(self, entries: list[ModelEntry]) -> None:
        self._entries = {e.id: e for e in entries}
        self.combo.blockSignals(True)
        self.combo.clear()
        self.combo.addItem("(none: name the files below)", "")
        for entry in entries:
            self.combo.addItem(f"{entry.name}  ({entry.id})", entry.id)
        self.combo.blockSignals(False)
        self.set_value(self._value)

    def _chosen(self, _index: int) -> None:
        self._value = self.combo.currentData() or ""
        self._describe()
        self.edited.emit()

    def _add(self) -> None:
        model_id = add_model(self, self.library())
        if model_id:
            self._value = model_id
            self.reload()
            self.edited.emit()

    def _describe(self) -> None:
        entry = self._entries.get(self._value)
        if entry is not None:
            self.summary.setText(model_summary(entry))
        elif self._value:
            self.summary.setText(f"'{self._value}' is not in the model library.")
        else:
            self.summary.setText("")

    def value(self) -> str:
        return self._value

    def set_value(self, value: Any) -> None:
        self._value = value or ""
        i = self.combo.findData(self._value)
        if i < 0 and self._value:
            self.combo.addItem(self._value, self._value)
            i = self.combo.count() - 1
        self.combo.setCurrentIndex(max(i, 0))
        self._describe()

    def focus(self) -> None:
        self.combo.setFocus()


def _entries(library: LibraryGetter) -> list[ModelEntry]:
    """The library's models (on a worker: the first call opens the library); none without one."""
    opened = library()
    return opened.list() if opened is not None else []


class NodeForm(QWidget):
    """Name, type and every parameter of one node; problems shown in place."""

    dialog_requested = Signal(str)  # node id: the node has a dialog of its own (gRPC)

    def __init__(
        self,
        canvas: Canvas,
        node_id: str,
        skill_dir: Callable[[], Path],
        library: LibraryGetter,
        parent: QWidget | None = None,
        labels: LabelsGetter | None = None,
    ) -> None:
        super().__init__(parent)
        self.canvas, self.node_id = canvas, node_id
        self._labels = labels
        node = canvas.skill().node(node_id)
        if node is None:  # the panel shows only nodes it found in the skill
            raise ValueError(f"no node {node_id!r} in the skill")
        self.type_id = node.type
        self.spec = get_spec(node.type)
        self.editors: dict[str, Editor] = {}
        self.messages: dict[str, QLabel] = {}
        self._titles: dict[str, str] = {}
        self._editing = False

        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.setSpacing(8)
        header = QHBoxLayout()
        badge = QLabel(self)
        badge.setPixmap(node_icon(self.spec).pixmap(28, 28))
        title = QLabel(
            f"<b>{self.spec.title if self.spec else 'Unknown node type'}</b><br/>"
            f"<span style='color:gray'>{node.type} · id {node_id}</span>",
            self,
        )
        header.addWidget(badge)
        header.addWidget(title, 1)
        outer.addLayout(header)
        if self.spec is not None:
            about = QLabel(self.spec.description, self)
            about.setWordWrap(True)
            about.setProperty("muted", True)
            outer.addWidget(about)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapAllRows)  # labels above fields: fits a dock
        form.setVerticalSpacing(4)
        self.name_edit = QLineEdit(node.name, self)
        self.name_edit.editingFinished.connect(self._rename)
        form.addRow("Name", self.name_edit)
        if self.spec is None:
            note = QLabel(
                "This version does not know this node type. "
                "Its parameters are kept and saved back unchanged.",
                self,
            )
            note.setWordWrap(True)
            form.addRow(note)
        else:
            for name, info in self.spec.params.model_fields.items():
                value = node.params.get(name, self.spec.defaults().get(name))
                editor = (
                    ModelPicker(library, self)
                    if has_mark(info, Mark.MODEL)
                    else editor_for(name, info, value, skill_dir)
                )
                editor.set_value(value)
                editor.edited.connect(lambda name=name, title=info.title or name: self._edited(name, title))
                editor.setToolTip(info.description or "")
                label = QLabel(f"<b>{info.title or name}</b>", self)
                label.setToolTip(info.description or "")
                message = QLabel(self)
                message.setWordWrap(True)
                message.setProperty("problem", True)
                message.hide()
                box = QWidget(self)
                column = QVBoxLayout(box)
                column.setContentsMargins(0, 0, 0, 0)
                column.setSpacing(2)
                column.addWidget(editor)
                column.addWidget(message)
                if info.description and not isinstance(editor, ModelPicker):
                    help_text = QLabel(info.description, self)
                    help_text.setWordWrap(True)
                    help_text.setProperty("muted", True)
                    column.addWidget(help_text)
                form.addRow(label, box)
                self.editors[name], self.messages[name] = editor, message
                self._titles[name] = info.title or name
        outer.addLayout(form)
        if self.spec is not None and has_own_dialog(self.spec.type_id):
            button = QPushButton("Open gRPC node dialog…", self)
            button.clicked.connect(lambda: self.dialog_requested.emit(self.node_id))
            outer.addWidget(button)
            hint = QLabel("Or double-click the node, or select it and press Enter.", self)
            hint.setWordWrap(True)
            hint.setProperty("muted", True)
            outer.addWidget(hint)
        outer.addStretch()

    def _rename(self) -> None:
        name = self.name_edit.text().strip()
        if name:
            self.canvas.rename_node(self.node_id, name)

    def _edited(self, name: str, title: str) -> None:
        self._editing = True  # reading the skill below announces the state before this edit
        try:
            node = self.canvas.skill().node(self.node_id)
            if node is not None:
                params = {**node.params, name: self.editors[name].value()}
                self.canvas.set_node_params(self.node_id, params, label=f"Change {title}")
        finally:
            self._editing = False

    def refresh(self, skill: Skill, problems: list[Problem]) -> None:
        """Show the node's current values (after undo, say) and its problems, without emitting edits."""
        node = skill.node(self.node_id)
        if node is None or self._editing:
            return
        if not self.name_edit.hasFocus():
            self.name_edit.setText(node.name)
        for name, editor in self.editors.items():
            if name in node.params:
                editor.set_value(node.params[name])
        if self._labels is not None and self.spec is not None:
            choices = self._labels(self.node_id)
            fields = self.spec.params.model_fields
            for name, editor in self.editors.items():
                if isinstance(editor, LabelsEditor) and has_mark(fields[name], Mark.LABELS):
                    editor.set_choices(choices)
        mine = {p.param: p for p in problems if p.node_id == self.node_id and p.param}
        for name, label in self.messages.items():
            problem = mine.get(name)
            label.setVisible(problem is not None)
            if problem is not None:
                colour = "#d64545" if problem.is_error else "#b7860b"
                text = field_message(problem, self._titles[name], self.editors[name].value())
                label.setText(f"<span style='color:{colour}'>{html.escape(text, quote=False)}</span>")
            invalid = problem is not None and problem.is_error
            if self.editors[name].property("invalid") != invalid:
                self.editors[name].setProperty("invalid", invalid)
                _repolish(self.editors[name])

    def focus_param(self, name: str | None) -> None:
        editor = self.editors.get(name or "")
        if editor is not None:
            editor.focus()


def _repolish(editor: QWidget) -> None:
    """Apply the style sheet again after ``invalid`` changed: Qt restyles a widget on its own
    property changes only, and the red border is drawn by the editor's children."""
    for widget in (editor, *editor.findChildren(QWidget)):
        widget.style().unpolish(widget)
        widget.style().polish(widget)
        widget.update()


class PropertiesPanel(QScrollArea):
    """The properties dock's content: the form of the one selected node, or a hint."""

    dialog_requested = Signal(str)

    def __init__(
        self,
        canvas: Canvas,
        skill_dir: Callable[[], Path],
        library: LibraryGetter,
        parent: QWidget | None = None,
        labels: LabelsGetter | None = None,
    ) -> None:
        super().__init__(parent)
        self.canvas, self.skill_dir, self.library = canvas, skill_dir, library
        self.labels = labels
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.form: NodeForm | None = None
        self._problems: list[Problem] = []
        self._hint()

    def _hint(self) -> None:
        hint = QLabel(
            "Select a node to edit its properties.\n\n"
            "Drag nodes from the palette, or press Tab on the canvas."
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        hint.setProperty("muted", True)
        self.form = None
        self.setWidget(hint)

    def show_node(self, node_id: str | None) -> None:
        if node_id is None or self.canvas.skill().node(node_id) is None:
            self._hint()
            return
        if self.form is not None and self.form.node_id == node_id:
            return
        self.form = NodeForm(self.canvas, node_id, self.skill_dir, self.library, labels=self.labels)
        self.form.dialog_requested.connect(self.dialog_requested)
        self.form.refresh(self.canvas.skill(), self._problems)
        self.setWidget(self.form)

    def refresh(self, skill: Skill, problems: list[Problem] | None = None) -> None:
        if problems is not None:
            self._problems = problems
        if self.form is not None:
            node = skill.node(self.form.node_id)
            if node is None:
                self._hint()
            elif self.form.type_id != node.type:  # a gRPC node switched Endpoint <-> Container
                node_id, self.form = self.form.node_id, None
                self.show_node(node_id)
            else:
                self.form.refresh(skill, self._problems)
