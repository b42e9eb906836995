"""Skill packages: export, verify, unpack and import, and the fleet manifests inside them.

For the designer: ``export_package(skill, skill_path, out_path, progress=cb)`` returns an
``ExportReport``; ``import_package(zip_path, dest_dir, library)`` returns
``(skill_path, ImportReport)``. Both raise ``PackageError`` (``ExportError`` carries the
validation problems) with a message that names the file or node.
"""

from designer.core.package.archive import Limits, PackageReader, unpack_package, verify_package
from designer.core.package.export import ExportError, ExportReport, export_package
from designer.core.package.importer import ImportReport, import_package
from designer.core.package.manifest import Manifest, PackageError
from designer.core.package.runner import OpenedPackage, is_package, open_package

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
