"""File > Export package… and Import package…: the core's packager, with progress, off the GUI thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog

from designer.core.paths import data_dir
from designer.ui.workers import submit

PACKAGE_FILTER = "Skill packages (*.zip);;All files (*)"


def install_package_actions(window: Any) -> None:
    file_menu = window.menu("&File")
    export = window.add_action("Export &package…", lambda: export_package(window), "Ctrl+E")
    import_ = window.add_action("Import packa&ge…", lambda: import_package(window), "Ctrl+Shift+I")
    file_menu.insertActions(window.package_menu_anchor, [export, import_])


def _progress_dialog(window: Any, title: str) -> QProgressDialog:
    dialog = QProgressDialog(title, "", 0, 100, window)
    dialog.setWindowTitle(title)
    dialog.setCancelButton(None)  # packaging is short and atomic: nothing half-written to cancel
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    return dialog


def _show_step(dialog: QProgressDialog, fraction: float, step: str) -> None:
    dialog.setLabelText(step.capitalize() + "…")
    dialog.setValue(int(100 * fraction))


def _steps(progress):
    """The core reports (step, done, total); the worker takes (fraction, text)."""
    return lambda step, done, total: progress(done / total if total else 0.0, step)


def export_package(window: Any) -> None:
    from designer.core.package import export_package as export

    skill = window.canvas.skill()
    name = skill.settings.name or "skill"
    start = (window.document.skill_dir() / f"{name}.zip").as_posix()
    target, _ = QFileDialog.getSaveFileName(window, "Export skill package", start, PACKAGE_FILTER)
    if not target:
        return
    out = Path(target if target.endswith(".zip") else target + ".zip")
    dialog = _progress_dialog(window, "Exporting package")
    library = window.library

    def work(progress):
        return export(skill, window.document.path, out, library=library(), progress=_steps(progress))

    def done(report) -> None:
        dialog.close()
        lines = [
            f"{report.path} ({report.size / 1e6:.1f} MB, {len(report.files)} files, {report.seconds:.1f} s)"
        ]
        if report.required_env:
            lines.append(
                "Set these on each device (secrets were moved out of the package): "
                + ", ".join(report.required_env)
            )
        if report.params:
            lines.append("Per-device values ($param): " + ", ".join(report.params))
        window.log("Exported package " + lines[0])
        for text in lines[1:] + [f"warning: {w}" for w in report.warnings]:
            window.log("  " + text)
        box = QMessageBox(window)
        box.setWindowTitle("Package exported")
        box.setIcon(QMessageBox.Icon.Information)
        box.setText("\n\n".join(lines))
        notes = [*report.warnings, *(f"KAN: {n}" for n in report.kan_notes)]
        if notes:
            box.setDetailedText("\n".join(f"• {n}" for n in notes))
        box.exec()

    def failed(message: str) -> None:
        dialog.close()
        window.reveal_problems()
        QMessageBox.critical(window, "Cannot export package", message)

    on_progress = lambda fraction, step: _show_step(dialog, fraction, step)  # noqa: E731
    submit(work, on_done=done, on_error=failed, on_progress=on_progress, parent=window)
    dialog.show()


def import_package(window: Any) -> None:
    from designer.core.package import import_package as unpack
    from designer.core.skill import load_skill

    if not window.maybe_save():
        return
    source, _ = QFileDialog.getOpenFileName(window, "Import skill package", str(Path.cwd()), PACKAGE_FILTER)
    if not source:
        return
    dialog = _progress_dialog(window, "Importing package")
    library = window.library
    dest = data_dir() / "packages"

    def done(result) -> None:
        dialog.close()
        skill_path, report = result
        window.set_skill(load_skill(skill_path), skill_path)
        window.log(f"Imported package {source} into {report.folder}")
        for note in report.notes:
            window.log(f"  note: {note}")
        added = ", ".join(report.models_added) or "none"
        window.show_status(f"Package imported; models added to the library: {added}", 10000)

    def failed(message: str) -> None:
        dialog.close()
        QMessageBox.critical(window, "Cannot import package", message)

    def work(progress):
        return unpack(source, dest, library(), progress=_steps(progress))

    on_progress = lambda fraction, step: _show_step(dialog, fraction, step)  # noqa: E731
    submit(work, on_done=done, on_error=failed, on_progress=on_progress, parent=window)
    dialog.show()
