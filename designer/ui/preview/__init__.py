"""Live preview: run the canvas skill on a webcam, file or stream, with the engine devices run.

``install_preview(window)`` adds Run / Stop, the preview and insights docks and the status
summary to the main window, and returns the controller (the window keeps it as
``window.preview`` and calls ``shutdown()`` when it closes).
"""

from __future__ import annotations

from typing import Any

from designer.ui.preview.controller import PreviewController


def install_preview(window: Any, *, probe_webcams: bool = True) -> PreviewController:
    """Wire the preview into ``window`` (a MainWindow, see the module docstring)."""
    controller = PreviewController(window, probe_webcams=probe_webcams)
    window.preview = controller
    return controller


__all__ = ["PreviewController", "install_preview"]
