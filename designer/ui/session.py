"""The designer's one session: the open document, its skill, the problems, the model library
and the preview's run state, with a Qt signal for each change.

Every part of the designer (preview, package actions, problems, forms, library page) reads and
changes the session instead of reaching into the main window; the window only assembles the
parts and wires the canvas to the session (the canvas edits the skill, the session announces it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from designer.core.skill import Problem, Settings, Skill, compile_skill
from designer.ui.document import Document
from designer.ui.workers import submit

if TYPE_CHECKING:
    from pathlib import Path

    from designer.core.models.library import ModelLibrary

#: How parts get the model library: opened on first call (off the GUI thread: it imports numpy
#: and the Azure SDK), None when it cannot open.
LibraryGetter = Callable[[], "ModelLibrary | None"]
LibraryOpener = Callable[[], "ModelLibrary | None"]


def _open_library() -> ModelLibrary | None:
    from designer.core.models.open import open_model_library

    return open_model_library()


def _checked(
    skill: Skill, library: ModelLibrary | None
) -> tuple[list[Problem], dict[str, tuple[str, ...] | None]]:
    """On a worker: the skill's problems, and the labels reaching each node (its upstream
    models'), which the forms offer in label fields."""
    compiled = compile_skill(skill, library)
    return compiled.problems, {node_id: node.upstream_labels for node_id, node in compiled.nodes.items()}


class Session(QObject):
    """What the designer has open, and what it knows about it.

    ``skill_changed`` fires for every new state of the skill (edits, undo, a newly opened
    document); validation then runs on a worker and ``problems_changed`` fires with the newest
    result only (an older skill's result that arrives late is dropped).
    """

    document_changed = Signal(object)  # the new Document
    skill_changed = Signal(object)  # the new Skill
    problems_changed = Signal(list)  # list[Problem] of the newest skill
    validation_failed = Signal(str)  # the validator itself failed (a bug): its message
    running_changed = Signal(bool)  # the preview started (True) or ended (False)
    node_status_changed = Signal(str, str, str)  # node id, text, state (running/error/warning/dry/idle)
    node_statuses_cleared = Signal()
    focus_requested = Signal(object, object)  # node id (None: the skill's settings), parameter or None

    def __init__(
        self,
        *,
        open_library: LibraryOpener = _open_library,
        validate: bool = True,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._document = Document()
        self._skill = Skill(settings=Settings(name="Untitled skill"))
        self._reader: Callable[[], Skill] | None = None
        self._problems: list[Problem] = []
        self._upstream_labels: dict[str, tuple[str, ...] | None] = {}
        self._round = 0
        self._validate = validate
        self._open_library = open_library
        self._library: ModelLibrary | None = None
        self._library_lock = threading.Lock()
        self._running = False

    # -- the document ------------------------------------------------------------------------

    @property
    def document(self) -> Document:
        return self._document

    def set_document(self, document: Document) -> None:
        """Another file (or a new, unsaved skill) is open; its skill follows with ``set_skill``."""
        self._document = document
        self.document_changed.emit(document)

    def skill_dir(self) -> Path:
        """Where relative paths in the skill resolve (read at the moment of use: Save As moves it)."""
        return self._document.skill_dir()

    # -- the skill ---------------------------------------------------------------------------

    def read_skill_with(self, reader: Callable[[], Skill] | None) -> None:
        """``reader`` answers the exact current skill (the canvas, between an edit and its
        debounced announcement); without one, the last skill set is current."""
        self._reader = reader

    def skill(self) -> Skill:
        return self._reader() if self._reader is not None else self._skill

    @property
    def announced_skill(self) -> Skill:
        """The skill as last announced (``skill_changed``): the one problems are about; reading
        it never flushes an edit in progress, as ``skill()`` may."""
        return self._skill

    def set_skill(self, skill: Skill) -> None:
        """A new state of the skill: announce it, and validate it off the GUI thread."""
        self._skill = skill
        self.skill_changed.emit(skill)
        if self._validate:
            self.validate(skill)

    # -- problems ----------------------------------------------------------------------------

    @property
    def validation_round(self) -> int:
        """How many validations were started; the problems are those of the newest."""
        return self._round

    @property
    def problems(self) -> list[Problem]:
        return list(self._problems)

    def validate(self, skill: Skill) -> int:
        """Start validating ``skill`` on a worker; returns the round its result will belong to.

        The library is used only when already open: validation never opens it on its own.
        """
        round_ = self.begin_validation()
        library = self._library
        submit(
            lambda: _checked(skill, library),
            on_done=lambda checked: self._checked(checked, round_),
            on_error=self.validation_failed.emit,
            parent=self,
        )
        return round_

    def _checked(self, checked: tuple[list[Problem], dict[str, tuple[str, ...] | None]], round_: int) -> None:
        problems, labels = checked
        if round_ == self._round:
            self._upstream_labels = labels  # before the problems: forms read both on that signal
        self.set_problems(problems, round_)

    def upstream_labels(self, node_id: str) -> tuple[str, ...] | None:
        """The labels objects reaching ``node_id`` can have (its upstream models'), as of the
        newest validation; None when they cannot be known."""
        return self._upstream_labels.get(node_id)

    def begin_validation(self) -> int:
        self._round += 1
        return self._round

    def set_problems(self, problems: list[Problem], round_: int | None = None) -> bool:
        """The problems of validation ``round_`` (None: the newest); a stale round is dropped."""
        if round_ is not None and round_ != self._round:
            return False
        self._problems = list(problems)
        self.problems_changed.emit(list(problems))
        return True

    def focus(self, node_id: str | None, param: str | None = None) -> None:
        """Ask to show a node (and one of its parameters); None is the skill's own settings."""
        self.focus_requested.emit(node_id, param)

    def focus_problem(self, problem: Problem | None) -> None:
        if problem is not None:
            self.focus(problem.node_id, problem.param)

    # -- the model library -------------------------------------------------------------------

    def library(self) -> ModelLibrary | None:
        """The user's model library, opened on first use; None when it cannot open.

        Safe from worker threads (the first call should be one: opening imports numpy).
        """
        with self._library_lock:
            if self._library is None:  # a library that could not open is tried again next time
                self._library = self._open_library()
            return self._library

    def opened_library(self) -> ModelLibrary | None:
        """The library if it is open already, else None (never opens it)."""
        return self._library

    # -- the preview's run state -------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._running

    def set_running(self, running: bool) -> None:
        if running != self._running:
            self._running = running
            self.running_changed.emit(running)

    def set_node_status(self, node_id: str, text: str, state: str = "idle") -> None:
        """What a running node is doing (fps, an error), shown on the node."""
        self.node_status_changed.emit(node_id, text, state)

    def clear_node_statuses(self) -> None:
        self.node_statuses_cleared.emit()
