"""Small pieces the dialogs share: a field row that shows help or the validator's message,
name/value tables, and readers of the catalog's pydantic field metadata.

Titles, help texts, ranges and choices come from the parameter models, so the
dialogs never restate what the catalog already says.
"""

from __future__ import annotations

import html
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from designer.core.skill.fields import field_bounds
from designer.ui.icons import icon, state_color

ACCELERATION_LABELS = {"Intel iGPU": "Intel iGPU (EFLOW only)"}
"""How POSS names an acceleration in its drop-downs, where it differs from the stored value."""


# -- field metadata ------------------------------------------------------------------------------


def title_of(model: type[BaseModel], name: str) -> str:
    info = model.model_fields[name]
    return info.title or name.replace("_", " ").capitalize()


def help_of(model: type[BaseModel], name: str) -> str:
    return model.model_fields[name].description or ""


def choices_of(model: type[BaseModel], name: str) -> tuple[str, ...]:
    """The values of a ``Literal[...]`` field, in the order the catalog lists them."""
    annotation = model.model_fields[name].annotation
    if get_origin(annotation) is Literal:
        return tuple(str(v) for v in get_args(annotation))
    return ()


def bounds_of(model: type[BaseModel], name: str) -> tuple[float | None, float | None]:
    """(lowest, highest) allowed value from the field's ge/gt/le/lt constraints."""
    low, high, _ = field_bounds(model.model_fields[name])
    return low, high


def default_of(model: type[BaseModel], name: str) -> Any:
    info = model.model_fields[name]
    return None if info.is_required() else info.get_default(call_default_factory=True)


def acceleration_label(value: str) -> str:
    return ACCELERATION_LABELS.get(value, value)


def fill_combo(combo: QComboBox, values: tuple[str, ...] | list[str], labels: dict[str, str] | None = None):
    """Items show ``labels[value]`` (or the value) and carry the value as item data."""
    combo.blockSignals(True)
    combo.clear()
    for value in values:
        combo.addItem((labels or {}).get(value, value), value)
    combo.blockSignals(False)


def select_data(combo: QComboBox, value: Any) -> None:
    """Select the item carrying ``value``; an unknown value is added (marked), never lost."""
    index = combo.findData(value)
    if index < 0 and value not in (None, ""):
        combo.addItem(f"{value} (unknown)", value)
        index = combo.count() - 1
    combo.setCurrentIndex(max(index, 0))


def int_spin(model: type[BaseModel], name: str, *, unset: bool = False) -> QSpinBox:
    """A spin box over the field's range; ``unset`` adds a "not set" value below it."""
    low, high = bounds_of(model, name)
    spin = QSpinBox()
    low_i = int(low if low is not None else 0)
    spin.setRange(low_i - 1 if unset else low_i, int(high if high is not None else 2**31 - 1))
    if unset:
        spin.setSpecialValueText("not set")
    spin.setAccelerated(True)
    return spin


def float_spin(model: type[BaseModel], name: str, *, decimals: int = 1, step: float = 0.5) -> QDoubleSpinBox:
    """A spin box over the field's range; an exclusive lower bound (gt) starts one step above it."""
    low, high = bounds_of(model, name)
    exclusive = field_bounds(model.model_fields[name])[2]
    spin = QDoubleSpinBox()
    spin.setDecimals(decimals)
    spin.setSingleStep(step)
    bottom = float(low or 0) + (10**-decimals if exclusive else 0.0)
    spin.setRange(bottom, float(high if high is not None else 1e9))
    return spin


# -- widgets -------------------------------------------------------------------------------------


MESSAGE_LINES = 2  # the line under a field: help or the validator's message


