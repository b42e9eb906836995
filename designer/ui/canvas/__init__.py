"""The canvas: NodeGraphQt behind one thin layer, and the adapter between it and a Skill."""

from designer.ui.canvas.canvas import NODE_MIME, Canvas

__all__ = ["NODE_MIME", "Canvas"]
