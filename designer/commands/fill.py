"""`skill-designer fill PACKAGE.zip -o FOLDER`: the package's deployment files, filled for a device."""

from __future__ import annotations

import argparse
import sys

from designer.core.package import PackageError
from designer.core.secrets import mask_secrets
from designer.core.skill import ParamError
from designer.core.skill.params import parse_assignments


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fill",
        help="write a package's IoT Edge / Kubernetes / KAN files with the device's values",
        description=(
            "Write the package's deploy/iotedge, deploy/k8s and deploy/kan files into FOLDER with each "
            "${SKILL_PARAM_...} filled from --param (else its environment variable, else its default) "
            "and, in the IoT Edge files, each secret from its environment variable. Only the package's "
            "own names are replaced ($edgeAgent, $edgeHub and $upstream stay), a missing value is "
            "refused by name, and the result is checked (nothing left unfilled, valid image "
            "references). Files are written 0600. Exit status: 0 written, 1 refused, 2 bad arguments."
        ),
    )
    parser.add_argument(
        "package", metavar="PACKAGE.zip", help="a skill package, or a deployment's SITE.deploy.zip"
    )
    parser.add_argument("-o", "--out", required=True, metavar="FOLDER", help="where the filled files go")
    parser.add_argument(
        "--param", action="append", default=[], metavar="NAME=VALUE", help="the value of a $param(NAME)"
    )
    parser.add_argument(
        "--target",
        choices=("all", "iot-edge", "k8s", "kan"),
        default="all",
        help="which files (k8s needs no secret here: the cluster reads them from a Secret)",
    )
    parser.add_argument(
        "--source",
        metavar="CAMERA",
        help="the device's camera (RTSP URL, webcam index) where the skill reads a packaged video file",
    )
    parser.add_argument(
        "--kan-model",
        action="append",
        default=[],
        metavar="NODE=MODEL",
        help="the KAN Model resource a model node runs (the KAN file needs one for each model node)",
    )
    parser.add_argument("--force", action="store_true", help="replace filled files already in FOLDER")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from designer.core.deployment.package import is_deployment_package
    from designer.core.package.fill import TARGETS, fill_deploy_files, write_filled

    try:
        values = parse_assignments(args.param)
    except ParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    targets = TARGETS if args.target == "all" else (args.target,)
    if is_deployment_package(args.package):
        return _fill_deployment(args, values, targets)
    kan_models = {}
    for item in args.kan_model:
        node, sep, model = item.partition("=")
        if not sep or not node.strip() or not model.strip():
            print(f"error: --kan-model {item!r}: use NODE=MODEL", file=sys.stderr)
            return 2
        kan_models[node.strip()] = model.strip()
    try:
        filled = fill_deploy_files(
            args.package, values, targets=targets, source=args.source, kan_models=kan_models
        )
        written = write_filled(filled, args.out, force=args.force)
    except (PackageError, OSError, ValueError) as exc:
        print(f"error: {mask_secrets(str(exc))}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0


def _fill_deployment(args: argparse.Namespace, values: dict[str, str], targets: tuple[str, ...]) -> int:
    """A deployment package (``SITE.deploy.zip``): its one runtime's files, filled for the device."""
    from designer.core.deployment.fleet import fill_fleet_files
    from designer.core.deployment.package import DeploymentPackageError
    from designer.core.package.fill import write_filled

    if args.source or args.kan_model:
        option = "--source" if args.source else "--kan-model"
        print(
            f"error: {option} is for skill packages; a deployment's cameras are in its file", file=sys.stderr
        )
        return 2
    try:
        written = write_filled(
            fill_fleet_files(args.package, values, targets=targets), args.out, force=args.force
        )
    except (PackageError, DeploymentPackageError, OSError, ValueError) as exc:
        print(f"error: {mask_secrets(str(exc))}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    return 0
