"""File > Export package… and Import package…: the core's packager, with progress, off the GUI thread."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox, QProgressDialog, QWidget

from designer.core.paths import data_dir
from designer.ui.session import Session
from designer.ui.shell import Shell
from designer.ui.workers import submit

PACKAGE_FILTER = "Skill packages (*.zip);;All files (*)"


def install_package_actions(session: Session, shell: Shell) -> None:
    shell.add_action("Export &package…", lambda: export_package(session, shell), "Ctrl+E", menu="&File")
    shell.add_action("Import packa&ge…", lambda: import_package(session, shell), "Ctrl+Shift+I", menu="&File")


def _progress_dialog(window: QWidget, title: str) -> QProgressDialog:
    dialog = QProgressDialog(title, "", 0, 100, window)
    dialog.setWindowTitle(title)
    dialog.setCancelButton(None)  # packaging is short and atomic: nothing half-written to cancel
    dialog.setWindowModality(Qt.WindowModality.WindowModal)
    dialog.setMinimumDuration(300)
    return dialog


def _show_step(dialog: QProgressDialog, fraction: float, step: str) -> None:
    dialog.setLabelText(step.capitalize() + "…")
    dialog.setValue(int(100 * fraction))


def _steps(progress: Callable[[float, str], None]) -> Callable[[str, int, int], None]:
    """The core reports (step, done, total); the worker takes (fraction, text)."""
    return lambda step, done, total: progress(done / total if total else 0.0, step)


def export_package(session: Session, shell: Shell) -> None:
    from designer.core.package import export_package as export

    window = shell.widget()
    skill = session.skill()
    name = skill.settings.name or "skill"
    start = (session.skill_dir() / f"{name}.zip").as_posix()
    target, _ = QFileDialog.getSaveFileName(window, "Export skill package", start, PACKAGE_FILTER)
    if not target:
        return
    out = Path(target if target.endswith(".zip") else target + ".zip")
    dialog = _progress_dialog(window, "Exporting package")
    library, skill_path = session.library, session.document.path

    def work(progress):
        return export(skill, skill_path, out, library=library(), progress=_steps(progress))

    def done(report) -> None:
        from designer.core.skill import compile_skill

        dialog.close()
        warnings = list(report.warnings) + [
            f"{node_id} {param} is {value}: on the device this is the device itself, not this machine; "
            "set the server's address as the device reaches it (or a $param)."
            for node_id, param, value in compile_skill(skill, target=True).loopback_endpoints()
        ]
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
        shell.log("Exported package " + lines[0])
        for text in lines[1:] + [f"warning: {w}" for w in warnings]:
            shell.log("  " + text)
        box = QMessageBox(window)
        box.setWindowTitle("Package exported")
        # warnings in the message itself, not behind "Show Details…"; KAN notes stay there
        box.setIcon(QMessageBox.Icon.Warning if warnings else QMessageBox.Icon.Information)
        if warnings:
            lines.append("Warnings:\n" + "\n".join(f"• {w}" for w in warnings))
        box.setText("\n\n".join(lines))
        notes = [f"KAN: {n}" for n in report.kan_notes]
        if notes:
            box.setDetailedText("\n".join(f"• {n}" for n in notes))
        box.exec()

    def failed(message: str) -> None:
        dialog.close()
        shell.reveal_problems()
        QMessageBox.critical(window, "Cannot export package", message)

    on_progress = lambda fraction, step: _show_step(dialog, fraction, step)  # noqa: E731
    submit(work, on_done=done, on_error=failed, on_progress=on_progress, parent=window)
    dialog.show()


def import_package(session: Session, shell: Shell) -> None:
    from designer.core.package import import_package as unpack
    from designer.core.skill import load_skill

    if not shell.maybe_save():
        return
    window = shell.widget()
    source, _ = QFileDialog.getOpenFileName(window, "Import skill package", str(Path.cwd()), PACKAGE_FILTER)
    if not source:
        return
    dialog = _progress_dialog(window, "Importing package")
    library = session.library
    dest = data_dir() / "packages"

    def done(result) -> None:
        dialog.close()
        skill_path, report = result
        shell.open_skill(load_skill(skill_path), skill_path)
        shell.log(f"Imported package {source} into {report.folder}")
        for note in report.notes:
            shell.log(f"  note: {note}")
        added = ", ".join(report.models_added) or "none"
        shell.show_status(f"Package imported; models added to the library: {added}", 10000)

    def failed(message: str) -> None:
        dialog.close()
        QMessageBox.critical(window, "Cannot import package", message)

    def work(progress):
        return unpack(source, dest, library(), progress=_steps(progress))

    on_progress = lambda fraction, step: _show_step(dialog, fraction, step)  # noqa: E731
    submit(work, on_done=done, on_error=failed, on_progress=on_progress, parent=window)
    dialog.show()
