"""One editor widget per kind of parameter, chosen from the pydantic field by ``editor_for``.

Every editor has ``value()``, ``set_value(v)`` (silent) and emits ``edited``
once per user edit (Enter, focus out, a click): one undo step each.
"""

from __future__ import annotations

import json
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from PySide6.QtCore import QStringListModel, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QCompleter,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.core.skill.fields import PLACEHOLDER_RE, Mark, field_bounds, file_types, has_mark, is_secret
from designer.ui.icons import icon


class Editor(QWidget):
    edited = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._layout = QHBoxLayout(self)
        self._layout.setContentsMargins(0, 0, 0, 0)
        self._layout.setSpacing(4)

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def focus(self) -> None:
        self.setFocus()


def _button(name: str, tip: str, parent: QWidget) -> QToolButton:
    button = QToolButton(parent)
    button.setIcon(icon(name))
    button.setToolTip(tip)
    button.setAutoRaise(True)
    return button


class TextEditor(Editor):
    def __init__(self, secret: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = QLineEdit(self)
        self._layout.addWidget(self.line)
        if secret:
            self.line.setEchoMode(QLineEdit.EchoMode.Password)
            self.line.setPlaceholderText("$param(name) keeps it out of exports")
        self.line.editingFinished.connect(self._commit)
        self._last = ""

    def _commit(self) -> None:
        if self.line.text() != self._last:
            self._last = self.line.text()
            self.edited.emit()

    def value(self) -> str:
        return self.line.text()

    def set_value(self, value: Any) -> None:
        self._last = "" if value is None else str(value)
        if self.line.text() != self._last:
            self.line.setText(self._last)

    def focus(self) -> None:
        self.line.setFocus()
        self.line.selectAll()


class PathEditor(TextEditor):
    """A path typed or picked; inside the skill's folder it is written relative to it.

    ``folder`` picks a folder; ``save`` picks a file to write (it need not exist yet);
    otherwise an existing file to read, offered with ``filters``.
    """

    def __init__(
        self,
        folder: bool,
        skill_dir: Callable[[], Path],
        filters: str = "",
        parent: QWidget | None = None,
        *,
        save: bool = False,
    ) -> None:
        super().__init__(parent=parent)
        self.folder, self.save, self.skill_dir, self.filters = folder, save, skill_dir, filters
        browse = _button("folder", "Choose a folder…" if folder else "Choose a file…", self)
        browse.clicked.connect(self._browse)
        self._layout.addWidget(browse)

    def _browse(self) -> None:
        start = str(self.skill_dir())
        if self.folder:
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        elif self.save:
            target = str(self.skill_dir() / self.value()) if self.value() else start
            chosen, _ = QFileDialog.getSaveFileName(self, "Write to file", target, self.filters)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", start, self.filters)
        if chosen:
            self.line.setText(relative_to(Path(chosen), self.skill_dir()))
            self._commit()


def relative_to(path: Path, folder: Path) -> str:
    """``path`` relative to ``folder`` when inside it (skills move with their files), else absolute."""
    try:
        return path.resolve().relative_to(folder.resolve()).as_posix()
    except ValueError:
        return str(path)


class NumberEditor(Editor):
    def __init__(self, integer: bool, low: float | None, high: float | None, parent=None) -> None:
        super().__init__(parent)
        self.spin: QSpinBox | QDoubleSpinBox
        if integer:
            self.spin = QSpinBox(self)
            limit = 2_000_000_000
            self.spin.setRange(
                int(low) if low is not None else -limit, int(high) if high is not None else limit
            )
        else:
            self.spin = QDoubleSpinBox(self)
            self.spin.setDecimals(3)
            self.spin.setSingleStep(0.05 if (high or 0) <= 1 else 1.0)
            self.spin.setRange(low if low is not None else -1e12, high if high is not None else 1e12)
        self.spin.setKeyboardTracking(False)  # typing commits on Enter or focus out
        self.spin.valueChanged.connect(lambda _: self.edited.emit())
        self._layout.addWidget(self.spin)

    def value(self) -> float | int:
        return self.spin.value()

    def set_value(self, value: Any) -> None:
        self.spin.blockSignals(True)
        if isinstance(self.spin, QSpinBox) and isinstance(value, int | float):
            self.spin.setValue(int(value))
        elif isinstance(self.spin, QDoubleSpinBox) and isinstance(value, int | float):
            self.spin.setValue(float(value))
        self.spin.blockSignals(False)

    def focus(self) -> None:
        self.spin.setFocus()


class OptionalEditor(TextEditor):
    """A value that may be left empty (auto): a number, a bool or a short list, typed as text."""

    def __init__(self, parse: Callable[[str], Any], show: Callable[[Any], str], parent=None) -> None:
        super().__init__(parent=parent)
        self.parse, self.shown = parse, show  # not ``show``: that is QWidget.show
        self.line.setPlaceholderText("auto")

    def value(self) -> Any:
        text = self.line.text().strip()
        if not text:
            return None
        try:
            return self.parse(text)
        except ValueError:
            return text  # the validator says what is wrong, in place

    def set_value(self, value: Any) -> None:
        super().set_value("" if value is None else self.shown(value))


class ChoiceEditor(Editor):
    def __init__(self, choices: list[Any], parent=None) -> None:
        super().__init__(parent)
        self.combo = QComboBox(self)
        for choice in choices:
            self.combo.addItem(_choice_text(choice), choice)
        self.combo.activated.connect(lambda _: self.edited.emit())
        self._layout.addWidget(self.combo)

    def value(self) -> Any:
        return self.combo.currentData()

    def set_value(self, value: Any) -> None:
        i = self.combo.findData(value)
        if i < 0:
            self.combo.addItem(str(value), value)  # kept, and flagged by the validator
            i = self.combo.count() - 1
        self.combo.setCurrentIndex(i)

    def focus(self) -> None:
        self.combo.setFocus()


def _choice_text(choice: Any) -> str:
    return (
        {None: "auto", True: "yes", False: "no"}.get(choice, str(choice))
        if not isinstance(choice, str)
        else choice
    )


class BoolEditor(Editor):
    def __init__(self, text: str, parent=None) -> None:
        super().__init__(parent)
        self.box = QCheckBox(text, self)
        self.box.clicked.connect(lambda *_: self.edited.emit())
        self._layout.addWidget(self.box)

    def value(self) -> bool:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.setChecked(bool(value))

    def focus(self) -> None:
        self.box.setFocus()


class LabelsEditor(Editor):
    """A list of labels (which may contain spaces): type one and press Enter; select and Delete.

    ``set_choices`` gives it the labels of the model(s) upstream: the entry completes them and
    "Pick…" lists them to tick (unknown ones stay allowed; the validator warns about them).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        column = QVBoxLayout()
        column.setSpacing(4)
        self._layout.addLayout(column)
        self._choices: tuple[str, ...] | None = ()  # set_choices(None) below: "not known"
        row = QHBoxLayout()
        row.setSpacing(4)
        self.entry = QLineEdit(self)
        self.entry.setPlaceholderText("Add a label and press Enter (empty list = all)")
        self.entry.returnPressed.connect(self._add)
        self.completer = QCompleter([], self.entry)
        self.completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.completer.activated.connect(self._completed)
        self.entry.setCompleter(self.completer)
        self.pick = QPushButton("Pick…", self)
        self.pick.setMenu(QMenu(self.pick))
        menu = self.pick.menu()
        assert menu is not None
        menu.aboutToShow.connect(self._fill_menu)
        row.addWidget(self.entry, 1)
        row.addWidget(self.pick)
        self.list = QListWidget(self)
        self.list.setFlow(QListWidget.Flow.LeftToRight)
        self.list.setWrapping(True)
        self.list.setSpacing(2)
        self.list.setMaximumHeight(72)
        self.list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.list.setToolTip("Select labels and press Delete to remove them")
        column.addLayout(row)
        column.addWidget(self.list)
        self.list.installEventFilter(self)
        self.set_choices(None)

    def set_choices(self, labels: tuple[str, ...] | None) -> None:
        """The labels the model(s) upstream have; None when they cannot be known."""
        if labels == self._choices:
            return
        self._choices = labels
        model = self.completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(list(labels or ()))
        self.pick.setEnabled(bool(labels))
        self.pick.setToolTip(
            f"Choose among the {len(labels)} labels of the model upstream"
            if labels
            else "The labels of the model upstream are not known here (a model named by file, "
            "a gRPC server, or no model before this node): type them"
        )

    def choices(self) -> tuple[str, ...] | None:
        return self._choices

    def _completed(self, label: str) -> None:
        self.entry.setText(label)
        self._add()
        QTimer.singleShot(0, self.entry.clear)  # the completer puts its text back after this

    def _fill_menu(self) -> None:
        menu = self.pick.menu()
        assert menu is not None
        menu.clear()
        chosen = set(self.value())
        for label in self._choices or ():
            action = menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(label in chosen)
            action.toggled.connect(lambda on, label=label: self._toggle(label, on))

    def _toggle(self, label: str, on: bool) -> None:
        labels = self.value()
        if on and label not in labels:
            self._append(label)
        elif not on and label in labels:
            self.list.takeItem(labels.index(label))
        else:
            return
        self.edited.emit()

    def _add(self) -> None:
        label = self.entry.text().strip()
        if label and label not in self.value():
            self._append(label)
            self.edited.emit()
        self.entry.clear()

    def _append(self, label: str) -> None:
        item = QListWidgetItem(label)
        item.setBackground(QColor(59, 120, 216, 40))
        self.list.addItem(item)

    def eventFilter(self, watched, event) -> bool:
        deleting = (
            watched is self.list
            and event.type() in (event.Type.KeyPress, event.Type.ShortcutOverride)
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
            and event.modifiers() == Qt.KeyboardModifier.NoModifier
        )
        if deleting and event.type() == event.Type.ShortcutOverride:
            event.accept()  # the key is ours, not a window shortcut's (Delete would remove the node)
            return True
        if deleting:
            chosen = self.list.selectedItems()
            for item in chosen:
                self.list.takeItem(self.list.row(item))
            if chosen:
                self.edited.emit()
            return True
        return super().eventFilter(watched, event)

    def value(self) -> list[str]:
        return [self.list.item(i).text() for i in range(self.list.count())]

    def set_value(self, value: Any) -> None:
        if value != self.value():
            self.list.clear()
            for label in value or []:
                self._append(str(label))

    def focus(self) -> None:
        self.entry.setFocus()


class JsonEditor(Editor):
    """JSON text, checked as it is typed; committed when it parses (or is empty) and focus leaves."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        column = QVBoxLayout()
        self._layout.addLayout(column)
        self.text = QPlainTextEdit(self)
        self.text.setMaximumHeight(90)
        self.text.setPlaceholderText('{"HostConfig": {"PortBindings": {"5000/tcp": [{"HostPort": "5000"}]}}}')
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        column.addWidget(self.text)
        column.addWidget(self.status)
        self.text.textChanged.connect(self._check)
        self.text.installEventFilter(self)
        self._last = ""

    def _check(self) -> bool:
        text = self.text.toPlainText().strip()
        if not text:
            self.status.setText("")
            return True
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            self.status.setText(
                f"<span style='color:#d64545'>Line {exc.lineno}, column {exc.colno}: {exc.msg}</span>"
            )
            return False
        if not isinstance(parsed, dict):
            self.status.setText("<span style='color:#d64545'>Must be a JSON object { … }</span>")
            return False
        self.status.setText("<span style='color:#2e8b57'>Valid JSON</span>")
        return True

    def eventFilter(self, watched, event) -> bool:
        if watched is self.text and event.type() == event.Type.FocusOut:
            self.commit()
        return super().eventFilter(watched, event)

    def commit(self) -> None:
        if self.value() != self._last:
            self._last = self.value()
            self.edited.emit()

    def value(self) -> str:
        return self.text.toPlainText().strip()

    def set_value(self, value: Any) -> None:
        self._last = value or ""
        if self.value() != self._last:
            self.text.blockSignals(True)
            self.text.setPlainText(self._last)
            self.text.blockSignals(False)
            self._check()

    def focus(self) -> None:
        self.text.setFocus()


class RowsEditor(Editor):
    """Rows of a small model (environment variables, zone points): a table with add and remove."""

    def __init__(self, row_model: type[BaseModel], parent=None) -> None:
        super().__init__(parent)
        self.columns = list(row_model.model_fields)
        self.numeric = {
            name for name, info in row_model.model_fields.items() if info.annotation in (int, float)
        }
        column = QVBoxLayout()
        self._layout.addLayout(column)
        self.table = QTableWidget(0, len(self.columns), self)
        self.table.setHorizontalHeaderLabels([row_model.model_fields[c].title or c for c in self.columns])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setMaximumHeight(130)
        buttons = QHBoxLayout()
        add, remove = _button("add", "Add a row", self), _button("remove", "Remove the selected rows", self)
        add.clicked.connect(self._add_row)
        remove.clicked.connect(self._remove_rows)
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch()
        column.addWidget(self.table)
        column.addLayout(buttons)
        self.table.itemChanged.connect(lambda _: self.edited.emit())

    def _add_row(self) -> None:
        self.table.blockSignals(True)
        row = self.table.rowCount()
        self.table.insertRow(row)
        for c, name in enumerate(self.columns):
            self.table.setItem(row, c, QTableWidgetItem("0" if name in self.numeric else ""))
        self.table.blockSignals(False)
        first = self.table.item(row, 0)
        if first is not None:
            self.table.editItem(first)
        self.edited.emit()

    def _remove_rows(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for row in rows:
            self.table.removeRow(row)
        if rows:
            self.edited.emit()

    def value(self) -> list[dict]:
        result = []
        for row in range(self.table.rowCount()):
            record: dict[str, float | str] = {}
            for c, name in enumerate(self.columns):
                item = self.table.item(row, c)
                text = item.text() if item else ""
                if name in self.numeric:
                    try:
                        record[name] = float(text)
                    except ValueError:
                        record[name] = text
                else:
                    record[name] = text
            result.append(record)
        return result

    def set_value(self, value: Any) -> None:
        rows = value if isinstance(value, list) else []
        if rows == self.value():
            return
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for record in rows:
            row = self.table.rowCount()
            self.table.insertRow(row)
            for c, name in enumerate(self.columns):
                cell = record.get(name, "") if isinstance(record, dict) else ""
                self.table.setItem(row, c, QTableWidgetItem("" if cell is None else str(cell)))
        self.table.blockSignals(False)

    def focus(self) -> None:
        self.table.setFocus()


# -- choosing an editor -----------------------------------------------------------------------


def _unwrap_optional(annotation: Any) -> tuple[Any, bool]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(annotation)) == 2:
            return args[0], True
    return annotation, False


def _float_list(text: str) -> list[float]:
    return [float(part) for part in text.replace(";", ",").split(",") if part.strip()]


def editor_for(name: str, info: FieldInfo, value: Any, skill_dir: Callable[[], Path]) -> Editor:
    """The widget for one parameter, from its field markers (``Mark``) and then its type; a
    ``$param(...)`` value is edited as text."""
    annotation, optional = _unwrap_optional(info.annotation)
    if isinstance(value, str) and PLACEHOLDER_RE.search(value) and annotation is not str:
        return TextEditor()
    return (
        _marked_editor(info, skill_dir)
        or _scalar_editor(name, info, annotation, optional)
        or _list_editor(annotation)
        or TextEditor(secret=is_secret(info))
    )


def _marked_editor(info: FieldInfo, skill_dir: Callable[[], Path]) -> Editor | None:
    if has_mark(info, Mark.JSON):
        return JsonEditor()
    if has_mark(info, Mark.READS):
        return PathEditor(False, skill_dir, file_types(info))
    if has_mark(info, Mark.WRITES):
        return PathEditor(False, skill_dir, file_types(info), save=True)
    if has_mark(info, Mark.WRITES_FOLDER):
        return PathEditor(True, skill_dir)
    return None


def _scalar_editor(name: str, info: FieldInfo, annotation: Any, optional: bool) -> Editor | None:
    if typing.get_origin(annotation) is Literal:
        choices = list(typing.get_args(annotation))
        return ChoiceEditor([None, *choices] if optional else choices)
    if annotation is bool:
        return ChoiceEditor([None, True, False]) if optional else BoolEditor(info.title or name)
    if annotation in (int, float):
        if optional:
            return OptionalEditor(annotation, str)
        low, high, exclusive = field_bounds(info)
        if exclusive and low is not None:  # "more than 0": the spin box starts one step above
            low = low + 1 if annotation is int else low + 0.001
        return NumberEditor(annotation is int, low, high)
    return None


def _list_editor(annotation: Any) -> Editor | None:
    if typing.get_origin(annotation) is not list:
        return None
    (item,) = typing.get_args(annotation) or (str,)
    if item is str:
        return LabelsEditor()
    if item is float:
        return OptionalEditor(_float_list, lambda v: ", ".join(str(x) for x in v))
    if isinstance(item, type) and issubclass(item, BaseModel):
        return RowsEditor(item)
    return None
