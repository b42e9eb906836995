"""The problems dock: every validation problem, live; a click takes you to the node and field.

It follows the session's problems and asks the session to focus what was clicked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from designer.core.skill import Problem
from designer.ui.icons import icon
from designer.ui.session import Session

PROBLEM_ROLE = Qt.ItemDataRole.UserRole


def sentence(text: str) -> str:
    """A message as the designer shows it: starting with a capital, whatever wrote it."""
    return text[:1].upper() + text[1:]


def field_message(problem: Problem, title: str, value: object) -> str:
    """``problem`` as shown under its field: without the field's title (the label says it), and
    "Required." for an empty value the field's own check refuses, whatever its wording (a check
    across fields, "choose a model or a file", keeps its words)."""
    prefix = f"{title}: "
    text = problem.message.removeprefix(prefix)
    empty = value is None or (isinstance(value, str) and not value.strip())
    if problem.is_error and (
        (empty and problem.message.startswith(prefix))  # the field's own check refused ""
        or problem.code == "param-required"
        or text.startswith("String should have at least 1 character")
    ):
        return "Required."
    return sentence(text)


class ProblemsList(QTreeWidget):
    chosen = Signal(object)  # the Problem clicked

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setColumnCount(4)
        self.setHeaderLabels(["Problem", "Code", "Node", "Parameter"])
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        header = self.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2, 3):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.itemClicked.connect(lambda item, _col: self.chosen.emit(item.data(0, PROBLEM_ROLE)))
        self.itemActivated.connect(lambda item, _col: self.chosen.emit(item.data(0, PROBLEM_ROLE)))
        self.chosen.connect(session.focus_problem)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        session.problems_changed.connect(self.show_problems)

    def show_problems(self, problems: list[Problem]) -> None:
        self.clear()
        ordered = sorted(problems, key=lambda p: (not p.is_error, p.node_id or "", p.code))
        for problem in ordered:
            item = QTreeWidgetItem(
                [sentence(problem.message), problem.code, problem.node_id or "skill", problem.param or ""]
            )
            item.setIcon(0, icon("error" if problem.is_error else "warning"))
            item.setToolTip(0, sentence(problem.message))
            item.setData(0, PROBLEM_ROLE, problem)
            self.addTopLevelItem(item)
