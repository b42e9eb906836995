"""The designer's session (what is open, with signals) and shell (what a part may ask of the
window), and the rules that keep the UI free of node type names and of the CLI."""

from __future__ import annotations

import ast
import threading
from pathlib import Path

import pytest
from PySide6.QtWidgets import QDockWidget, QLabel, QMessageBox

from designer.core.skill import Problem, Severity, load_skill
from designer.core.skill.build import add_node
from designer.core.skill.catalog import SPECS
from designer.ui.document import Document
from designer.ui.session import Session
from designer.ui.shell import Shell

ROOT = Path(__file__).resolve().parents[2]
UI = ROOT / "designer" / "ui"
DEFAULT_SKILL = ROOT / "resources" / "samples" / "default.skill.json"


def _spy(signal) -> list:
    seen: list = []
    signal.connect(lambda *args: seen.append(args))
    return seen


# -- the session --------------------------------------------------------------------------------


def test_a_new_document_and_its_skill_are_announced(qtbot):
    session = Session(validate=False)
    documents, skills = _spy(session.document_changed), _spy(session.skill_changed)
    document = Document(DEFAULT_SKILL)
    session.set_document(document)
    assert documents == [(document,)] and session.document is document
    assert session.skill_dir() == DEFAULT_SKILL.parent
    skill = load_skill(DEFAULT_SKILL)
    session.set_skill(skill)
    assert skills == [(skill,)] and session.skill() is skill


def test_the_skill_is_read_from_the_editor_when_it_has_one(qtbot):
    session = Session(validate=False)
    skill = load_skill(DEFAULT_SKILL)
    session.read_skill_with(lambda: skill)
    assert session.skill() is skill


def test_each_skill_is_validated_and_its_problems_announced(qtbot):
    session = Session()
    problems = _spy(session.problems_changed)
    skill = load_skill(DEFAULT_SKILL)
    add_node(skill, SPECS[1].type_id)  # a process node with no input: an error
    session.set_skill(skill)
    assert session.validation_round == 1
    qtbot.waitUntil(lambda: bool(problems), timeout=10000)
    assert any(p.is_error for p in problems[-1][0])
    assert session.problems == problems[-1][0]


def test_an_older_skills_problems_arriving_late_are_dropped(qtbot):
    session = Session(validate=False)
    announced = _spy(session.problems_changed)
    old = session.begin_validation()
    new = session.begin_validation()
    late = [Problem(Severity.ERROR, "old", "from the previous skill")]
    assert not session.set_problems(late, old)
    assert announced == [] and session.problems == []
    assert session.set_problems([], new)
    assert announced == [([],)]


def test_run_state_and_node_statuses_are_signals(qtbot):
    session = Session(validate=False)
    running, statuses, cleared = (
        _spy(session.running_changed),
        _spy(session.node_status_changed),
        _spy(session.node_statuses_cleared),
    )
    session.set_running(True)
    session.set_running(True)  # no change: no signal
    session.set_node_status("detector", "12.0 fps", "running")
    session.clear_node_statuses()
    session.set_running(False)
    assert running == [(True,), (False,)] and not session.running
    assert statuses == [("detector", "12.0 fps", "running")] and cleared == [()]


def test_a_problem_chosen_asks_to_focus_its_node_and_field(qtbot):
    session = Session(validate=False)
    focus = _spy(session.focus_requested)
    session.focus_problem(Problem(Severity.ERROR, "x", "bad", "detector", "model_id"))
    session.focus_problem(None)
    session.focus(None)
    assert focus == [("detector", "model_id"), (None, None)]


