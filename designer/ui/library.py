"""The model library page ("Your added models") and the Add external model wizard.

Everything that touches the library (listing, adding, removing, verifying) runs
on a worker through ``designer.ui.workers``: the registry is a file, adding
downloads, inspects and times a model, and the library module itself pulls in
onnx and the Azure SDK, which the window must not pay for at start.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QBoxLayout,
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from designer.ui import workers
from designer.ui.dialogs.fields import FieldRow, PairTable, section_label
from designer.ui.icons import icon, state_color
from designer.ui.session import LibraryGetter

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary
    from designer.core.models.registry import ModelEntry
    from designer.ui.dialogs.optimize import NodeEditor
    from designer.ui.session import Session

UNAVAILABLE = (
    "The model library could not be opened (see the output for why); check that the user data "
    "folder (or $SKILL_DESIGNER_DATA) is writable."
)
TASK_LABELS = {"detection": "Object detection", "classification": "Classification"}
COLUMNS = ("Name", "Type", "Labels", "Layout", "Size", "Cost")  # the format (ONNX) is in Details


# -- formatting ----------------------------------------------------------------------------------


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    size: float = n
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _ms(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.1f} ms"


def _labels_text(labels: list[str], limit: int = 3) -> str:
    if not labels:
        return "no labels"
    head = ", ".join(labels[:limit]) + (", …" if len(labels) > limit else "")
    return f"{len(labels)} label{'s' if len(labels) != 1 else ''} ({head})"


def model_summary(entry: ModelEntry) -> str:
    """One line for a model picker: type, labels, output layout and measured cost per frame."""
    return (
        f"{TASK_LABELS.get(entry.type, entry.type)} · {_labels_text(entry.labels)} · "
        f"layout {entry.info.layout.kind} · {_ms(entry.inference_ms)} per frame (CPU, this machine)"
    )


def model_details(entry: ModelEntry) -> list[tuple[str, str]]:
    """What ``skill-designer models show`` prints, as (field, value) rows."""
    info, p = entry.info, entry.info.preprocess
    rows = [
        ("Id", entry.id),
        ("Name", entry.name),
        ("Type", TASK_LABELS.get(entry.type, entry.type)),
        ("Format", entry.format.upper()),
        ("Description", entry.description or "-"),
        ("Tags", ", ".join(f"{k} = {v}" for k, v in entry.tags.items()) or "-"),
        ("Output layout", info.layout.kind),
        ("Opset", str(info.opset)),
        ("Inputs", "; ".join(f"{t.name} {t.shape} {t.dtype}" for t in info.inputs)),
        ("Outputs", "; ".join(f"{t.name} {t.shape} {t.dtype}" for t in info.outputs)),
        ("Pre-processing", f"{p.width}x{p.height} {p.color}, {p.resize}, scale {p.scale:.6g}"),
        ("Classes", str(info.num_classes if info.num_classes is not None else "-")),
        ("Labels", f"{len(info.labels)} from {info.labels_source}: {', '.join(info.labels) or '-'}"),
        ("Inference", f"{_ms(entry.inference_ms)} on a blank frame (CPU, this machine)"),
        ("Accelerations", ", ".join(entry.accelerations) or "-"),
        ("Model file", f"{entry.model_file.source.describe()} ({_size(entry.model_file.size)})"),
        ("Label file", entry.labels_file.source.describe() if entry.labels_file else "-"),
        ("Added", entry.added_at.isoformat(timespec="seconds")),
    ]
    return rows


# -- change notices -------------------------------------------------------------------------------


class LibraryEvents(QObject):
    """One place that hears about added and removed models, so every model picker and the
    library page refresh, whoever made the change."""

    models_changed = Signal()


_events: LibraryEvents | None = None


def library_events() -> LibraryEvents:
    global _events
    if _events is None:
        _events = LibraryEvents()
    return _events


# -- the page ------------------------------------------------------------------------------------


class ModelLibraryWidget(QWidget):
    """ "Your added models": list, add, remove, verify and show details, all off the GUI thread."""

    models_changed = Signal()
    model_added = Signal(str)

    def __init__(
        self,
        library_getter: LibraryGetter,
        parent: QWidget | None = None,
        *,
        session: Session | None = None,
        editor: NodeEditor | None = None,
    ) -> None:
        """``session`` and ``editor`` (the canvas) let the page offer the skill's camera clip for
        optimizing and switch the skill's model nodes between an original and its optimized form."""
        super().__init__(parent)
        self._library_getter = library_getter
        self._session = session
        self._editor = editor
        self._library: ModelLibrary | None = None
        self.entries: list[ModelEntry] = []
        self._details: list[QDialog] = []
        self.loading = False
        self.removed_message = ""
        self.select_when_listed: str | None = None

        title = QLabel("Your added models")
        font = title.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        title.setFont(font)

        def tool(name: str, text: str, slot, tip: str) -> QToolButton:
            button = QToolButton()
            button.setIcon(icon(name))
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(not text)
            style = (
                Qt.ToolButtonStyle.ToolButtonTextBesideIcon if text else Qt.ToolButtonStyle.ToolButtonIconOnly
            )
            button.setToolButtonStyle(style)
            button.clicked.connect(slot)
            return button

        # one short row of buttons, so the page fits a narrow dock
        self.add_button = tool(
            "add", "Add external model…", self.add, "Add an ONNX model from a file or a blob"
        )
        self.remove_button = tool("remove", "", self.remove_selected, "Remove the selected model")
        self.verify_button = tool("test", "", self.verify, "Verify: re-hash every cached model file")
        self.details_button = tool("info", "", self.show_details, "Details of the selected model")
        self.check_button = tool(
            "test",
            "",
            self.check_selected,
            "Check the selected model: its pre-processing (editable) and a try on a picture",
        )
        self.check_button.setIcon(icon("frame"))
        self.refresh_button = tool("refresh", "", self.reload, "Read the library again")
        self.optimize_button = tool(
            "run",
            "",
            self.optimize_selected,
            "Optimize for device…: an INT8, graph-optimised or float16 form of the selected model, "
            "calibrated on the skill's own clip and checked against the original",
        )
        self.optimize_button.setAccessibleName("Optimize for device…")
        self.use_button = tool(
            "refresh",
            "",
            self.use_selected,
            "Use the selected model in the skill: its nodes using the original (or another "
            "optimized form of it) switch to this one, as one undoable change",
        )
        self.use_button.setAccessibleName("Use in skill")
        self.use_button.setIcon(icon("model"))
        self.use_button.setVisible(session is not None and editor is not None)
        bar = QHBoxLayout()
        bar.addWidget(self.add_button)
        bar.addStretch(1)
        for button in (
            self.optimize_button,
            self.use_button,
            self.check_button,
            self.remove_button,
            self.verify_button,
            self.details_button,
            self.refresh_button,
        ):
            bar.addWidget(button)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(list(COLUMNS))
        header = self.table.horizontalHeader()
        # The name takes what the other columns leave (elided, full in its tooltip): every column
        # stays in view at the dock's default width.
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.setMinimumSectionSize(24)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.itemDoubleClicked.connect(lambda _item: self.show_details())

        self.empty = QLabel(
            "No models yet. Add your own ONNX detector or classifier with “Add external model…”."
        )
        self.empty.setWordWrap(True)
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text); padding: 16px;")
        # an optimized model next to its original: cost, size and agreement side by side
        self.comparison = QLabel()
        self.comparison.setObjectName("comparison")
        self.comparison.setTextFormat(Qt.TextFormat.RichText)
        self.comparison.setWordWrap(True)
        self.comparison.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.comparison.setVisible(False)
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.addWidget(title)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.comparison)
        layout.addWidget(self.status)
        self._update_buttons()
        library_events().models_changed.connect(self.reload)
        self._stale = True  # read when first shown: opening the library must not slow the start

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self._stale:
            self.reload()

    # -- reading -------------------------------------------------------------------------------

    def library(self) -> ModelLibrary | None:
        """The library once the first listing made it (None before)."""
        return self._library

    def selected_id(self) -> str | None:
        row = self.table.currentRow()
        if row < 0 or not self.table.selectionModel().isRowSelected(row, self.table.rootIndex()):
            return None
        item = self.table.item(row, 0)
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select(self, model_id: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == model_id:
                self.table.selectRow(row)
                return

    def reload(self) -> None:
        """Read the library again (on a worker); while hidden, only note that it is out of date."""
        if not self.isVisible():
            self._stale = True
            return
        self._stale = False
        self.loading = True
        self.status.setText("Reading the model library…")
        self.status.setStyleSheet("")
        self._run(self._list, on_done=self._listed)

    def _list(self) -> tuple[ModelLibrary, list[ModelEntry]]:
        library = self._library if self._library is not None else self._library_getter()
        if library is None:
            raise RuntimeError(UNAVAILABLE)
        return library, library.list()

    def _listed(self, result: tuple[ModelLibrary, list[ModelEntry]]) -> None:
        self._library, self.entries = result
        self.loading = False
        selected = self.selected_id()
        self.table.setRowCount(0)
        for entry in self.entries:
            row = self.table.rowCount()
            self.table.insertRow(row)
            cells = (
                entry.name,
                "Classifier" if entry.type == "classification" else "Detector",
                str(len(entry.labels)),
                entry.info.layout.kind,
                _size(entry.model_file.size),
                "-"
                if entry.inference_ms is None
                else f"{entry.inference_ms:.{1 if entry.inference_ms < 10 else 0}f} ms",
            )
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setData(Qt.ItemDataRole.UserRole, entry.id)
                    item.setIcon(icon("model"))
                item.setToolTip(
                    f"{entry.id}: {model_summary(entry)}\n{entry.description}".strip()
                    + f"\nfrom {entry.model_file.source.describe()}"
                )
                if col in (2, 4, 5):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(row, col, item)
        self.table.setVisible(bool(self.entries))
        self.empty.setVisible(not self.entries)
        count = len(self.entries)
        status = f"{count} model{'s' if count != 1 else ''} in {self._library.data}"
        self.status.setText(" ".join(filter(None, (self.removed_message, status))))
        self.removed_message = ""
        selected = self.select_when_listed or selected
        self.select_when_listed = None
        if selected:
            self.select(selected)
        self._update_buttons()

    # -- actions -------------------------------------------------------------------------------

    def add(self) -> str | None:
        if self._library is None:
            self._library = self._library_getter()
        model_id = add_model(self, self._library)  # the library events make this page reload
        if model_id:
            self.select_when_listed = model_id
            self.model_added.emit(model_id)
            self.models_changed.emit()
        return model_id

    def remove_selected(self) -> None:
        model_id = self.selected_id()
        if model_id is None:
            return
        answer = QMessageBox.question(
            self,
            "Remove model",
            f"Remove {model_id} from the library? Skills that use it will show an error until "
            "you pick another model.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        library = self._library
        if library is None:
            return
        self.status.setText(f"Removing {model_id}…")
        self._run(library.remove, model_id, on_done=self._removed)

    def _removed(self, entry: ModelEntry) -> None:
        self.removed_message = f"Removed {entry.id} ({entry.name})."
        self.models_changed.emit()
        library_events().models_changed.emit()  # reloads this page and every model picker

    def verify(self) -> None:
        if self._library is None:
            return
        self.status.setText("Verifying the cached files…")
        self.status.setStyleSheet("")
        self._run(self._library.verify, on_done=self._verified)

    def _verified(self, problems: list) -> None:
        if problems:
            self.status.setStyleSheet(f"color: {state_color('error').name()};")
            self.status.setText("\n".join(p.message() for p in problems))
        else:
            self.status.setStyleSheet(f"color: {state_color('ok').name()};")
            count = len(self.entries)
            self.status.setText(
                f"All cached files of {count} model{'s' if count != 1 else ''} match their SHA-256."
            )

    def show_details(self) -> QDialog | None:
        model_id = self.selected_id()
        entry = next((e for e in self.entries if e.id == model_id), None)
        if entry is None:
            return None
        dialog = ModelDetailsDialog(entry, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda: self._details.remove(dialog) if dialog in self._details else None)
        self._details.append(dialog)
        dialog.show()
        return dialog

    def check_selected(self) -> QDialog | None:
        """The selected model's inspection, editable pre-processing and Try it."""
        from designer.ui.dialogs.model_check import ModelCheckDialog

        model_id = self.selected_id()
        entry = next((e for e in self.entries if e.id == model_id), None)
        if entry is None or self._library is None:
            return None
        dialog = ModelCheckDialog(self._library, entry, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.panel.changed.connect(lambda _entry: library_events().models_changed.emit())
        dialog.destroyed.connect(lambda: self._details.remove(dialog) if dialog in self._details else None)
        self._details.append(dialog)
        dialog.show()
        return dialog

    def optimize_selected(self) -> QDialog | None:
        """Optimize for device…: the dialog for the selected model, with the skill's clip offered."""
        from designer.ui.dialogs.optimize import OptimizeDialog, camera_clip

        entry = self._selected_entry()
        if entry is None or self._library is None:
            return None
        if entry.optimization is not None:  # optimize the original, not a form of it
            source_id = entry.optimization.source_id
            source = next((e for e in self.entries if e.id == source_id), None)
            if source is None:
                self._failed(f"{entry.id} is an optimized form of {source_id}, which is gone")
                return None
            entry = source
        clip = None
        if self._session is not None:
            clip = camera_clip(self._session.skill(), self._session.skill_dir())
        dialog = OptimizeDialog(self._library, entry, clip=clip, parent=self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.optimized.connect(self._optimized)
        dialog.destroyed.connect(lambda: self._details.remove(dialog) if dialog in self._details else None)
        self._details.append(dialog)
        dialog.show()
        return dialog

    def _optimized(self, entry: object) -> None:
        self.select_when_listed = getattr(entry, "id", None)
        self.models_changed.emit()
        library_events().models_changed.emit()

    def use_selected(self) -> list[str]:
        """Switch the skill's nodes from the selected model's original or other forms to it."""
        from designer.ui.dialogs.optimize import switch_model_nodes

        entry = self._selected_entry()
        if entry is None or self._session is None or self._editor is None:
            return []
        changed = switch_model_nodes(self._editor, self._session.skill(), entry.id, self._family(entry))
        if changed:
            self.status.setStyleSheet("")
            self.status.setText(
                f"{len(changed)} node(s) now use {entry.id} (Ctrl+Z to undo): {', '.join(changed)}"
            )
        self._update_buttons()
        return changed

    def _family(self, entry: ModelEntry) -> set[str]:
        """The original of ``entry`` and all its optimized forms (``entry`` itself left out)."""
        root = entry.optimization.source_id if entry.optimization is not None else entry.id
        forms = {e.id for e in self.entries if e.optimization and e.optimization.source_id == root}
        return ({root} | forms) - {entry.id}

    def _selected_entry(self) -> ModelEntry | None:
        model_id = self.selected_id()
        return next((e for e in self.entries if e.id == model_id), None)

    def _show_comparison(self) -> None:
        from designer.ui.dialogs.optimize import comparison_html

        entry = self._selected_entry()
        shown = []
        if entry is not None and entry.optimization is not None:
            source = next((e for e in self.entries if e.id == entry.optimization.source_id), None)
            source_name = source.name if source else entry.optimization.source_id
            shown.append(comparison_html(entry.optimization, source_name, entry.name))
        elif entry is not None:
            for form in self.entries:
                if form.optimization is not None and form.optimization.source_id == entry.id:
                    shown.append(comparison_html(form.optimization, entry.name, form.name))
        self.comparison.setText("<br>".join(shown))
        self.comparison.setVisible(bool(shown))

    def _switchable(self) -> bool:
        from designer.core.models.optimize_use import model_uses

        entry = self._selected_entry()
        if entry is None or self._session is None or self._editor is None:
            return False
        family = self._family(entry)
        return bool(family) and bool(model_uses(self._session.skill(), family))

    # -- helpers -------------------------------------------------------------------------------

    def _run(self, fn: Callable[..., Any], *args: Any, on_done: Callable[[Any], None]) -> workers.Task:
        task = workers.submit(fn, *args, on_done=on_done, on_error=self._failed)
        for button in (self.remove_button, self.verify_button, self.refresh_button):
            button.setEnabled(False)
        task.finished.connect(self._update_buttons)
        return task

    def _failed(self, message: str) -> None:
        self.loading = False
        self.status.setStyleSheet(f"color: {state_color('error').name()};")
        self.status.setText(message)

    def _update_buttons(self) -> None:
        chosen = self.selected_id() is not None
        self.remove_button.setEnabled(chosen)
        self.details_button.setEnabled(chosen)
        self.check_button.setEnabled(chosen and self._library is not None)
        self.optimize_button.setEnabled(chosen and self._library is not None)
        self.use_button.setEnabled(self._switchable())
        self._show_comparison()
        self.verify_button.setEnabled(bool(self.entries))
        self.refresh_button.setEnabled(True)


class ModelDetailsDialog(QDialog):
    """Everything the library knows about one model (inspection, cost, source)."""

    def __init__(self, entry: ModelEntry, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Model {entry.name}")
        self.setWindowIcon(icon("model"))
        self.text = QLabel(
            "<table cellspacing='3'>"
            + "".join(
                f"<tr><td style='padding-right:12px' valign='top'><b>{html.escape(k)}</b></td>"
                f"<td>{html.escape(v)}</td></tr>"
                for k, v in model_details(entry)
            )
            + "</table>"
        )
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        # a model with 1,000 labels makes a long page: it scrolls, the Close button stays in view
        self.scroll_area = QScrollArea()  # not ``scroll``: that is QWidget.scroll
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setWidget(self.text)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scroll_area, 1)
        layout.addWidget(buttons)
        self.resize(620, 460)


# -- the Add external model wizard ---------------------------------------------------------------

LOCAL, CONNECTION, URL = "local", "connection", "url"


@dataclass
class AddRequest:
    """What the wizard collected; ``sources()`` turns it into the library's file specs."""

    name: str
    task: str
    description: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    source: str = LOCAL
    model_path: str = ""
    labels_path: str = ""
    connection_string: str = field(default="", repr=False)
    container: str = ""
    model_blob: str = ""
    labels_blob: str = ""
    model_url: str = field(default="", repr=False)
    labels_ref: str = ""

    def sources(self) -> tuple[Any, Any]:
        """(model, labels) as the library takes them: paths or BlobAccess (built on the worker)."""
        if self.source == LOCAL:
            return Path(self.model_path).expanduser(), (
                Path(self.labels_path).expanduser() if self.labels_path.strip() else None
            )
        from designer.core.models.blob import BlobAccess, split_blob_url

        if self.source == CONNECTION:
            model = BlobAccess.from_connection_string(
                self.connection_string.strip(), self.container.strip(), self.model_blob.strip().lstrip("/")
            )
            labels = model.sibling(self.labels_blob.strip().lstrip("/")) if self.labels_blob.strip() else None
            return model, labels
        model = BlobAccess.from_url(self.model_url.strip())
        ref = self.labels_ref.strip()
        if not ref:
            return model, None
        if ref.startswith(("http://", "https://")):
            account_url, container, blob, query = split_blob_url(ref)
            if not query and account_url == model.account_url:  # same account: same credential
                return model, BlobAccess(account_url, container, blob, model.credential)
            return model, BlobAccess.from_url(ref)
        return model, model.sibling(ref.lstrip("/"))

    def where(self) -> str:
        """Where the model comes from, for the review page (no credentials)."""
        if self.source == LOCAL:
            return self.model_path
        if self.source == CONNECTION:
            return f"container {self.container}, blob {self.model_blob} (connection string)"
        return self.model_url.split("?", 1)[0] + (" (SAS)" if "?" in self.model_url else " (Azure sign-in)")


def add_to_library(
    library: ModelLibrary,
    request: AddRequest,
    *,
    progress: Callable[[float, str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ModelEntry:
    """Add the model; downloads report progress and stop at the next chunk once cancelled.

    A cancel that arrives after the library took the model removes it again, so a
    cancelled add never leaves a model behind.
    """
    cancelled = cancelled or (lambda: False)

    def hook(what: str, done: int, total: int) -> None:
        if cancelled():
            raise workers.Cancelled()
        if progress is None:
            return
        if total and done >= total:
            progress(-1.0, f"{what}: downloaded; checking the model…")
        else:
            fraction = done / total if total else 0.0
            progress(fraction, f"{what}: {_size(done)} of {_size(total)}")

    def retried(message: str) -> None:
        if progress is not None:
            progress(-1.0, f"Connection problem, retrying: {message}")

    model, labels = request.sources()
    if progress is not None:
        progress(
            -1.0,
            "Inspecting the model and timing one inference…"
            if request.source == LOCAL
            else "Connecting to the storage account…",
        )
    previous_retry = library.on_retry
    library.on_retry = retried
    try:
        entry = library.add(
            request.name,
            request.task,
            model,
            labels,
            description=request.description,
            tags=request.tags,
            progress=hook,
        )
    finally:
        library.on_retry = previous_retry
    if cancelled():
        library.remove(entry.id)
        raise workers.Cancelled()
    return entry


class _ModelBasicsPage(QWizardPage):
    def __init__(self, wizard: AddExternalModelWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Basics")
        self.setSubTitle("Name the model and say what it does.")
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Forklift detector")
        self.task = QComboBox()
        for value, label in TASK_LABELS.items():
            self.task.addItem(label, value)
        self.format = QComboBox()
        self.format.addItem("ONNX", "onnx")
        self.format.setEnabled(False)
        self.description = QPlainTextEdit()
        self.description.setTabChangesFocus(True)
        self.description.setFixedHeight(64)
        form = QFormLayout(self)
        self.rows = {
            "name": FieldRow(self.name, "Required; the model's id in skills is made from it."),
            "task": FieldRow(self.task, "Detectors find boxes; classifiers label a frame or a box's crop."),
            "format": FieldRow(self.format, "Only ONNX models run in the engine."),
            "description": FieldRow(self.description, "Optional."),
        }
        for title, key in (
            ("Model name", "name"),
            ("Type", "task"),
            ("Model format", "format"),
            ("Description", "description"),
        ):
            form.addRow(title, self.rows[key])
        self.name.textChanged.connect(self.revalidate)
        self.revalidate()

    def model_id(self) -> str | None:
        """The id the library will give the model; None before the library was read."""
        import sys

        registry = sys.modules.get("designer.core.models.registry")  # loaded by the listing
        if registry is None:
            return None
        try:
            return registry.slugify(self.name.text())
        except Exception:  # LibraryError: no letters or digits
            return ""

    def revalidate(self) -> None:
        error = None
        name = self.name.text().strip()
        model_id = self.model_id()
        if not name:
            error = "Give the model a name."
        elif model_id == "":
            error = "The name needs at least one ASCII letter or digit (the model's id is made from it)."
        elif model_id and model_id in self._wizard.existing_ids:
            error = f"The library already has a model with the id {model_id!r}; choose another name."
        hint = (
            f"Its id will be {model_id}."
            if model_id
            else "Required; the model's id in skills is made from it."
        )
        self.rows["name"].help_text = hint
        self.rows["name"].set_error(error)
        self.error = error
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.error is None


class _ModelFilesPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Model files")
        self.setSubTitle("The ONNX model and, optionally, its label file (one label per line).")
        self.local_radio = QRadioButton("Local files")
        self.blob_radio = QRadioButton("Azure Blob storage")
        self.local_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.local_radio)
        group.addButton(self.blob_radio)
        radios = QHBoxLayout()
        radios.addWidget(self.local_radio)
        radios.addWidget(self.blob_radio)
        radios.addStretch(1)

        # local files
        self.model_path = QLineEdit()
        self.model_path.setPlaceholderText("/path/to/model.onnx")
        self.labels_path = QLineEdit()
        self.labels_path.setPlaceholderText("optional: /path/to/labels.txt")
        local = QWidget()
        local_form = QFormLayout(local)
        local_form.setContentsMargins(0, 0, 0, 0)
        self.rows: dict[str, FieldRow] = {}
        self.rows["model_path"] = FieldRow(
            self._with_browse(self.model_path, "ONNX models (*.onnx);;All files (*)"), "The .onnx file."
        )
        self.rows["labels_path"] = FieldRow(
            self._with_browse(self.labels_path, "Label files (*.txt);;All files (*)"),
            "Optional. Empty: labels come from the model's metadata.",
        )
        local_form.addRow("Model file", self.rows["model_path"])
        local_form.addRow("Label file", self.rows["labels_path"])

        # blob storage
        self.auth = QComboBox()
        self.auth.addItem("Connection string", CONNECTION)
        self.auth.addItem("Blob URL (SAS token, or Azure sign-in)", URL)
        self.connection_string = QLineEdit()
        self.connection_string.setEchoMode(QLineEdit.EchoMode.Password)
        self.connection_string.setPlaceholderText("DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…")
        self.container = QLineEdit()
        self.container.setPlaceholderText("models")
        self.model_blob = QLineEdit()
        self.model_blob.setPlaceholderText("detectors/forklift.onnx")
        self.labels_blob = QLineEdit()
        self.labels_blob.setPlaceholderText("optional: detectors/forklift.labels.txt")
        self.model_url = QLineEdit()
        self.model_url.setPlaceholderText("https://ACCOUNT.blob.core.windows.net/CONTAINER/model.onnx?SAS")
        self.labels_ref = QLineEdit()
        self.labels_ref.setPlaceholderText("optional: a blob URL, or a path in the model's container")
        by_connection = QWidget()
        cs_form = QFormLayout(by_connection)
        cs_form.setContentsMargins(0, 0, 0, 0)
        for key, title, editor, help_text in (
            (
                "connection_string",
                "Connection string",
                self.connection_string,
                "From the storage account's 'Access keys' page; never saved.",
            ),
            ("container", "Container", self.container, ""),
            ("model_blob", "Model blob", self.model_blob, "The .onnx blob's path in the container."),
            ("labels_blob", "Label blob", self.labels_blob, "Optional, in the same container."),
        ):
            self.rows[key] = FieldRow(editor, help_text)
            cs_form.addRow(title, self.rows[key])
        by_url = QWidget()
        url_form = QFormLayout(by_url)
        url_form.setContentsMargins(0, 0, 0, 0)
        for key, title, editor, help_text in (
            (
                "model_url",
                "Model blob URL",
                self.model_url,
                "With a SAS token; without one, your Azure sign-in (az login) is used. Never saved.",
            ),
            ("labels_ref", "Label file", self.labels_ref, "Optional."),
        ):
            self.rows[key] = FieldRow(editor, help_text)
            url_form.addRow(title, self.rows[key])
        self.auth_stack = QStackedWidget()
        self.auth_stack.addWidget(by_connection)
        self.auth_stack.addWidget(by_url)
        blob = QWidget()
        blob_layout = QVBoxLayout(blob)
        blob_layout.setContentsMargins(0, 0, 0, 0)
        auth_form = QFormLayout()
        auth_form.addRow("Authentication", self.auth)
        blob_layout.addLayout(auth_form)
        blob_layout.addWidget(self.auth_stack)

        self.source_stack = QStackedWidget()
        self.source_stack.addWidget(local)
        self.source_stack.addWidget(blob)
        layout = QVBoxLayout(self)
        layout.addLayout(radios)
        layout.addWidget(self.source_stack)
        layout.addStretch(1)

        self.local_radio.toggled.connect(self._source_changed)
        self.auth.currentIndexChanged.connect(self._source_changed)
        for editor in (
            self.model_path,
            self.labels_path,
            self.connection_string,
            self.container,
            self.model_blob,
            self.labels_blob,
            self.model_url,
            self.labels_ref,
        ):
            editor.textChanged.connect(self.revalidate)
        self.errors: dict[str, str] = {}
        self._source_changed()

    def _with_browse(self, edit: QLineEdit, filters: str) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(edit, 1)
        browse = QPushButton(icon("folder"), "Browse…")

        def pick() -> None:
            path, _ = QFileDialog.getOpenFileName(self, "Choose a file", edit.text(), filters)
            if path:
                edit.setText(path)

        browse.clicked.connect(pick)
        row.addWidget(browse)
        return box

    def source(self) -> str:
        return LOCAL if self.local_radio.isChecked() else self.auth.currentData()

    def _source_changed(self) -> None:
        self.source_stack.setCurrentIndex(0 if self.local_radio.isChecked() else 1)
        self.auth_stack.setCurrentIndex(0 if self.auth.currentData() == CONNECTION else 1)
        self.revalidate()

    def revalidate(self) -> None:
        """Shape checks only (no I/O here); the library reports what it finds when it adds."""
        errors: dict[str, str] = {}
        source = self.source()
        if source == LOCAL:
            model = self.model_path.text().strip()
            if not model:
                errors["model_path"] = "Choose the model file."
            elif not model.lower().endswith(".onnx"):
                errors["model_path"] = "The model file should match the model format: a .onnx file."
            elif not Path(model).expanduser().is_file():
                errors["model_path"] = f"No such file: {model}"
            labels = self.labels_path.text().strip()
            if labels and not Path(labels).expanduser().is_file():
                errors["labels_path"] = f"No such file: {labels}"
        elif source == CONNECTION:
            if "AccountName=" not in self.connection_string.text() and "UseDevelopmentStorage" not in (
                self.connection_string.text()
            ):
                errors["connection_string"] = "Paste the storage account's connection string."
            if not self.container.text().strip():
                errors["container"] = "Name the blob container."
            blob = self.model_blob.text().strip()
            if not blob:
                errors["model_blob"] = "Name the model's blob."
            elif not blob.lower().endswith(".onnx"):
                errors["model_blob"] = "The model file should match the model format: a .onnx blob."
        else:
            url = self.model_url.text().strip()
            if not url.startswith(("https://", "http://")):
                errors["model_url"] = "Paste the model blob's URL (https://…/container/model.onnx?SAS)."
            elif not url.split("?", 1)[0].lower().endswith(".onnx"):
                errors["model_url"] = "The model file should match the model format: a .onnx blob."
        self.errors = errors
        for key, row in self.rows.items():
            row.set_error(errors.get(key))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.errors


class _ModelTagsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Tags (optional)")
        self.setSubTitle("Name/value pairs kept with the model, e.g. dataset = warehouse-2024.")
        self.tags = PairTable(("Name", "Value"), add_text="Add tag")
        self.row = FieldRow(self.tags, "Names must be unique and not empty.")
        layout = QVBoxLayout(self)
        layout.addWidget(self.row)
        layout.addStretch(1)
        self.error: str | None = None
        self.tags.changed.connect(self.revalidate)

    def values(self) -> dict[str, str]:
        return {name.strip(): value for name, value in self.tags.rows()}

    def revalidate(self) -> None:
        names = [name.strip() for name, _ in self.tags.rows()]
        dupes = sorted({n for n in names if n and names.count(n) > 1})
        self.error = (
            "Every tag needs a name."
            if any(not n for n in names)
            else f"Tag {dupes[0]!r} appears twice."
            if dupes
            else None
        )
        self.row.set_error(self.error)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.error is None


class _ModelReviewPage(QWizardPage):
    """The summary; Create runs the add on a worker with a progress bar and Cancel."""

    def __init__(self, wizard: AddExternalModelWizard) -> None:
        super().__init__()
        self._wizard = wizard
        self.setTitle("Review + Create")
        self.setSubTitle("Creating downloads (if needed), inspects and times the model once.")
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QPushButton(icon("stop"), "Cancel")
        self.cancel_button.setToolTip("Stop the download; nothing is added")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        bar = QHBoxLayout()
        bar.addWidget(self.progress, 1)
        bar.addWidget(self.cancel_button)
        self.status = QLabel()
        self.status.setObjectName("status")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addStretch(1)
        self.progress_title = section_label("Progress")
        self.progress_title.hide()
        layout.addWidget(self.progress_title)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        self.task: workers.Task | None = None
        self.entry: ModelEntry | None = None
        self.check: Any = None  # the ModelCheckPanel, once the model is added
        self.fractions: list[float] = []  # what the bar showed, for whoever watches it

    @property
    def running(self) -> bool:
        return self.task is not None and self.task.running

    def initializePage(self) -> None:
        request = self._wizard.request()
        rows = [
            ("Model name", request.name),
            ("Type", TASK_LABELS[request.task]),
            ("Model format", "ONNX"),
            ("Description", request.description or "-"),
            ("Model file", request.where()),
            (
                "Label file",
                (
                    request.labels_path
                    if request.source == LOCAL
                    else request.labels_blob
                    if request.source == CONNECTION
                    else request.labels_ref
                )
                or "from the model's metadata",
            ),
            ("Tags", ", ".join(f"{k} = {v}" for k, v in request.tags.items()) or "-"),
        ]
        self.summary.setText(
            "<table cellspacing='4'>"
            + "".join(
                f"<tr><td style='padding-right:16px'><b>{k}</b></td><td>{html.escape(v)}</td></tr>"
                for k, v in rows
            )
            + "</table>"
        )
        self.status.clear()
        self.progress.hide()

    def validatePage(self) -> bool:
        """Create: start the add; the wizard closes itself when the library took the model."""
        if self.entry is not None:
            return True
        if not self.running:
            self.start()
        return False

    def start(self) -> None:
        self.fractions.clear()
        self.progress_title.show()
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_button.setEnabled(True)
        self.cancel_button.setText("Cancel")
        self.cancel_button.show()
        self.status.setStyleSheet("")
        self.status.setText("Starting…")
        self._wizard.set_busy(True)
        self.task = workers.submit(
            add_to_library,
            self._wizard.library,
            self._wizard.request(),
            on_done=self._added,
            on_error=self._failed,
            on_progress=self._progressed,
        )
        self.task.cancelled_.connect(self._cancelled)
        self.task.finished.connect(self._stopped)

    def cancel(self) -> None:
        task = self.task
        if task is not None and task.running:
            task.cancel()
            self.cancel_button.setEnabled(False)
            self.cancel_button.setText("Cancelling…")
            self.status.setText("Cancelling…")

    def _progressed(self, fraction: float, text: str) -> None:
        if fraction < 0:
            self.progress.setRange(0, 0)
        else:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(fraction * 1000))
            self.fractions.append(fraction)
        if not (self.task is not None and self.task.is_cancelled()):
            self.status.setText(text)

    def _added(self, entry: ModelEntry) -> None:
        from designer.ui.dialogs.model_check import ModelCheckPanel

        self.entry = entry
        self.progress.setRange(0, 1000)
        self.progress.setValue(1000)
        self.status.setStyleSheet(f"color: {state_color('ok').name()};")
        self.status.setText(
            f"Added {entry.id}: {model_summary(entry)}. Check what inspection found and try the "
            "model on a picture; Finish when it answers right."
        )
        # What inspection found replaces the request's summary, with the pre-processing editable
        # and Try it, so a wrong setting shows before the model is used.
        self.summary.hide()
        self.progress.hide()
        self.progress_title.hide()
        self.check = ModelCheckPanel(self._wizard.library, entry, self)
        self.check.changed.connect(self._checked)
        layout = self.layout()
        assert isinstance(layout, QBoxLayout)  # the page's own column, made in __init__
        layout.insertWidget(0, self.check, 1)
        self.check.show()
        self.setSubTitle("Added. Check the pre-processing and try the model before you use it.")
        self._wizard.setButtonText(QWizard.WizardButton.FinishButton, "Finish")

    def _checked(self, entry: ModelEntry) -> None:
        self.entry = entry
        self.status.setText(f"Saved {entry.id}: {model_summary(entry)}")

    def _failed(self, message: str) -> None:
        self.status.setStyleSheet(f"color: {state_color('error').name()};")
        self.status.setText(message)

    def _cancelled(self) -> None:
        self.status.setStyleSheet("")
        self.status.setText("Cancelled: nothing was added. Create tries again.")

    def _stopped(self) -> None:
        self.cancel_button.hide()
        if self.entry is None:
            self.progress.hide()
        self._wizard.set_busy(False)
        if self.entry is not None:  # added: nothing to go back to
            self._wizard.button(QWizard.WizardButton.BackButton).setEnabled(False)
        self._wizard.task_finished()


class AddExternalModelWizard(QWizard):
    """Add external model, as in POSS: Basics, Model files, Tags, Review + Create."""

    def __init__(self, library: ModelLibrary, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.existing_ids: set[str] = set()
        self.created_id: str | None = None
        self._close_when_done: int | None = None
        self.setWindowTitle("Add external model")
        self.setWindowIcon(icon("model"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setButtonText(QWizard.WizardButton.BackButton, "Previous")
        self.setButtonText(QWizard.WizardButton.FinishButton, "Create")
        self.basics = _ModelBasicsPage(self)
        self.files = _ModelFilesPage()
        self.tags = _ModelTagsPage()
        self.review = _ModelReviewPage(self)
        for page in (self.basics, self.files, self.tags, self.review):
            self.addPage(page)
        workers.submit(lambda: {e.id for e in library.list()}, on_done=self._listed)
        self.resize(680, 560)

    def _listed(self, ids: set[str]) -> None:
        self.existing_ids = ids
        self.basics.revalidate()

    def request(self) -> AddRequest:
        f = self.files
        return AddRequest(
            name=self.basics.name.text().strip(),
            task=self.basics.task.currentData(),
            description=self.basics.description.toPlainText().strip(),
            tags=self.tags.values(),
            source=f.source(),
            model_path=f.model_path.text().strip(),
            labels_path=f.labels_path.text().strip(),
            connection_string=f.connection_string.text(),
            container=f.container.text().strip(),
            model_blob=f.model_blob.text().strip(),
            labels_blob=f.labels_blob.text().strip(),
            model_url=f.model_url.text().strip(),
            labels_ref=f.labels_ref.text().strip(),
        )

    def set_busy(self, busy: bool) -> None:
        for which in (QWizard.WizardButton.BackButton, QWizard.WizardButton.FinishButton):
            self.button(which).setEnabled(not busy)

    def task_finished(self) -> None:
        if self.review.entry is not None:
            self.created_id = self.review.entry.id  # added; Finish closes once it was checked
        elif self._close_when_done is not None:
            super().done(self._close_when_done)

    def done(self, result: int) -> None:
        """Closing while a download runs cancels it first; the wizard closes once it stopped."""
        if self.review.running and result != QDialog.DialogCode.Accepted:
            self._close_when_done = result
            self.review.cancel()
            return
        super().done(result)


def add_model(parent: QWidget | None, library: ModelLibrary | None) -> str | None:
    """Run the Add external model wizard; the new model's id, or None when nothing was added."""
    if library is None:
        QMessageBox.warning(parent, "Add external model", UNAVAILABLE)
        return None
    wizard = AddExternalModelWizard(library, parent)
    try:
        wizard.exec()
    finally:
        wizard.deleteLater()
    if wizard.created_id:
        library_events().models_changed.emit()
    return wizard.created_id
