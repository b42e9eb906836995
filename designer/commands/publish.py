"""`skill-designer publish PACKAGE.zip`: put a package in Azure Blob storage for devices to fetch."""

from __future__ import annotations

import argparse
import json
import os
import sys

from designer.core.package import PackageError
from designer.core.secrets import mask_secrets

CONNECTION_ENV = "AZURE_STORAGE_CONNECTION_STRING"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "publish",
        help="upload a package to Azure Blob storage for devices",
        description="Verify a package and upload it to an Azure Blob storage container as "
        "<skill id>/<sha256>.zip (nothing is sent when it is there already). Prints the blob URL and the "
        "SHA-256 a deployment gives the runtime (SKILL_PACKAGE_URL, SKILL_PACKAGE_SHA256); with -o, writes "
        "the package's deployment files filled for it (as `fill` does). Credentials: --container-url with a "
        f"SAS, or --connection-string (else ${CONNECTION_ENV}) and --container, or your Azure sign-in "
        "(DefaultAzureCredential) for a --container-url without SAS. Exit status: 0 published, 1 refused.",
    )
    parser.add_argument("package", metavar="PACKAGE.zip")
    parser.add_argument(
        "--container-url", metavar="URL", help="https://<account>.blob.core.windows.net/<container>[?SAS]"
    )
    parser.add_argument(
        "--connection-string", metavar="TEXT", help=f"a storage connection string (or ${CONNECTION_ENV})"
    )
    parser.add_argument("--container", metavar="NAME", help="the container, with a connection string")
    parser.add_argument(
        "-o", "--out", metavar="FOLDER", help="also write the deployment files, filled for the blob"
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="with -o: the value of a $param(NAME)",
    )
    parser.add_argument("--source", metavar="CAMERA", help="with -o: the device's camera (see `fill`)")
    parser.add_argument(
        "--kan-model", action="append", default=[], metavar="NODE=MODEL", help="with -o: see `fill`"
    )
    parser.add_argument("--force", action="store_true", help="with -o: replace files already in FOLDER")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from designer.core.package.blobstore import publish_package
    from designer.core.package.fill import fill_deploy_files, write_filled
    from designer.core.skill import ParamError
    from designer.core.skill.params import parse_assignments

    connection = args.connection_string or (
        os.environ.get(CONNECTION_ENV) if not args.container_url else None
    )
    try:
        values = parse_assignments(args.param)
        kan_models = dict(item.partition("=")[::2] for item in args.kan_model)
        published = publish_package(
            args.package,
            container_url=args.container_url,
            connection_string=connection,
            container=args.container,
        )
        written = []
        if args.out:
            filled = fill_deploy_files(
                args.package,
                values,
                source=args.source,
                kan_models=kan_models,
                published=(published.url, published.sha256),
            )
            written = write_filled(filled, args.out, force=args.force)
    except (PackageError, ParamError, OSError, ValueError) as exc:
        print(f"error: {mask_secrets(str(exc))}", file=sys.stderr)
        return 1
    if args.json:
        result = {"url": published.url, "sha256": published.sha256, "size": published.size}
        print(
            json.dumps(
                {**result, "uploaded": published.uploaded, "wrote": [str(p) for p in written]},
                indent=2,
                allow_nan=False,
            )
        )
        return 0
    print(f"{'published' if published.uploaded else 'already there'}: {published.url}")
    print(f"SKILL_PACKAGE_URL={published.url}")
    print(f"SKILL_PACKAGE_SHA256={published.sha256}")
    for path in written:
        print(f"wrote {path}")
    return 0
