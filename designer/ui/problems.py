"""The problems dock: every validation problem, live; a click takes you to the node and field.

It follows the session's problems and asks the session to focus what was clicked.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from designer.core.skill import Problem, Skill, get_spec
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


def problem_text(problem: Problem, skill: Skill) -> str:
    """``problem`` as the list shows it: an empty field its own check refuses is "required",
    whatever the validator's wording (as under the field)."""
    node = skill.node(problem.node_id) if problem.node_id and problem.param else None
    spec = get_spec(node.type) if node is not None else None
    info = spec.params.model_fields.get(problem.param or "") if spec is not None else None
    if node is not None and info is not None and problem.param:
        title = info.title or problem.param
        if field_message(problem, title, node.params.get(problem.param)) == "Required.":
            return f"{title} is required."
    return sentence(problem.message)


class ProblemsList(QTreeWidget):
    chosen = Signal(object)  # the Problem clicked

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
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
        skill = self._session.announced_skill
        for problem in ordered:
            text = problem_text(problem, skill)
            item = QTreeWidgetItem([text, problem.code, problem.node_id or "skill", problem.param or ""])
            item.setIcon(0, icon("error" if problem.is_error else "warning"))
            item.setToolTip(0, text)
            item.setData(0, PROBLEM_ROLE, problem)
            self.addTopLevelItem(item)