def test_the_library_opens_once_from_any_thread_and_is_retried_after_a_failure(qtbot):
    opened: list[int] = []
    library = object()

    def opener():
        opened.append(1)
        return None if len(opened) == 1 else library

    session = Session(open_library=opener, validate=False)
    assert session.opened_library() is None  # nothing opens it behind the parts' back
    assert session.library() is None  # could not open: tried again next time
    threads = [threading.Thread(target=session.library) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert session.library() is library and session.opened_library() is library
    assert len(opened) == 2


# -- the shell ----------------------------------------------------------------------------------


@pytest.fixture
def window(qtbot, monkeypatch):
    from designer.ui.window import MainWindow

    monkeypatch.setattr(QMessageBox, "warning", lambda *a, **k: QMessageBox.StandardButton.Discard)
    win = MainWindow(restore_state=False)
    qtbot.addWidget(win)
    qtbot.waitUntil(lambda: not win.canvas.is_loading(), timeout=30000)
    yield win
    win.preview.shutdown()


def test_the_main_window_is_the_parts_shell(window):
    assert isinstance(window, Shell)
    assert window.widget() is window


def test_shell_actions_land_in_their_menu_above_the_windows_own_entries(window):
    done = []
    action = window.add_action(
        "&Frobnicate", lambda: done.append(1), "Ctrl+Alt+F", menu="&File", toolbar=True
    )
    entries = [a.text() for a in window.menu("&File").actions()]
    assert entries.index("&Frobnicate") < entries.index("&Quit")
    assert action in window.toolbar.actions()
    assert action.shortcut().toString() == "Ctrl+Alt+F"
    action.trigger()
    assert done == [1]


def test_shell_docks_status_and_log(window):
    from PySide6.QtCore import Qt

    dock = QDockWidget("Extra", window)
    window.add_dock(dock, Qt.DockWidgetArea.LeftDockWidgetArea)
    assert dock.toggleViewAction() in window.menu("&View").actions()
    label = QLabel("part")
    window.add_status_widget(label)
    assert label.parent() is not None
    window.show_status("hello from a part")
    assert window.statusBar().currentMessage() == "hello from a part"
    window.log("a line")
    assert "a line" in window.output.toPlainText()


def test_the_window_shows_what_the_session_announces(qtbot, window):
    session = window.session
    node_id = window.canvas.skill().nodes[0].id
    session.set_node_status(node_id, "7.0 fps", "running")
    view = window.canvas.graph.find(node_id).view
    assert (view.status_text, view.status_state) == ("7.0 fps", "running")
    session.set_problems([Problem(Severity.ERROR, "x", "broken on purpose", node_id)])
    assert "1 error" in window.problem_count.text()
    assert window.problems.topLevelItemCount() == 1
    session.focus(node_id)
    assert window.canvas.selected_ids() == [node_id]
    assert window.properties.form is not None and window.properties.form.node_id == node_id


# -- rules over designer/ui ---------------------------------------------------------------------


def _ui_sources() -> list[Path]:
    return sorted(UI.rglob("*.py"))


def _icon_arguments(tree: ast.AST) -> set[int]:
    """ids of string constants that name an icon drawing (icon("model")), not a node type."""
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", "")) in {
            "icon",
            "pixmap",
            "_button",
        }:
            allowed.update(id(arg) for arg in node.args[:1])
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "GLYPHS" for t in node.targets):
            allowed.update(id(key) for key in getattr(node.value, "keys", []))
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", "") == "GLYPHS":
            allowed.update(id(key) for key in getattr(node.value, "keys", []))
    return allowed


@pytest.mark.parametrize("path", _ui_sources(), ids=lambda p: str(p.relative_to(UI)))
def test_the_ui_names_no_node_type_and_compares_no_kind(path):
    type_ids = {spec.type_id for spec in SPECS}
    kinds = {spec.kind for spec in SPECS}
    tree = ast.parse(path.read_text(encoding="utf-8"))
    drawings = _icon_arguments(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in type_ids or (node.value in kinds and id(node) not in drawings):
                found.append(f"line {node.lineno}: {node.value!r}")
            if any(node.value.startswith(f"{kind.split('-')[0]}-") for kind in kinds if "-" in kind):
                found.append(f"line {node.lineno}: {node.value!r} (a type name prefix)")
        if isinstance(node, ast.Compare):
            for side in [node.left, *node.comparators]:
                if isinstance(side, ast.Attribute) and side.attr == "kind" and "spec" in ast.unparse(side):
                    found.append(f"line {node.lineno}: compares {ast.unparse(side)}")
    assert not found, f"{path.relative_to(ROOT)}: " + "; ".join(found)


@pytest.mark.parametrize("path", _ui_sources(), ids=lambda p: str(p.relative_to(UI)))
def test_the_ui_never_imports_the_cli_commands(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = (
            [node.module or ""]
            if isinstance(node, ast.ImportFrom)
            else [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else []
        )
        assert not any(n == "designer.commands" or n.startswith("designer.commands.") for n in names), (
            f"{path.relative_to(ROOT)} line {node.lineno} imports the CLI"
        )
