"""Qt tests run offscreen, with settings and the model library in temporary folders."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


@pytest.fixture(autouse=True)
def _isolated_user_state(tmp_path_factory, monkeypatch):
    """QSettings, recovery files and the model library never touch the user's real ones."""
    from PySide6.QtCore import QSettings

    home = tmp_path_factory.mktemp("user")
    monkeypatch.setenv("SKILL_DESIGNER_DATA", str(home / "data"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(home / "settings"))
    yield


@pytest.fixture
def open_window(qtbot):
    """Makes the main window, shown at 1400x900, once its skill is built and validated; called
    after a test's own patches (dialogs answered, gRPC dialog stubbed) are in place."""
    from designer.ui.window import MainWindow

    def make() -> MainWindow:
        win = MainWindow(restore_state=False)
        qtbot.addWidget(win)
        win.resize(1400, 900)
        win.show()
        qtbot.waitExposed(win)
        qtbot.waitUntil(lambda: not win.canvas.is_loading() and win.problem_count.text() != "", timeout=30000)
        return win

    return make


@pytest.fixture
def deployments_page(qtbot):
    """The Deployments page in a stand-in shell, shown; its run is stopped at the end."""
    from deployment_helpers import StandInShell

    from designer.ui.deployments import install_deployments
    from designer.ui.session import Session

    shell = StandInShell()
    qtbot.addWidget(shell)
    page = install_deployments(Session(validate=False), shell)
    shell.resize(1500, 1000)
    shell.show()
    page.parentWidget().show()
    yield page
    page.shutdown()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_teardown(item):
    """Let the background work a test started (the library page's listing, a check) finish
    before pytest-qt closes the test's windows: a worker still touching a task whose window is
    being collected can crash the interpreter, which takes the whole run down with it."""
    from PySide6.QtCore import QThreadPool

    QThreadPool.globalInstance().waitForDone(30000)
    return (yield)
