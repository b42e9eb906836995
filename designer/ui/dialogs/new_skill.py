"""The New skill wizard, in POSS's order: Basics, Tags (optional), Review + Create.

Basics also asks what the canvas should start with (the smallest valid
graph, the same with a library model, or nothing), so the review can show
the validation result and a summary of the graph the user will get.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from designer.core.skill import Problem, Settings, Skill, validate_skill
from designer.core.skill.build import add_node, auto_layout, chain, minimal_skill
from designer.core.skill.catalog import get_spec
from designer.core.skill.catalog.process import MODEL
from designer.ui import workers
from designer.ui.dialogs.fields import FieldRow, acceleration_label, problem_list_html
from designer.ui.dialogs.settings import HELP, BasicsForm, TagsEditor, settings_errors
from designer.ui.icons import icon
from designer.ui.session import LibraryGetter

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary

MINIMAL, WITH_MODEL, EMPTY = "minimal", "with-model", "empty"
TEMPLATES = (
    (MINIMAL, "Camera Input → Filter → Insights Log"),
    (WITH_MODEL, "Camera Input → Run ML Model → Filter → Insights Log"),
    (EMPTY, "An empty canvas"),
)


def build_skill(settings: Settings, template: str, model_id: str = "") -> Skill:
    """The new skill: ``settings`` and the starting graph, laid out."""
    if template == EMPTY:
        return Skill(settings=settings)
    skill = minimal_skill(settings.name)
    skill.settings = settings
    if template == WITH_MODEL:
        camera, keep, log = (n.id for n in skill.nodes)
        skill.edges.clear()
        model = add_node(skill, MODEL.type_id, model_id=model_id)
        chain(skill, camera, model.id, keep, log)
    return auto_layout(skill)


def _type_title(type_id: str) -> str:
    spec = get_spec(type_id)
    return spec.title if spec is not None else type_id


def graph_summary(skill: Skill) -> str:
    """A one-line graph summary: the chain of node names when the graph is one chain."""
    if not skill.nodes:
        return "No nodes yet: an empty canvas."
    names = {n.id: n.name or _type_title(n.type) for n in skill.nodes}
    after = {e.source.node: e.target.node for e in skill.edges}
    fed = {e.target.node for e in skill.edges}
    heads = [n.id for n in skill.nodes if n.id not in fed]
    path: list[str] = []
    if len(heads) == 1 and len(after) == len(skill.edges):
        current: str | None = heads[0]
        while current is not None and current not in path:
            path.append(current)
            current = after.get(current)
    listing = (
        " → ".join(names[i] for i in path) if len(path) == len(skill.nodes) else ", ".join(names.values())
    )
    nodes = f"{len(skill.nodes)} node{'s' if len(skill.nodes) != 1 else ''}"
    links = f"{len(skill.edges)} link{'s' if len(skill.edges) != 1 else ''}"
    return f"{nodes}, {links}: {listing}"


class BasicsPage(QWizardPage):
    def __init__(self, library_getter: LibraryGetter | None) -> None:
        super().__init__()
        self.setTitle("Basics")
        self.setSubTitle("Name the skill and choose where it runs.")
        self.form = BasicsForm()
        self.form.set_values(Settings())
        self.template = QComboBox()
        for key, label in TEMPLATES:
            self.template.addItem(label, key)
        self.model = QComboBox()
        self.model.setPlaceholderText("no models in the library yet")
        self.model.setEnabled(False)
        start = QFormLayout()
        start.setContentsMargins(0, 0, 0, 0)
        start.addRow(
            "Start with", FieldRow(self.template, "The graph the canvas opens with; edit it freely.")
        )
        self.model_row = FieldRow(self.model, "A model from your library, for the Run ML Model node.")
        start.addRow("Model", self.model_row)
        self._start = start
        layout = QVBoxLayout(self)
        layout.addWidget(self.form)
        layout.addLayout(start)
        layout.addStretch(1)
        self.errors: dict[str, str] = {}
        self.form.changed.connect(self._revalidate)
        self.template.currentIndexChanged.connect(self._template_changed)
        self._library_getter = library_getter
        self._models_task: workers.Task | None = None
        self._template_changed()
        self._revalidate()

    def load_models(self) -> None:
        """List the library's models off the GUI thread (the registry is a file)."""
        getter = self._library_getter
        if getter is None:
            return

        def listed() -> list:
            library = getter()
            return library.list() if library is not None else []

        self._models_task = workers.submit(listed, on_done=self._models_listed)

    def _models_listed(self, entries: list) -> None:
        from designer.core.models.library import BUNDLED_ID  # loaded by now: the listing used it

        current = self.model.currentData()
        self.model.clear()
        for entry in entries:
            if entry.type == "detection":
                self.model.addItem(icon(MODEL.icon), f"{entry.name} ({entry.id})", entry.id)
        # keep the user's choice; else the bundled sample detector; else the first model
        for wanted in (current, BUNDLED_ID):
            if wanted is not None and self.model.findData(wanted) >= 0:
                self.model.setCurrentIndex(self.model.findData(wanted))
                break
        else:
            self.model.setCurrentIndex(0 if self.model.count() else -1)
        self._template_changed()

    def _template_changed(self) -> None:
        with_model = self.template.currentData() == WITH_MODEL
        self.model.setEnabled(with_model and self.model.count() > 0)
        self._start.setRowVisible(self.model_row, with_model)  # the label with it

    def _revalidate(self) -> None:
        self.errors = {
            k: v for k, v in settings_errors(Settings(**self.form.values())).items() if k != "tags"
        }
        for name, row in self.form.rows.items():
            row.set_error(self.errors.get(name))
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return not self.errors