class FieldRow(QWidget):
    """One editor with a line underneath: its help text, or the validator's message in red."""

    def __init__(self, editor: QWidget, help_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = editor
        self.help_text = help_text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 2)
        layout.setSpacing(2)
        layout.addWidget(editor)
        self.message = QLabel()
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        # The same height whatever it says (help, a message, nothing): the fields below never move
        # under the mouse while typing. Two lines; a longer message is whole in the tooltip.
        self.message.setFixedHeight(MESSAGE_LINES * self.message.fontMetrics().lineSpacing() + 2)
        self.message.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        layout.addWidget(self.message)
        if help_text:
            editor.setToolTip(help_text)
        self.set_error(None)

    @property
    def error(self) -> str | None:
        return self._error

    def set_error(self, message: str | None) -> None:
        self._error = message or None
        if self._error:
            self.message.setText(self._error)
            self.message.setStyleSheet(f"color: {state_color('error').name()};")
        else:
            self.message.setText(self.help_text)
            self.message.setStyleSheet("color: palette(placeholder-text);")
        self.message.setToolTip(self.message.text())


def section_label(text: str) -> QLabel:
    """A bold heading between groups of fields (POSS's "Container info", "Constraints", ...)."""
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setContentsMargins(0, 8, 0, 2)
    return label


class PairTable(QWidget):
    """Editable name/value rows with add and remove buttons (tags, environment variables)."""

    changed = Signal()

    def __init__(
        self,
        headers: tuple[str, str] = ("Name", "Value"),
        *,
        add_text: str = "Add",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, 2)
        self.table.setHorizontalHeaderLabels(list(headers))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(96)
        self.table.setMaximumHeight(150)
        self.table.itemChanged.connect(lambda _item: self.changed.emit())
        self.add_button = QToolButton()
        self.add_button.setIcon(icon("add"))
        self.add_button.setText(add_text)
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_button.clicked.connect(self._add_clicked)
        self.remove_button = QToolButton()
        self.remove_button.setIcon(icon("remove"))
        self.remove_button.setText("Remove")
        self.remove_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.remove_button.clicked.connect(self.remove_selected)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)

    def rows(self) -> list[tuple[str, str]]:
        """Every row as typed; rows left wholly blank are skipped."""
        result = []
        for row in range(self.table.rowCount()):
            cells = [self.table.item(row, col) for col in (0, 1)]
            name, value = (c.text() if c is not None else "" for c in cells)
            if name.strip() or value.strip():
                result.append((name, value))
        return result

    def set_rows(self, rows: list[tuple[str, str]]) -> None:
        self.table.blockSignals(True)
        self.table.setRowCount(0)
        for name, value in rows:
            self._append(name, value)
        self.table.blockSignals(False)
        self.changed.emit()

    def add_row(self, name: str = "", value: str = "") -> int:
        row = self._append(name, value)
        self.changed.emit()
        return row

    def remove_selected(self) -> None:
        rows = sorted({index.row() for index in self.table.selectedIndexes()}, reverse=True)
        if not rows and self.table.currentRow() >= 0:
            rows = [self.table.currentRow()]
        for row in rows:
            self.table.removeRow(row)
        self.changed.emit()

    def _add_clicked(self) -> None:
        row = self.add_row()
        self.table.setCurrentCell(row, 0)
        first = self.table.item(row, 0)
        if first is not None:
            self.table.editItem(first)

    def _append(self, name: str, value: str) -> int:
        row = self.table.rowCount()
        self.table.insertRow(row)
        self.table.setItem(row, 0, QTableWidgetItem(name))
        self.table.setItem(row, 1, QTableWidgetItem(value))
        return row


def problem_list_html(problems: list) -> str:
    """Problems as an HTML list with severity colours (the review pages)."""
    if not problems:
        return f"<span style='color:{state_color('ok').name()}'>No problems found.</span>"
    items = []
    for p in problems:
        colour = state_color("error" if p.is_error else "warning").name()
        where = "" if p.node_id is None else f" <i>({html.escape(p.located())})</i>"
        items.append(
            f"<li><span style='color:{colour}'><b>{'Error' if p.is_error else 'Warning'}</b></span> "
            f"{html.escape(p.message)}{where}</li>"
        )
    return "<ul style='margin-left:-20px'>" + "".join(items) + "</ul>"
