"""Live preview: run the canvas skill on a webcam, file or stream, with the engine devices run.

``install_preview(session, shell)`` adds Run / Stop, the preview and insights docks and the
status summary through the shell, follows the session's skill, and returns the controller (the
window calls its ``shutdown()`` when it closes).
"""

from __future__ import annotations

from designer.ui.preview.controller import PreviewController
from designer.ui.session import Session
from designer.ui.shell import Shell


def install_preview(session: Session, shell: Shell, *, probe_webcams: bool = True) -> PreviewController:
    """Wire the preview into the designer (see the module docstring)."""
    return PreviewController(session, shell, probe_webcams=probe_webcams)


__all__ = ["PreviewController", "install_preview"]