class TagsPage(QWizardPage):
    def __init__(self) -> None:
        super().__init__()
        self.setTitle("Tags (optional)")
        self.setSubTitle("Name/value pairs that travel with the skill, e.g. site = north-gate.")
        self.tags = TagsEditor()
        self.row = FieldRow(self.tags, HELP["tags"])
        layout = QVBoxLayout(self)
        layout.addWidget(self.row)
        layout.addStretch(1)
        self.error: str | None = None
        self.tags.changed.connect(self._revalidate)
        self._revalidate()

    def _revalidate(self) -> None:
        self.error = settings_errors(Settings(name="x", tags=self.tags.tags())).get("tags")
        self.row.set_error(self.error)
        self.completeChanged.emit()

    def isComplete(self) -> bool:
        return self.error is None


class ReviewPage(QWizardPage):
    """Everything chosen, the graph the canvas will open with, and what the validator says."""

    def __init__(self, wizard: NewSkillWizard) -> None:
        super().__init__()
        self.setTitle("Review + Create")
        self.setSubTitle("Check the skill; problems can be fixed on the canvas after it is created.")
        self._wizard = wizard
        self.summary = QLabel()
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.problems = QLabel()
        self.problems.setObjectName("problems")
        self.problems.setTextFormat(Qt.TextFormat.RichText)
        self.problems.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(QLabel("<b>Validation</b>"))
        layout.addWidget(self.problems)
        layout.addStretch(1)
        self.result: list | None = None
        self._task: workers.Task | None = None

    def initializePage(self) -> None:
        skill = self._wizard.skill()
        s = skill.settings
        tags = ", ".join(f"{html.escape(t.name)} = {html.escape(t.value)}" for t in s.tags) or "none"
        rows = (
            ("Skill name", html.escape(s.name)),
            ("Desired frame rate", f"{s.fps} fps"),
            ("Device acceleration", html.escape(acceleration_label(s.acceleration))),
            ("Description", html.escape(s.description) or "<i>none</i>"),
            ("Tags", tags),
            ("Graph", html.escape(graph_summary(skill))),
        )
        self.summary.setText(
            "<table cellspacing='4'>"
            + "".join(f"<tr><td style='padding-right:16px'><b>{k}</b></td><td>{v}</td></tr>" for k, v in rows)
            + "</table>"
        )
        self.result = None
        self.problems.setText("Validating…")
        library = self._wizard.library_getter
        self._task = workers.submit(_validate, skill, library, on_done=self._validated)

    def _validated(self, problems: list) -> None:
        self.result = problems
        errors = sum(p.is_error for p in problems)
        head = (
            f"{errors} error(s) and {len(problems) - errors} warning(s); you can create the skill "
            "and fix them on the canvas:"
            if problems
            else ""
        )
        self.problems.setText(head + problem_list_html(problems))


def _validate(skill: Skill, library_getter: LibraryGetter | None) -> list[Problem]:
    library = library_getter() if library_getter is not None else None
    return validate_skill(skill, models=library)


class NewSkillWizard(QWizard):
    """New skill: ``skill()`` is the result once ``exec()`` was accepted."""

    def __init__(
        self, parent: QWidget | None = None, library: LibraryGetter | ModelLibrary | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New skill")
        self.setWindowIcon(icon("add"))
        self.setWizardStyle(QWizard.WizardStyle.ClassicStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.HaveCustomButton1, True)
        self.setButtonText(QWizard.WizardButton.BackButton, "Previous")
        self.setButtonText(QWizard.WizardButton.FinishButton, "Create")
        self.setButtonText(QWizard.WizardButton.CustomButton1, "Review + Create")
        self.customButtonClicked.connect(self._review_and_create)
        # the window passes its library getter or a library; the wizard only reads it on workers
        self.library_getter = library if callable(library) or library is None else (lambda: library)
        self.basics = BasicsPage(self.library_getter)
        self.tags = TagsPage()
        self.review = ReviewPage(self)
        for page in (self.basics, self.tags, self.review):
            self.addPage(page)
        self.currentIdChanged.connect(self._page_changed)
        self.basics.completeChanged.connect(self._page_changed)
        self.tags.completeChanged.connect(self._page_changed)
        self.basics.load_models()
        self._page_changed()
        self.resize(640, 560)

    def settings(self) -> Settings:
        return Settings(**self.basics.form.values(), tags=self.tags.tags.tags())

    def skill(self) -> Skill:
        model_id = self.basics.model.currentData() or ""
        return build_skill(self.settings(), self.basics.template.currentData(), model_id)

    def _page_changed(self, _id: int = 0) -> None:
        button = self.button(QWizard.WizardButton.CustomButton1)
        button.setVisible(self.currentPage() is not self.review)
        button.setEnabled(self.basics.isComplete() and self.tags.isComplete())

    def _review_and_create(self, which: int) -> None:
        if int(which) != QWizard.WizardButton.CustomButton1.value:
            return
        while self.currentPage() is not self.review and self.currentPage().isComplete():
            self.next()
