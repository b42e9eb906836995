"""The Deployments page: several cameras on one device, each with its skills (``page.py``),
the draft being edited with its undo history (``draft.py``), and the live run (``live.py``)."""

from designer.ui.deployments.page import DeploymentsPage, install_deployments

__all__ = ["DeploymentsPage", "install_deployments"]
