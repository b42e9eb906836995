"""The insights dock: the insight messages of a preview run, as `run --insights` writes them.

Messages are kept in memory only (a bounded backlog, so hours of preview stay small); the
user filters them by label and export node, pauses the stream to read one, and saves the
shown ones as JSON Lines (written on a worker thread, atomically).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter, deque
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from designer.ui.preview.relay import InsightRecord
from designer.ui.workers import Task, submit

BACKLOG = 3000  # messages kept; older ones leave as new ones come
ALL_NODES = ""

_Index = QModelIndex | QPersistentModelIndex


def summary(record: InsightRecord) -> str:
    """``12:03:04.120  log  frame 17: 3 person, 1 car``."""
    when = datetime.fromtimestamp(record.timestamp).strftime("%H:%M:%S.%f")[:-3]
    counts = Counter(record.labels)
    found = ", ".join(f"{n} {label}" for label, n in sorted(counts.items())) or "no objects"
    return f"{when}  {record.node_id}  frame {record.frame_id}: {found}"


def write_jsonl(path: Path, lines: list[str]) -> int:
    """Write ``lines`` as a JSON Lines file, atomically (a crash leaves the old file whole)."""
    path = Path(path)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            for line in lines:
                out.write(line + "\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return len(lines)


class InsightsModel(QAbstractListModel):
    """The backlog, and the rows that pass the filter, in arrival order."""

    def __init__(self, parent=None, backlog: int = BACKLOG) -> None:
        super().__init__(parent)
        self.backlog = backlog
        self._all: deque[InsightRecord] = deque(maxlen=backlog)
        self._shown: deque[InsightRecord] = deque()
        self._label = ""
        self._node = ALL_NODES

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 -- Qt's own signature
        return 0 if parent.isValid() else len(self._shown)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._shown):
            return None
        record = self._shown[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return summary(record)
        if role == Qt.ItemDataRole.UserRole:
            return record
        return None

    def records(self) -> list[InsightRecord]:
        """The messages that pass the filter, oldest first."""
        return list(self._shown)

    def nodes(self) -> list[str]:
        return sorted({r.node_id for r in self._all})

    def accepts(self, record: InsightRecord) -> bool:
        if self._node and record.node_id != self._node:
            return False
        label = self._label.casefold()
        return not label or any(label in found.casefold() for found in record.labels)

    def set_filter(self, label: str, node: str) -> None:
        self.beginResetModel()
        self._label, self._node = label.strip(), node
        self._shown = deque(r for r in self._all if self.accepts(r))
        self.endResetModel()

    def add(self, records: list[InsightRecord]) -> None:
        for record in records:
            if len(self._all) == self._all.maxlen:
                oldest = self._all.popleft()
                if self._shown and self._shown[0] is oldest:
                    self.beginRemoveRows(QModelIndex(), 0, 0)
                    self._shown.popleft()
                    self.endRemoveRows()
            self._all.append(record)
        shown = [r for r in records if self.accepts(r)]
        if shown:
            first = len(self._shown)
            self.beginInsertRows(QModelIndex(), first, first + len(shown) - 1)
            self._shown.extend(shown)
            self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._all.clear()
        self._shown.clear()
        self.endResetModel()


class InsightsDock(QDockWidget):
    saved = Signal(str, int)  # path, lines written

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Insights", parent)
        self.setObjectName("preview-insights")
        self.model = InsightsModel(self)
        self._paused: list[InsightRecord] = []
        self._save_task: Task | None = None
        body = QWidget(self)
        self.label_filter = QLineEdit(body, placeholderText="Filter by label")
        self.label_filter.setClearButtonEnabled(True)
        self.node_filter = QComboBox(body)
        self.node_filter.addItem("All export nodes", ALL_NODES)
        self.pause = QCheckBox("Pause", body)
        self.pause.setToolTip("Stop the list from moving; messages that arrive meanwhile are added on resume")
        self.save_button = QPushButton("Save as JSON Lines...", body)
        self.clear_button = QPushButton("Clear", body)
        self.count_label = QLabel(body)
        self.view = QListView(body)
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)
        self.details = QPlainTextEdit(body, readOnly=True)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select a message to see it whole")
        bar = QHBoxLayout()
        for widget in (self.label_filter, self.node_filter, self.pause, self.save_button, self.clear_button):
            bar.addWidget(widget)
        bar.addWidget(self.count_label, 1)
        split = QSplitter(Qt.Orientation.Horizontal, body)
        split.addWidget(self.view)
        split.addWidget(self.details)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(split, 1)
        self.setWidget(body)
        self.label_filter.textChanged.connect(self._refilter)
        self.node_filter.currentIndexChanged.connect(self._refilter)
        self.pause.toggled.connect(self._on_pause)
        self.save_button.clicked.connect(self._ask_save)
        self.clear_button.clicked.connect(self.clear)
        self.view.selectionModel().currentChanged.connect(self._show_details)
        self.saved.connect(lambda path, n: self.count_label.setText(f"Saved {n} messages to {path}"))
        self._update_count()

    def add(self, records: list[InsightRecord]) -> None:
        """New messages, in order (paused: held until resumed)."""
        if self.pause.isChecked():
            self._paused.extend(records)
            del self._paused[: max(len(self._paused) - self.model.backlog, 0)]
        else:
            self._append(records)

    def clear(self) -> None:
        self._paused.clear()
        self.model.clear()
        self.details.clear()
        self._update_count()

    def messages(self) -> list[dict]:
        """The shown messages, parsed (for tests and tools)."""
        return [json.loads(r.text) for r in self.model.records()]

    def save(self, path: Path) -> Task:
        """Write the shown messages to ``path`` as JSON Lines, off the GUI thread."""
        lines = [r.text for r in self.model.records()]
        self._save_task = submit(
            write_jsonl,
            Path(path),
            lines,
            on_done=lambda n: self.saved.emit(str(path), n),
            on_error=lambda message: self.count_label.setText(f"Not saved: {path}: {message}"),
            parent=self,
        )
        return self._save_task

    def _append(self, records: list[InsightRecord]) -> None:
        if not records:
            return
        known = {self.node_filter.itemData(i) for i in range(self.node_filter.count())}
        for node in sorted({r.node_id for r in records} - known):
            self.node_filter.addItem(node, node)
        at_end = self._at_end()
        self.model.add(records)
        if at_end:
            self.view.scrollToBottom()
        self._update_count()

    def _at_end(self) -> bool:
        bar = self.view.verticalScrollBar()
        return bar.value() >= bar.maximum() - 2

    def _on_pause(self, paused: bool) -> None:
        if not paused:
            held, self._paused = self._paused, []
            self._append(held)

    def _refilter(self) -> None:
        self.model.set_filter(self.label_filter.text(), self.node_filter.currentData() or ALL_NODES)
        self.view.scrollToBottom()
        self._update_count()

    def _update_count(self) -> None:
        shown = self.model.rowCount()
        self.count_label.setText(f"{shown} message{'' if shown == 1 else 's'} shown")

    def _show_details(self, current: QModelIndex, _previous: QModelIndex) -> None:
        record = self.model.data(current, Qt.ItemDataRole.UserRole)
        if record is None:
            self.details.clear()
            return
        self.details.setPlainText(json.dumps(json.loads(record.text), indent=2))

    def _ask_save(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save insights as JSON Lines", "insights.jsonl", "JSON Lines (*.jsonl);;All files (*)"
        )
        if path:
            self.save(Path(path))
