"""Skill packages: export, verify, unpack and import, and the fleet manifests inside them.

For the designer: ``export_package(skill, skill_path, out_path, progress=cb)`` returns an
``ExportReport``; ``import_package(zip_path, dest_dir, library)`` returns
``(skill_path, ImportReport)``. Both raise ``PackageError`` (``ExportError`` carries the
validation problems) with a message that names the file or node.

Names load on first use: verifying or running a package never imports ONNX (seconds on a
small device), which only exporting needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "Limits": "archive",
    "PackageReader": "archive",
    "unpack_package": "archive",
    "verify_package": "archive",
    "ExportError": "export",
    "ExportReport": "export",
    "export_package": "export",
    "ImportReport": "importer",
    "import_package": "importer",
    "Manifest": "manifest",
    "PackageError": "manifest",
    "OpenedPackage": "runner",
    "is_package": "runner",
    "open_package": "runner",
}

if TYPE_CHECKING:
    from designer.core.package.archive import Limits, PackageReader, unpack_package, verify_package
    from designer.core.package.export import ExportError, ExportReport, export_package
    from designer.core.package.importer import ImportReport, import_package
    from designer.core.package.manifest import Manifest, PackageError
    from designer.core.package.runner import OpenedPackage, is_package, open_package


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)


__all__ = [
    "ExportError",
    "ExportReport",
    "ImportReport",
    "Limits",
    "Manifest",
    "OpenedPackage",
    "PackageError",
    "PackageReader",
    "export_package",
    "import_package",
    "is_package",
    "open_package",
    "unpack_package",
    "verify_package",
]
