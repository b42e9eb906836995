"""Regenerate the committed gRPC stubs from ``proto/custom_node.proto``.

The stubs are committed (so installs need no protoc) and a test regenerates
them and compares, so the two cannot drift. A copy of the proto goes next to
them, so an installed package can ship the contract in exported skills.
grpcio-tools writes a top-level ``import custom_node_pb2``; we rewrite it so
the stubs import as part of this package and never shadow a user's own
``custom_node_pb2`` module.

Run from a source checkout: ``python -m designer.customnode.regenerate``.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

PACKAGE = "designer.customnode"
PACKAGE_DIR = Path(__file__).resolve().parent
DEFAULT_PROTO = PACKAGE_DIR.parents[1] / "proto" / "custom_node.proto"
# The .pyi gives the messages, built at run time from a descriptor, types a checker can read.
STUB_NAMES = ("custom_node_pb2.py", "custom_node_pb2.pyi", "custom_node_pb2_grpc.py")
PROTO_COPY = "custom_node.proto"

_TOP_LEVEL_IMPORT = re.compile(r"^import custom_node_pb2 as (\w+)$", re.MULTILINE)


class RegenerateError(RuntimeError):
    """protoc failed or the proto file is missing."""


def generate(proto: Path = DEFAULT_PROTO, out_dir: Path = PACKAGE_DIR) -> list[Path]:
    """Run grpcio-tools on ``proto`` and write package-relative stubs into ``out_dir``."""
    from grpc_tools import protoc  # dev-only dependency: import lazily

    proto = Path(proto).resolve()
    if not proto.is_file():
        raise RegenerateError(f"{proto}: proto file not found; run from a source checkout")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as raw_dir:
        args = [
            "grpc_tools.protoc",
            f"-I{proto.parent}",
            f"--python_out={raw_dir}",
            f"--pyi_out={raw_dir}",
            f"--grpc_python_out={raw_dir}",
            proto.name,
        ]
        if protoc.main(args) != 0:
            raise RegenerateError(f"{proto}: protoc failed (see its message above)")
        written = []
        for name in STUB_NAMES:
            text = (Path(raw_dir) / name).read_text(encoding="utf-8")
            text = _TOP_LEVEL_IMPORT.sub(rf"from {PACKAGE} import custom_node_pb2 as \1", text)
            target = out_dir / name
            target.write_text(text, encoding="utf-8")
            written.append(target)
    copy = out_dir / PROTO_COPY
    copy.write_bytes(proto.read_bytes())
    return [*written, copy]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proto", type=Path, default=DEFAULT_PROTO, help="the .proto file")
    parser.add_argument("--out", type=Path, default=PACKAGE_DIR, help="where to write the stubs")
    args = parser.parse_args(argv)
    try:
        for path in generate(args.proto, args.out):
            print(f"wrote {path}")
    except RegenerateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
