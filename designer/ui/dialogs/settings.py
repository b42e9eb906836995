"""The skill's settings ("Basics" and "Tags"): the form the wizard and the settings dialog share.

Messages come from the core validator, so the dialog says exactly what
``skill-designer validate`` would say, next to the field it concerns.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from designer.core.skill import Settings, Skill, Tag, validate_skill
from designer.core.skill.fields import ACCELERATIONS
from designer.ui.dialogs.fields import (
    ACCELERATION_LABELS,
    FieldRow,
    PairTable,
    fill_combo,
    section_label,
    select_data,
)
from designer.ui.icons import icon

FPS_RANGE = (1, 60)  # the validator's rule (fps-range); the spin box offers nothing else
BASICS = ("name", "fps", "acceleration", "description")
TITLES = {
    "name": "Skill name",
    "fps": "Desired frame rate (fps)",
    "acceleration": "Device acceleration",
    "description": "Description",
    "tags": "Tags",
}
HELP = {
    "name": "How the skill is listed; required.",
    "fps": "An upper bound: the camera drops frames to stay under it.",
    "acceleration": "Where the skill runs; every model and container node must support it.",
    "description": "Optional: what the skill does, for whoever deploys it.",
    "tags": "Optional name/value pairs; names must be unique.",
}


def settings_errors(settings: Settings) -> dict[str, str]:
    """Setting -> the validator's first message about it (graph problems left out)."""
    errors: dict[str, str] = {}
    for problem in validate_skill(Skill(settings=settings)):
        if problem.is_error and problem.node_id is None and problem.param in TITLES:
            errors.setdefault(problem.param, problem.message)
    return errors


class BasicsForm(QWidget):
    """Skill name, desired frame rate, device acceleration and description, in POSS's order."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Parking lot occupancy")
        self.fps = QSpinBox()
        self.fps.setRange(*FPS_RANGE)
        self.fps.setSuffix(" fps")
        self.acceleration = QComboBox()
        fill_combo(self.acceleration, ACCELERATIONS, ACCELERATION_LABELS)
        self.description = QPlainTextEdit()
        self.description.setTabChangesFocus(True)
        self.description.setFixedHeight(64)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.rows: dict[str, FieldRow] = {}
        for name, editor in (
            ("name", self.name),
            ("fps", self.fps),
            ("acceleration", self.acceleration),
            ("description", self.description),
        ):
            self.rows[name] = FieldRow(editor, HELP[name])
            self.form.addRow(TITLES[name], self.rows[name])
        self.name.textChanged.connect(self.changed)
        self.fps.valueChanged.connect(self.changed)
        self.acceleration.currentIndexChanged.connect(self.changed)
        self.description.textChanged.connect(self.changed)

    def set_values(self, settings: Settings) -> None:
        self.name.setText(settings.name)
        self.fps.setValue(settings.fps)
        select_data(self.acceleration, settings.acceleration)
        self.description.setPlainText(settings.description)

    def values(self) -> dict:
        return {
            "name": self.name.text().strip(),
            "fps": self.fps.value(),
            "acceleration": self.acceleration.currentData(),
            "description": self.description.toPlainText().strip(),
        }


class TagsEditor(PairTable):
    """Name/value tag rows; a tag's unknown fields survive an edit of its row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(("Name", "Value"), add_text="Add tag", parent=parent)
        self._originals: list[Tag] = []

    def set_tags(self, tags: list[Tag]) -> None:
        self._originals = list(tags)
        self.set_rows([(t.name, t.value) for t in tags])

    def tags(self) -> list[Tag]:
        result = []
        for index, (name, value) in enumerate(self.rows()):
            original = self._originals[index] if index < len(self._originals) else None
            if original is not None:
                result.append(original.model_copy(update={"name": name.strip(), "value": value}))
            else:
                result.append(Tag(name=name.strip(), value=value))
        return result


class SettingsEditor(QWidget):
    """Basics and Tags together, re-checked with the validator on every keystroke."""

    changed = Signal()

    def __init__(self, settings: Settings, *, with_tags: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.original = settings
        self.basics = BasicsForm()
        self.basics.set_values(settings)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(section_label("Basics"))
        layout.addWidget(self.basics)
        self.tags = TagsEditor()
        self.tags.set_tags(settings.tags)
        self.tags_row = FieldRow(self.tags, HELP["tags"])
        if with_tags:
            layout.addWidget(section_label("Tags (optional)"))
            layout.addWidget(self.tags_row)
        else:
            self.tags_row.hide()
        self.errors: dict[str, str] = {}
        self.basics.changed.connect(self._revalidate)
        self.tags.changed.connect(self._revalidate)
        self._revalidate()

    def settings(self) -> Settings:
        """The edited settings; fields this version does not know are kept."""
        return self.original.model_copy(update={**self.basics.values(), "tags": self.tags.tags()})

    def _revalidate(self) -> None:
        self.errors = settings_errors(self.settings())
        for name, row in self.basics.rows.items():
            row.set_error(self.errors.get(name))
        self.tags_row.set_error(self.errors.get("tags"))
        self.changed.emit()


class SettingsDialog(QDialog):
    """Skill settings of the open skill; OK only while they are valid."""

    def __init__(self, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Skill settings")
        self.setWindowIcon(icon("info"))
        self.editor = SettingsEditor(settings)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.editor)
        layout.addStretch(1)
        layout.addWidget(self.buttons)
        self.editor.changed.connect(self._update_ok)
        self._update_ok()
        self.resize(560, 520)

    def _update_ok(self) -> None:
        button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        button.setEnabled(not self.editor.errors)
        button.setToolTip("Fix the fields marked in red first." if self.editor.errors else "")


def edit_settings(parent: QWidget | None, settings: Settings) -> Settings | None:
    """The edited settings, or None when cancelled or nothing changed (no empty undo step)."""
    dialog = SettingsDialog(settings, parent)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        edited = dialog.editor.settings()
        return None if edited == settings else edited
    finally:
        dialog.deleteLater()
