"""The main window: it assembles the parts (palette, canvas, properties, problems, output,
model library, preview, package actions) around one ``Session`` and is their ``Shell``.

Parts get the session (what is open: document, skill, problems, library, run state) and the
window as a shell (docks, actions, status, log); none of them reaches into the window. The
window itself keeps files (open, save, recent, samples, KAN) and the recovery copy written a
few seconds after the last edit.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QCursor, QKeySequence, QResizeEvent
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QScrollArea,
    QToolBar,
    QWidget,
)

from designer.core.skill import Problem, Skill, dump_skill, load_skill
from designer.core.skill.catalog import get_spec
from designer.core.skill.fields import Mark
from designer.core.skill.files import SkillFileError
from designer.ui.canvas import Canvas
from designer.ui.deployments import install_deployments
from designer.ui.dialogs.node_dialogs import has_own_dialog
from designer.ui.dialogs.package import install_package_actions
from designer.ui.dialogs.unsaved import ask_to_save
from designer.ui.document import Document, Recovery, find_recoveries
from designer.ui.forms import PropertiesPanel
from designer.ui.icons import icon
from designer.ui.library import ModelLibraryWidget
from designer.ui.palette import Palette, QuickAdd
from designer.ui.preview import PreviewController, install_preview
from designer.ui.problems import ProblemsList
from designer.ui.session import Session
from designer.ui.shell import Shortcut
from designer.ui.workers import submit

if TYPE_CHECKING:
    from designer.core.models.library import ModelLibrary

APP_NAME = "Skill Designer"
SKILL_FILTER = "Skills (*.skill.json);;All files (*)"
KAN_FILTER = "KAN Skill resources (*.yaml *.yml *.json);;All files (*)"
AUTOSAVE_MS = 3000
RIGHT_DOCK_WIDTH = 400  # Properties, Models, Preview: the Models table shows all its columns
SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "samples"
DEFAULT_SKILL = SAMPLES_DIR / "default.skill.json"


def _scrolling(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area: a dock holding it may get narrower than its minimum width
    (a small window), scrolling instead of taking the canvas's room."""
    area = QScrollArea()
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _read_only(path: Path) -> bool:
    """A file that exists and that its owner marked read-only (or we may not write)."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not mode & 0o222 or not os.access(path, os.W_OK)


def _sequence(key: object) -> QKeySequence:
    """One shortcut as a key sequence, whichever way it was written (``Shortcut``)."""
    if isinstance(key, QKeySequence):
        return key
    if isinstance(key, QKeySequence.StandardKey):
        return QKeySequence(key)
    if isinstance(key, Qt.Key):
        return QKeySequence(key)
    return QKeySequence(str(key))


class MainWindow(QMainWindow):
    """Assembles the designer; implements ``designer.ui.shell.Shell`` for its parts."""

    def __init__(self, path: Path | None = None, *, restore_state: bool = True) -> None:
        super().__init__()
        self.setObjectName("MainWindow")
        self.setWindowIcon(icon("model", "#3b78d8"))
        self.session = Session(parent=self)
        self._unsaved_document = True
        self._menus: dict[str, QMenu] = {}
        self._sections: dict[str, QAction] = {}  # menu title -> where parts' actions go
        for title in ("&File", "&Edit", "&View", "&Run", "&Help"):
            self.menu(title)
        self.preview: PreviewController | None = None
        self._quick_add_at: QPointF | None = None  # where Tab was pressed on the canvas
        self.open_error: str | None = None  # why the skill given at start could not be opened

        self.canvas = Canvas(self)
        self.setCentralWidget(self.canvas)
        self.toolbar = QToolBar("Main", self)
        self.toolbar.setObjectName("MainToolbar")
        self.toolbar.setMovable(False)
        self.addToolBar(self.toolbar)

        self.node_palette = Palette(self)
        self.properties = PropertiesPanel(
            self.canvas,
            self.session.skill_dir,
            self.session.library,
            self,
            labels=self.session.upstream_labels,
        )
        self.problems = ProblemsList(self.session, self)
        self.output = QPlainTextEdit(self)
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(5000)
        self.quick_add = QuickAdd(self)

        self.palette_dock = self._dock("Nodes", self.node_palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.properties_dock = self._dock(
            "Properties", self.properties, Qt.DockWidgetArea.RightDockWidgetArea
        )
        self.problems_dock = self._dock("Problems", self.problems, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.output_dock = self._dock("Output", self.output, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.tabifyDockWidget(self.problems_dock, self.output_dock)
        self.problems_dock.raise_()

        self.problem_count = QLabel(self)
        self.statusBar().addPermanentWidget(self.problem_count)

        self._autosave = QTimer(self, singleShot=True, interval=AUTOSAVE_MS)
        self._autosave.timeout.connect(self._write_recovery)

        self._build_actions()
        self._wire()
        self._install_parts()
        self.resizeDocks(
            [self.palette_dock, self.properties_dock], [270, RIGHT_DOCK_WIDTH], Qt.Orientation.Horizontal
        )
        self.resizeDocks([self.problems_dock], [170], Qt.Orientation.Vertical)
        if self.preview is not None:  # the form gets most of the right column; the video the rest
            self.resizeDocks([self.properties_dock, self.preview.dock], [520, 300], Qt.Orientation.Vertical)
        self._balance = QTimer(self, singleShot=True, interval=0)
        self._balance.timeout.connect(self._balance_docks)
        if restore_state:
            self._restore_geometry()
        self._open_initial(path)

    # -- the shell: what the parts of the designer may use ------------------------------------

    @property
    def document(self) -> Document:
        return self.session.document

    def library(self) -> ModelLibrary | None:
        """The session's model library (benchmarks and tests open it through the window)."""
        return self.session.library()

    def widget(self) -> QWidget:
        return self

    def menu(self, title: str) -> QMenu:
        if title not in self._menus:
            self._menus[title] = self.menuBar().addMenu(title)
        return self._menus[title]

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def add_status_widget(self, widget: QWidget) -> None:
        self.statusBar().addPermanentWidget(widget)

    def add_dock(self, dock: QDockWidget, area: Qt.DockWidgetArea) -> None:
        if not dock.objectName():
            dock.setObjectName(f"{dock.windowTitle()}Dock")
        self.addDockWidget(area, dock)
        self.menu("&View").addAction(dock.toggleViewAction())

    def reveal_problems(self) -> None:
        self.problems_dock.show()
        self.problems_dock.raise_()

    def log(self, text: str) -> None:
        self.output.appendPlainText(text)

    def open_skill(self, skill: Skill, path: Path | None = None) -> None:
        self.set_skill(skill, path)

    def set_skill(self, skill: Skill, path: Path | None = None, *, unsaved: bool = False) -> None:
        """Replace the open document (after asking about unsaved changes, done by the caller).

        ``unsaved``: the skill is work that exists nowhere else (restored, imported, made in the
        wizard), so closing asks about it. A sample (no path) is not: nothing is lost unedited.
        """
        self.document.close()
        self.properties.show_node(None)  # the old skill's node is gone with it
        self.session.set_document(Document(path))
        self._unsaved_document = unsaved
        self.canvas.load_skill(skill)  # large skills finish loading later: see _on_loaded
        self._update_title()

    def _on_loaded(self) -> None:
        stack = self.canvas.undo_stack()
        stack.clear()
        if self._unsaved_document:
            stack.resetClean()
        self._update_title()

    # -- building ----------------------------------------------------------------------------

    def _dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"{title}Dock")
        dock.setWidget(widget)
        self.add_dock(dock, area)
        return dock

    def add_action(
        self,
        text: str,
        slot: Callable[[], object],
        shortcut: Shortcut | None = None,
        icon_name: str | None = None,
        tip: str = "",
        *,
        menu: str | None = None,
        toolbar: bool = False,
    ) -> QAction:
        """A window action: text, slot, shortcut(s), icon, status tip; put into ``menu`` (before
        the window's own closing entries, such as Quit) and/or the toolbar when asked."""
        action = QAction(text, self)
        if shortcut is not None:
            keys = list(shortcut) if isinstance(shortcut, list | tuple) else [shortcut]
            action.setShortcuts([_sequence(key) for key in keys])
        if icon_name:
            action.setIcon(icon(icon_name))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        if menu is not None:
            section = self._sections.get(menu)
            if section is not None:
                self.menu(menu).insertAction(section, action)
            else:
                self.menu(menu).addAction(action)
        if toolbar:
            self.toolbar.addAction(action)
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        stack = self.canvas.undo_stack()
        file = self.menu("&File")
        self.new_action = self.add_action("&New skill…", self.new_skill, K.New, "add")
        self.open_action = self.add_action("&Open…", self.open_dialog, K.Open, "folder")
        self.save_action = self.add_action("&Save", self.save, K.Save, "save")
        self.save_as_action = self.add_action("Save &As…", self.save_as, K.SaveAs)
        file.addActions([self.new_action, self.open_action])
        self.recent_menu = file.addMenu("Open &Recent")
        self.samples_menu = file.addMenu("Sa&mples")
        for sample in sorted(SAMPLES_DIR.glob("*.skill.json")):
            self.samples_menu.addAction(
                sample.name.removesuffix(".skill.json"), partial(self.open_sample, sample)
            )
        file.addSeparator()
        file.addActions([self.save_action, self.save_as_action])
        file.addSeparator()
        file.addAction(self.add_action("&Import POSS/KAN skill…", self.import_kan))
        file.addAction(self.add_action("&Export POSS/KAN skill…", self.export_kan))
        self._sections["&File"] = file.addSeparator()  # parts' file actions go above it
        file.addAction(self.add_action("&Quit", self.close, K.Quit))

        edit = self.menu("&Edit")
        self.undo_action = stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(K.Undo)])
        self.undo_action.setIcon(icon("undo"))
        self.redo_action = stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence(K.Redo)])
        edit.addActions([self.undo_action, self.redo_action])
        edit.addSeparator()
        # The canvas's own editing keys act only while the canvas has focus: elsewhere Delete,
        # Backspace, Ctrl+C... belong to the focused editor (a label list, a text field).
        canvas_actions = [
            self.add_action("Cu&t", self.canvas.cut, K.Cut),
            self.add_action("&Copy", self.canvas.copy, K.Copy),
            self.add_action("&Paste", self.canvas.paste, K.Paste),
            self.add_action("&Duplicate", self.canvas.duplicate, "Ctrl+D"),
            self.add_action(
                "De&lete", self.canvas.delete_selected, [QKeySequence(K.Delete), QKeySequence("Backspace")]
            ),
            self.add_action("Select &All", self.canvas.select_all, K.SelectAll),
        ]
        self.delete_action = canvas_actions[4]
        for action in canvas_actions:
            self._canvas_only(action)
        edit.addActions(canvas_actions)
        edit.addSeparator()
        self.add_node_action = self.add_action("Add &node…", self.show_quick_add, "Tab")
        self.add_node_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        edit.addAction(self.add_node_action)
        self.connect_action = self.add_action(
            "C&onnect to…", self.canvas.connect_menu, "Ctrl+K", tip="Link the selected node to another"
        )
        self._canvas_only(self.connect_action)
        edit.addAction(self.connect_action)
        edit.addAction(self.add_action("Skill &settings…", self.edit_settings, "Ctrl+,"))

        view = self.menu("&View")
        self.frame_action = self.add_action("&Frame all", self.canvas.frame_all, "F", "frame")
        self._canvas_only(self.frame_action)  # a plain letter: elsewhere it is typing
        self.layout_action = self.add_action("&Auto-layout", self.canvas.auto_layout, "Ctrl+L", "layout")
        first = next(iter(view.actions()), None)
        if first is None:
            view.addActions([self.frame_action, self.layout_action])
        else:
            view.insertActions(first, [self.frame_action, self.layout_action])
        view.insertSeparator(view.actions()[2])
        help_menu = self.menu("&Help")
        help_menu.addAction(self.add_action("&About Skill Designer", self.about))

        for action in (self.new_action, self.open_action, self.save_action):
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.redo_action.setIcon(icon("redo"))
        self.toolbar.addActions([self.undo_action, self.redo_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.layout_action, self.frame_action])
        self.toolbar.addSeparator()
        self._refresh_recent()

    def _canvas_only(self, action: QAction) -> None:
        """Let ``action``'s keys work only while the canvas (or a child of it) has focus."""
        self.removeAction(action)
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.canvas.addAction(action)

    def _wire(self) -> None:
        session = self.session
        session.read_skill_with(self.canvas.skill)
        self.canvas.skill_changed.connect(session.set_skill)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        session.skill_changed.connect(self._on_skill_changed)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        session.problems_changed.connect(self._show_problems)
        session.validation_failed.connect(lambda message: self.log(f"Validation failed: {message}"))
        session.node_status_changed.connect(self.canvas.set_node_status)
        session.node_statuses_cleared.connect(self.canvas.clear_node_status)
        session.focus_requested.connect(self.go_to)  # type: ignore[call-overload]  # PySide6's stubs type Signal(object) as object
        self.canvas.loaded.connect(self._on_loaded)
        self.canvas.selection_changed.connect(self._on_selection)
        self.canvas.message.connect(lambda text: self.show_status(text, 8000))
        self.canvas.node_activated.connect(self._on_node_activated)
        self.canvas.node_added.connect(self._on_node_added)
        self.canvas.quick_add_requested.connect(self.show_quick_add)
        self.canvas.undo_stack().cleanChanged.connect(self._update_title)
        self.node_palette.chosen.connect(lambda type_id: self.canvas.add_node_here(type_id))
        self.quick_add.chosen.connect(lambda type_id: self.canvas.add_node_here(type_id, self._quick_add_at))
        self.properties.dialog_requested.connect(self._on_node_activated)

    def _install_parts(self) -> None:
        """The model library page, the live preview and the package menu: docks and actions of their own."""
        self.library_dock = QDockWidget("Models", self)
        self.library_dock.setObjectName("ModelsDock")
        library = ModelLibraryWidget(self.session.library, self, session=self.session, editor=self.canvas)
        self.library_dock.setWidget(_scrolling(library))  # its width never squeezes the canvas
        self.add_dock(self.library_dock, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.properties_dock, self.library_dock)
        self.properties_dock.raise_()
        self.preview = install_preview(self.session, self)
        insights = self.preview.insights
        self.session.document_changed.connect(lambda _document: insights.clear())  # no old messages
        install_package_actions(self.session, self)
        self.deployments = install_deployments(self.session, self)

    # -- state --------------------------------------------------------------------------------

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if hasattr(self, "_balance"):
            self._balance.start()

    def _balance_docks(self) -> None:
        """Keep the canvas usable at any window size, and give docks back their room after.

        Qt shrinks docks in pixels and never grows them again: at 800x600 the canvas got 140
        px, and after shrinking and growing back the docks stayed squashed (and were saved so).
        Side docks are held to a share of the width while the canvas is narrow, and grown back
        to their default widths once there is room; the right column keeps most of its height
        for the form.
        """
        self._balance_side_docks()
        self._balance_bottom_dock()
        self._balance_bottom_row()
        self._balance_right_column()

    def _balance_side_docks(self) -> None:
        """Hold the side docks to a share of the width while the canvas is narrow, and grow them
        back to their defaults once it is wide again (between the two, leave the user's sizes)."""
        width, canvas = self.width(), self.canvas.width()
        resize: list[tuple[QDockWidget, int]] = []
        for dock, default, share in (
            (self.palette_dock, 270, 0.2),
            (self.properties_dock, RIGHT_DOCK_WIDTH, 0.28),
        ):
            if not dock.isVisible() or dock.isFloating():
                continue
            target = int(min(default, width * share))
            if canvas < width * 0.45 and dock.width() > target:
                resize.append((dock, target))
            elif canvas > width * 0.5 and dock.width() < target:
                resize.append((dock, target))
        if resize:
            self.resizeDocks([d for d, _ in resize], [w for _, w in resize], Qt.Orientation.Horizontal)

    def _balance_bottom_dock(self) -> None:
        """The same for the problems dock's height: capped while the canvas is short, grown back after."""
        bottom, height = self.problems_dock, self.height()
        if bottom.isVisible() and not bottom.isFloating():
            target = int(min(170, height * 0.2))
            short = self.canvas.height() < height * 0.5 and bottom.height() > target
            if short or (self.canvas.height() > height * 0.6 and bottom.height() < target):
                self.resizeDocks([bottom], [target], Qt.Orientation.Vertical)

    def _balance_bottom_row(self) -> None:
        """Problems and insights share the bottom row: split it evenly when problems got squeezed."""
        bottom = self.problems_dock
        insights = self.preview.insights if self.preview is not None else None
        if (
            insights is not None
            and insights.isVisible()
            and bottom.isVisible()
            and not insights.isFloating()
            and self.dockWidgetArea(insights) == self.dockWidgetArea(bottom)
            and bottom.width() < (bottom.width() + insights.width()) * 0.35
        ):
            row = bottom.width() + insights.width()
            self.resizeDocks([bottom, insights], [row // 2, row - row // 2], Qt.Orientation.Horizontal)

    def _balance_right_column(self) -> None:
        """The form matters more than the preview: give it most of the right column once it has under half."""
        preview = self.preview.dock if self.preview is not None else None
        if (
            preview is not None
            and preview.isVisible()
            and self.properties_dock.isVisible()
            and not preview.isFloating()
            and self.properties_dock.height() < (self.properties_dock.height() + preview.height()) * 0.5
        ):
            column = self.properties_dock.height() + preview.height()
            self.resizeDocks(
                [self.properties_dock, preview],
                [int(column * 0.62), int(column * 0.38)],
                Qt.Orientation.Vertical,
            )

    def _settings(self) -> QSettings:
        return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "skill-designer", "designer")

    def _restore_geometry(self) -> None:
        settings = self._settings()
        geometry, state = settings.value("geometry"), settings.value("state")
        if isinstance(geometry, QByteArray):
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        if isinstance(state, QByteArray):
            self.restoreState(state)

    def _save_geometry(self) -> None:
        settings = self._settings()
        settings.setValue("geometry", self.saveGeometry())
        settings.setValue("state", self.saveState())

    def _recent(self) -> list[str]:
        value = self._settings().value("recent", [])
        return [v for v in (value if isinstance(value, list) else [value]) if v]

    def _remember(self, path: Path) -> None:
        recent = [str(path.resolve())] + [p for p in self._recent() if p != str(path.resolve())]
        settings = self._settings()
        settings.setValue("recent", recent[:10])
        settings.setValue("last", str(path.resolve()))
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        for entry in self._recent():
            self.recent_menu.addAction(entry, partial(self.open_file, Path(entry)))
        self.recent_menu.setEnabled(bool(self._recent()))

    def _open_initial(self, path: Path | None) -> None:
        """Open ``path`` (given on the command line), else the last skill, else the default sample.

        A file given that cannot be opened is not silently replaced: ``open_error`` says why
        (file and line), for ``report_open_error`` and the terminal.
        """
        explicit = path is not None
        if path is None:
            last = self._settings().value("last", "")
            path = Path(last) if last and Path(last).is_file() else None
        if path is not None:
            try:
                self.set_skill(load_skill(path), path)
                return
            except Exception as exc:
                message = str(exc) if isinstance(exc, SkillFileError) else f"{path}: {exc}"
                if explicit:
                    self.open_error = message
                self.log(f"Could not open {message}")
        self.open_sample(DEFAULT_SKILL)

    def report_open_error(self) -> None:
        """Say, as File > Open does, why the skill asked for could not be opened."""
        if self.open_error:
            QMessageBox.critical(
                self, "Cannot open skill", f"{self.open_error}\n\nThe default sample was opened instead."
            )

    def offer_recovery(self) -> None:
        """After a crash: offer each recovery copy left on disk (called once the window shows).

        A copy that cannot be read is never deleted: it is moved aside and the user told where.
        """
        found = find_recoveries()
        notes = list(found.notes)
        for recovery in found.found:
            try:
                skill = recovery.load()
            except Exception as exc:
                notes.append(self._set_aside(recovery, exc))
                continue
            where = str(recovery.original) if recovery.original else "an unsaved skill"
            answer = QMessageBox.question(
                self,
                "Restore unsaved work?",
                f"Skill Designer did not close cleanly. Restore the changes to {where} that were not saved?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Discard,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                recovery.discard()
                self.set_skill(skill, recovery.original, unsaved=True)  # restored work is not on disk yet
                self.show_status("Restored unsaved work; save it to keep it.")
                break
            recovery.discard()
        for note in notes:
            self.log(f"Recovery: {note}")
        if notes:
            QMessageBox.warning(
                self,
                "Recovery copies skipped",
                "Some recovery copies could not be offered:\n\n" + "\n".join(f"• {n}" for n in notes),
            )
        self.deployments.offer_recovery()

    def _set_aside(self, recovery: Recovery, error: Exception) -> str:
        try:
            moved = recovery.set_aside()
        except OSError as exc:
            return f"{recovery.file} cannot be read ({error}) and could not be moved aside ({exc}); it stays"
        return f"{recovery.file} cannot be read ({error}); it was kept as {moved}"

    # -- reacting to edits -------------------------------------------------------------------------

    def _on_skill_changed(self, skill: Skill) -> None:
        self.properties.refresh(skill)
        if not self.canvas.undo_stack().isClean():
            self._autosave.start()
        self._update_title()

    def _show_problems(self, problems: list[Problem]) -> None:
        self.canvas.show_problems(problems)
        self.properties.refresh(self.canvas.skill(), problems)
        errors = sum(p.is_error for p in problems)
        warnings = len(problems) - errors
        self.problem_count.setText(
            "  No problems  " if not problems else f"  {errors} error(s), {warnings} warning(s)  "
        )
        self.problems_dock.setWindowTitle(f"Problems ({len(problems)})" if problems else "Problems")

    def _on_selection(self, node_ids: list[str]) -> None:
        self.properties.show_node(node_ids[0] if len(node_ids) == 1 else None)
        if len(node_ids) == 1:
            self.properties_dock.raise_()

    def _on_node_added(self, node_id: str) -> None:
        """A node with a dialog of its own says how to open it (a modal dialog at every drop
        got in the way of building the graph first)."""
        node = self.canvas.skill().node(node_id)
        if node is not None and has_own_dialog(node.type):
            self.show_status(f"{node.name}: double-click it or press Enter to set it up", 10000)

    def _on_node_activated(self, node_id: str) -> None:
        node = self.canvas.skill().node(node_id)
        if node is not None and has_own_dialog(node.type):
            self._edit_grpc(node_id)
        else:
            self.canvas.select_node(node_id)

    def _edit_grpc(self, node_id: str) -> None:
        from designer.ui.dialogs.grpc import edit_grpc_node

        node = self.canvas.skill().node(node_id)
        if node is None:
            return
        result = edit_grpc_node(self, node.type, dict(node.params), self.document.skill_dir())
        if result is not None:
            type_id, params = result
            self.canvas.change_node_type(node_id, type_id, params)

    def go_to(self, node_id: str | None, param: str | None = None) -> None:
        """Show a node and one of its fields (a problem clicked, a preview that could not start);
        None is the skill's own settings."""
        if node_id and self.canvas.node(node_id) is not None:
            self.canvas.select_node(node_id)
            self.properties.show_node(node_id)
            self.properties_dock.show()
            self.properties_dock.raise_()
            if self.properties.form is not None:
                self.properties.form.focus_param(param)
        elif node_id is None:
            self.edit_settings()

    def show_quick_add(self) -> None:
        """The Tab search, at the mouse when it is on the canvas (the node goes there), else centred."""
        view = self.canvas.graph.viewer()
        self._quick_add_at = self.canvas.cursor_scene_pos()
        if self._quick_add_at is not None:
            self.quick_add.popup(QCursor.pos())
        else:
            self.quick_add.popup(view.mapToGlobal(view.rect().center()) - self.quick_add.rect().center())

    # -- files ----------------------------------------------------------------------------------

    def _update_title(self, *_: object) -> None:
        modified = not self.canvas.undo_stack().isClean()
        self.setWindowModified(modified)
        name = self.canvas.base.settings.name or "Untitled skill"
        self.setWindowTitle(f"{self.document.display_name()}[*] — {name} — {APP_NAME}")

    def _write_recovery(self) -> None:
        if self.canvas.undo_stack().isClean():
            return
        text, document = dump_skill(self.canvas.skill()), self.document
        generation = document.generation
        submit(
            document.autosave,
            text,
            generation,
            on_error=lambda m: self.log(f"Autosave failed: {m}"),
            parent=self,
        )

    def maybe_save(self) -> bool:
        """True when it is fine to drop the open skill (saved, discarded, or nothing to save)."""
        if self.canvas.undo_stack().isClean():
            return True
        return ask_to_save(self, APP_NAME, self.document.display_name(), self.save)

    def new_skill(self) -> None:
        if not self.maybe_save():
            return
        from designer.ui.dialogs.new_skill import NewSkillWizard

        wizard = NewSkillWizard(self, library=self.session.library)
        if wizard.exec():
            self.set_skill(wizard.skill(), unsaved=True)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self, "Open skill", str(self.document.skill_dir()), SKILL_FILTER
        )
        if path:
            self.open_file(Path(path), ask=False)

    def open_file(self, path: Path, ask: bool = True) -> bool:
        if ask and not self.maybe_save():
            return False
        try:
            skill = load_skill(path)
        except Exception as exc:
            QMessageBox.critical(self, "Cannot open skill", str(exc))
            return False
        self.set_skill(skill, path)
        self._remember(path)
        self.show_status(f"Opened {path}")
        return True

    def open_sample(self, path: Path) -> None:
        """A sample opens as a new skill (no path), so saving never overwrites the bundled file;
        unedited, it is not "modified": New and Quit do not ask about it."""
        if not self.maybe_save():
            return
        skill = load_skill(path)
        for node in skill.nodes:  # the files the sample reads stay where they are
            spec = get_spec(node.type)
            for key in spec.fields_marked(Mark.READS) if spec is not None else ():
                value = node.params.get(key)
                if (
                    isinstance(value, str)
                    and value
                    and not value.startswith("$")
                    and (path.parent / value).exists()
                ):
                    node.params[key] = str((path.parent / value).resolve())
        self.set_skill(skill)
        self.show_status(f"Sample {path.name} opened as a new skill")

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        start = str(
            self.document.path or Path.cwd() / f"{self.canvas.base.settings.name or 'skill'}.skill.json"
        )
        path, _ = QFileDialog.getSaveFileName(self, "Save skill", start, SKILL_FILTER)
        if not path:
            return False
        if not path.endswith(".skill.json"):
            path += ".skill.json"
        return self._save_to(Path(path))

    def _save_to(self, path: Path) -> bool:
        if _read_only(path):
            answer = QMessageBox.question(
                self,
                "Replace a read-only file?",
                f"{path} is read-only. Replace it anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.show_status(f"Not saved: {path} is read-only")
                return False
        try:
            self.document.save(self.canvas.skill(), path)
        except Exception as exc:
            QMessageBox.critical(self, "Cannot save skill", f"{path}: {exc}")
            return False
        self.canvas.undo_stack().setClean()
        self._remember(path)
        self._update_title()
        self.show_status(f"Saved {path}")
        return True

    def import_kan(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Import POSS/KAN skill", str(Path.cwd()), KAN_FILTER)
        if path:
            self.import_kan_file(Path(path))

    def import_kan_file(self, path: Path) -> None:
        from designer.core.skill.kan import KanError, import_kan, load_kan_text

        try:
            skill, report = import_kan(load_kan_text(path.read_text(encoding="utf-8-sig"), str(path)))
        except (KanError, OSError, ValueError) as exc:
            QMessageBox.critical(self, "Cannot import KAN skill", str(exc))
            return
        self.set_skill(skill, unsaved=True)
        self._report("Imported POSS/KAN skill", path, report.notes)

    def export_kan(self) -> None:
        from designer.core.skill.files import write_atomic
        from designer.core.skill.kan import dump_kan, export_kan

        name = self.canvas.base.settings.name or "skill"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export POSS/KAN skill", str(Path.cwd() / f"{name}.yaml"), KAN_FILTER
        )
        if not path:
            return
        try:
            resource, report = export_kan(self.canvas.skill())
            write_atomic(path, dump_kan(resource))
        except Exception as exc:
            QMessageBox.critical(self, "Cannot export KAN skill", f"{path}: {exc}")
            return
        self._report("Exported POSS/KAN skill", Path(path), report.notes)

    def _report(self, title: str, path: Path, notes: list[str]) -> None:
        self.log(f"{title}: {path}")
        for note in notes:
            self.log(f"  note: {note}")
        box = QMessageBox(self)
        box.setWindowTitle(title)
        box.setIcon(QMessageBox.Icon.Information if not notes else QMessageBox.Icon.Warning)
        box.setText(f"{title}: {path.name}" + ("" if notes else "\n\nEverything carried over."))
        if notes:
            box.setInformativeText(f"{len(notes)} thing(s) did not carry over exactly:")
            box.setDetailedText("\n".join(f"• {note}" for note in notes))
        box.exec()

    def edit_settings(self) -> None:
        from designer.ui.dialogs.settings import edit_settings

        settings = edit_settings(self, self.canvas.base.settings)
        if settings is not None:
            self.canvas.set_settings(settings)

    def about(self) -> None:
        from designer import __version__

        QMessageBox.about(
            self,
            f"About {APP_NAME}",
            f"<b>{APP_NAME}</b> {__version__}<br/>Design, preview and ship edge-AI video skills.",
        )

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save() or not self.deployments.maybe_save():
            event.ignore()
            return
        if self.preview is not None:
            self.preview.shutdown()
        self.deployments.shutdown()
        self._autosave.stop()
        self.document.close()
        self._save_geometry()
        event.accept()
