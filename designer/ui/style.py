"""Light and dark palettes (following the system's colour scheme) and a small style sheet."""

from __future__ import annotations

import os

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

DARK = {
    QPalette.ColorRole.Window: "#25272b",
    QPalette.ColorRole.WindowText: "#e6e6e6",
    QPalette.ColorRole.Base: "#1d1f22",
    QPalette.ColorRole.AlternateBase: "#2a2d31",
    QPalette.ColorRole.ToolTipBase: "#2f333a",
    QPalette.ColorRole.ToolTipText: "#e6e6e6",
    QPalette.ColorRole.Text: "#e6e6e6",
    QPalette.ColorRole.Button: "#2f3237",
    QPalette.ColorRole.ButtonText: "#e6e6e6",
    QPalette.ColorRole.Highlight: "#3b78d8",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.PlaceholderText: "#8a9099",
    QPalette.ColorRole.Link: "#6ea8ff",
}
LIGHT = {
    QPalette.ColorRole.Window: "#f3f4f6",
    QPalette.ColorRole.WindowText: "#1f2328",
    QPalette.ColorRole.Base: "#ffffff",
    QPalette.ColorRole.AlternateBase: "#f6f8fa",
    QPalette.ColorRole.ToolTipBase: "#ffffff",
    QPalette.ColorRole.ToolTipText: "#1f2328",
    QPalette.ColorRole.Text: "#1f2328",
    QPalette.ColorRole.Button: "#f6f7f9",
    QPalette.ColorRole.ButtonText: "#1f2328",
    QPalette.ColorRole.Highlight: "#3b78d8",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.PlaceholderText: "#8a9099",
    QPalette.ColorRole.Link: "#1f6feb",
}

SHEET = """
QLabel[muted="true"] { color: palette(placeholder-text); font-size: 9pt; }
QWidget[invalid="true"] QLineEdit, QWidget[invalid="true"] QSpinBox, QWidget[invalid="true"] QDoubleSpinBox,
QWidget[invalid="true"] QComboBox { border: 1px solid #d64545; border-radius: 3px; }
QDockWidget::title { padding: 4px 6px; }
QToolBar { spacing: 2px; padding: 2px; }
QStatusBar QLabel { padding: 0 6px; }
"""


def system_is_dark() -> bool:
    """The system's colour scheme; SKILL_DESIGNER_THEME=dark|light overrides it."""
    forced = os.environ.get("SKILL_DESIGNER_THEME", "").lower()
    if forced in ("dark", "light"):
        return forced == "dark"
    return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    palette = QPalette()
    for role, colour in (DARK if system_is_dark() else LIGHT).items():
        palette.setColor(role, QColor(colour))
        palette.setColor(
            QPalette.ColorGroup.Disabled,
            role,
            QColor(colour).darker(130) if system_is_dark() else QColor(colour).lighter(115),
        )
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#8a9099"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#8a9099"))
    palette.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.WindowText, QColor("#8a9099"))
    app.setPalette(palette)
    app.setStyleSheet(SHEET)
