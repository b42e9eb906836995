"""The one question asked before unsaved work is dropped: Save, Discard or Cancel."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QMessageBox, QWidget


def ask_to_save(parent: QWidget, title: str, what: str, save: Callable[[], bool]) -> bool:
    """True when ``what`` may be dropped: saved (``save`` succeeded) or discarded; False on Cancel."""
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.warning(
        parent,
        title,
        f"{what} has unsaved changes. Save them?",
        buttons.Save | buttons.Discard | buttons.Cancel,
        buttons.Save,
    )
    if answer == buttons.Save:
        return save()
    return answer == buttons.Discard
