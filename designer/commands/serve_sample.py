"""`skill-designer serve-sample NAME [--port P]`: a running custom node in one command."""

from __future__ import annotations

import argparse
import signal
import sys

from designer.customnode import pb2
from designer.customnode.samples import SAMPLES
from designer.customnode.server import CustomNodeServer

_IMAGE_TYPES = {
    "numpy": pb2.IMAGE_TYPE_NUMPY,
    "bmp": pb2.IMAGE_TYPE_BMP,
    "jpeg": pb2.IMAGE_TYPE_JPEG,
}


def register(subparsers: argparse._SubParsersAction) -> None:
    samples = "; ".join(
        f"{name}: {sample.summary}, port {sample.default_port}" for name, sample in SAMPLES.items()
    )
    parser = subparsers.add_parser(
        "serve-sample",
        help="start a sample custom node (gRPC server)",
        description=f"Start a sample custom node and serve until Ctrl+C. Samples: {samples}.",
    )
    parser.add_argument("name", choices=sorted(SAMPLES), metavar="NAME", help=", ".join(SAMPLES))
    parser.add_argument(
        "--port", type=int, help="port to listen on (default: the sample's; 0: any free port)"
    )
    parser.add_argument("--host", default="[::]", help="interface to bind (default: all)")
    parser.add_argument(
        "--image-type",
        choices=sorted(_IMAGE_TYPES),
        default="numpy",
        help="image encoding the node asks for in its handshake (default: numpy)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sample = SAMPLES[args.name]
    port = sample.default_port if args.port is None else args.port
    if not 0 <= port <= 65535:
        print(f"serve-sample: --port {port} is not in 0..65535", file=sys.stderr)
        return 2
    server = CustomNodeServer(port, sample.factory(_IMAGE_TYPES[args.image_type]), host=args.host)
    try:
        server.start()
    except OSError as exc:
        print(f"serve-sample {args.name}: {exc}", file=sys.stderr)
        return 1
    # SIGTERM (docker stop, kill) stops as cleanly as Ctrl+C
    signal.signal(signal.SIGTERM, lambda *_: server.stop(grace=1.0))
    local = "127.0.0.1" if args.host in ("[::]", "0.0.0.0", "") else args.host
    print(
        f"serving sample custom node '{args.name}' ({sample.summary}) on {args.host}:"
        f"{server.port}; connect with {local}:{server.port}; Ctrl+C stops it",
        flush=True,
    )
    server.serve(announce=False)  # said above, with the address to connect to
    return 0
