"""Which node types have a dialog of their own (double-click and adding one open it).

Read from catalog objects, never from type names typed here; cheap to import (the dialogs
themselves load on demand).
"""

from __future__ import annotations

from designer.core.skill.catalog.process import GRPC_CONTAINER, GRPC_ENDPOINT

#: Type ids whose node opens the gRPC dialog (which also switches between the two).
GRPC_DIALOG_TYPES = frozenset({GRPC_ENDPOINT.type_id, GRPC_CONTAINER.type_id})


def has_own_dialog(type_id: str) -> bool:
    return type_id in GRPC_DIALOG_TYPES
