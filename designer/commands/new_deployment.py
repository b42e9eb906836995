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
    parser.add_argument("name", help="the deployment's name")
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
