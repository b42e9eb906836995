"""`skill-designer` with no command: checks the machine can show a window, then opens the designer.

What the designer cannot do without (a display, a Qt system library) is said
in one line, with the Debian package to install, instead of a traceback or
Qt's abort. Heavy parts (the engine, onnxruntime, grpc) load only when used.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

HEADLESS_HINT = "`skill-designer run SKILL_FILE` runs skills without a display"

# Shared libraries Qt needs that minimal Linux installs lack, with the Debian package holding each.
DEBIAN_PACKAGES = {
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libOpenGL.so.0": "libopengl0",
    "libfontconfig.so.1": "libfontconfig1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libX11-xcb.so.1": "libx11-xcb1",
}


def _package(library: str) -> str:
    return DEBIAN_PACKAGES.get(library, re.sub(r"\.so\.(\d+)$", r"\1", library).lower())


def _missing_libraries(binary: Path) -> list[str]:
    ldd = shutil.which("ldd")
    if ldd is None or not binary.exists():
        return []
    try:
        out = subprocess.run([ldd, str(binary)], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({m.group(1) for m in re.finditer(r"^\s*(\S+) => not found", out, re.MULTILINE)})


def startup_problem() -> str | None:
    """Why the designer cannot open a window here, in one line; None when it can."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if sys.platform.startswith("linux") and not platform:
        if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"):
            return f"no display: neither DISPLAY nor WAYLAND_DISPLAY is set; {HEADLESS_HINT}"
    try:
        import PySide6
        from PySide6 import QtWidgets  # noqa: F401  (loads Qt's own libraries)
    except ImportError as exc:
        found = re.search(r"(lib[\w.+-]+\.so[.\d]*)", str(exc))
        if found:
            return (
                f"Qt cannot load {found.group(1)}: install the Debian package {_package(found.group(1))} "
                f"(apt-get install {_package(found.group(1))}); {HEADLESS_HINT}"
            )
        return f"Qt for Python (PySide6) cannot be imported: {exc}; {HEADLESS_HINT}"
    if sys.platform.startswith("linux") and platform in ("", "xcb") and os.environ.get("DISPLAY"):
        plugin = Path(PySide6.__file__).parent / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        missing = _missing_libraries(plugin)
        if missing:
            packages = " ".join(dict.fromkeys(_package(lib) for lib in missing))
            return f"Qt's X11 support needs {', '.join(missing)}: apt-get install {packages}; {HEADLESS_HINT}"
    return None


def main(argv: list[str] | None = None) -> int:
    """Open the designer on ``argv[0]`` if given (a skill, or a deployment on its page), else the
    last skill, else the bundled default."""
    args = list(sys.argv[1:] if argv is None else argv)
    problem = startup_problem()
    if problem:
        print(f"skill-designer: {problem}", file=sys.stderr)
        return 2
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from designer.core.deployment import is_deployment
    from designer.ui.style import apply_style
    from designer.ui.window import MainWindow

    app = QApplication.instance() or QApplication([sys.argv[0], *args])
    app.setApplicationName("Skill Designer")
    app.setOrganizationName("skill-designer")
    apply_style(app)
    path = Path(args[0]) if args else None
    deployment = path if path is not None and is_deployment(path) else None
    window = MainWindow(None if deployment else path)
    window.show()
    if deployment is not None:  # a deployment opens on its page, next to the last skill
        QTimer.singleShot(0, lambda: window.deployments.open_file(deployment, reveal=True))
    if window.open_error:  # said on the terminal too: it may be where the user looks
        print(f"skill-designer: cannot open {window.open_error}", file=sys.stderr)
        QTimer.singleShot(0, window.report_open_error)
    QTimer.singleShot(0, window.offer_recovery)
    _probes(app, window)
    return app.exec()


def _probes(app, window) -> None:
    """Hooks for tests and benchmarks: report the window shown (and save a screenshot), then quit."""
    started = float(os.environ.get("SKILL_DESIGNER_STARTED", "0") or 0)
    if os.environ.get("SKILL_DESIGNER_STARTUP_PROBE"):
        from PySide6.QtCore import QTimer

        def shown() -> None:
            since = f" {time.time() - started:.3f}" if started else ""
            print(f"window-shown{since}", flush=True)
            window.canvas.undo_stack().setClean()  # nothing to ask about: quit without a prompt
            app.quit()

        QTimer.singleShot(0, shown)
    shot = os.environ.get("SKILL_DESIGNER_SCREENSHOT")
    if shot:
        from PySide6.QtCore import QTimer

        def grab() -> None:
            if window.canvas.is_loading():
                QTimer.singleShot(200, grab)
                return
            window.grab().save(shot)
            print("window-shown", flush=True)
            window.canvas.undo_stack().setClean()  # nothing to ask about: quit without a prompt
            window.close()

        QTimer.singleShot(2500, grab)
