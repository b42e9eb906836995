"""`skill-designer new-deployment NAME -o SITE.deploy.json`: cameras of one device and their skills."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pydantic import ValidationError

from designer.commands.common import refuse_overwrite
from designer.core.deployment import Camera, Deployment, Device, SkillRef, save_deployment
from designer.core.skill.fields import ACCELERATIONS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "new-deployment",
        help="write a deployment: a device's cameras and the skills each runs",
        description="Write a *.deploy.json file: the device, its cameras (--camera NAME=SOURCE) and "
        "the skills each camera runs (--skill CAMERA=SKILL_FILE_OR_PACKAGE). Run it with "
        "`skill-designer run SITE.deploy.json`. Skill paths are written as given: relative "
        "paths are found next to the deployment file.",
    )
    parser.add_argument(
        "name", nargs="?", default="", help="the deployment's name (from the Instance with --from-kan)"
    )
    parser.add_argument("-o", "--output", required=True, metavar="SITE.deploy.json", help="where to write it")
    parser.add_argument("--device", default="device", help="the device's name (default: device)")
    parser.add_argument("--acceleration", default=ACCELERATIONS[0], choices=ACCELERATIONS)
    parser.add_argument(
        "--camera",
        action="append",
        default=[],
        metavar="NAME=SOURCE",
        help="a camera: webcam index, rtsp/http URL (credentials as $param(...)) or video file",
    )
    parser.add_argument(
        "--skill", action="append", default=[], metavar="CAMERA=SKILL", help="a skill the camera runs"
    )
    parser.add_argument(
        "--from-kan",
        metavar="INSTANCE.yaml",
        help="start from KAN Instance resources (one or more documents, or a kubectl List)",
    )
    parser.add_argument(
        "--skill-file",
        action="append",
        default=[],
        metavar="KAN_SKILL=FILE",
        help="with --from-kan: the skill file or package for a KAN skill (CR or display name)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    parser.set_defaults(func=run)


def _pair(item: str, option: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise ValueError(f"{option} {item!r}: write NAME=VALUE")
    return name.strip(), value.strip()


def run(args: argparse.Namespace) -> int:
    output = Path(args.output)
    if not output.name.endswith(".deploy.json"):
        print(f"{output}: a deployment file's name ends with .deploy.json", file=sys.stderr)
        return 2
    reason = refuse_overwrite(output, force=args.force)
    if reason:
        print(reason, file=sys.stderr)
        return 1
    if args.from_kan:
        return _from_kan(args, output)
    if not args.name.strip():
        print("error: the deployment needs a name", file=sys.stderr)
        return 2
    try:
        cameras: dict[str, Camera] = {}
        for item in args.camera:
            name, source = _pair(item, "--camera")
            if name in cameras:
                raise ValueError(f"--camera {item!r}: a camera named {name!r} is given twice")
            cameras[name] = Camera(name=name, source=source)
        for item in args.skill:
            camera, skill = _pair(item, "--skill")
            if camera not in cameras:
                raise ValueError(f"--skill {item!r}: no --camera named {camera!r}")
            cameras[camera].skills.append(SkillRef(skill=skill))
        deployment = Deployment(
            name=args.name,
            device=Device(name=args.device, acceleration=args.acceleration),
            cameras=list(cameras.values()),
        )
        deployment = Deployment.model_validate(deployment.model_dump())  # the file's own rules
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "deployment"
        print(f"error: {where}: {str(first['msg']).removeprefix('Value error, ')}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        save_deployment(deployment, output)
    except OSError as exc:
        print(f"{output}: cannot write: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0


def _from_kan(args: argparse.Namespace, output: Path) -> int:
    from designer.core.deployment.kan import KanInstanceError, import_kan_instances

    if args.camera or args.skill:
        print("error: --camera and --skill do not go with --from-kan: edit the file after", file=sys.stderr)
        return 2
    try:
        files = dict(_pair(item, "--skill-file") for item in args.skill_file)
        path = Path(args.from_kan)
        if path.stat().st_size > 2 * 1024 * 1024:
            raise KanInstanceError(f"{path}: larger than 2 MiB; is this a KAN Instance?")
        text = path.read_text(encoding="utf-8")
        imported = import_kan_instances(text, str(path), files, name=args.name.strip())
    except (KanInstanceError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: {args.from_kan}: cannot read: {exc.strerror}", file=sys.stderr)
        return 2
    for note in imported.notes:
        print(f"note: {note}", file=sys.stderr)
    try:
        save_deployment(imported.deployment, output)
    except OSError as exc:
        print(f"{output}: cannot write: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"wrote {output}")
    return 0
