"""Skill Designer: design, preview and ship edge-AI video skills."""

__version__ = "0.1.0"
