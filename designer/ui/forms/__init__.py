"""Property forms generated from each node type's pydantic parameter model."""

from designer.ui.forms.node_form import NodeForm, PropertiesPanel

__all__ = ["NodeForm", "PropertiesPanel"]
