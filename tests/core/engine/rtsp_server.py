"""A real RTSP camera on 127.0.0.1: a video clip re-encoded to H.264 by GStreamer's RTSP server.

Run with the system Python, which has PyGObject (Debian: python3-gi, gir1.2-gst-rtsp-server-1.0,
gstreamer1.0-plugins-good, -ugly, -libav; ``.ci/run`` installs them)::

    /usr/bin/python3 rtsp_server.py --clip clip.avi [--port 0] [--user admin --password s3cret]

It prints ``READY <port>`` once it listens, then serves ``rtsp://127.0.0.1:<port>/stream``
until it gets SIGTERM or SIGINT. Every client gets its own pipeline, so each connection starts
at the first frame of the clip, played at the clip's own pace. With ``--user``/``--password``
the server asks for HTTP Basic credentials, as most IP cameras do, and answers others 401.

Kept free of the project's imports and of pytest: ``rtsp_camera.py`` starts it as a process.
"""

from __future__ import annotations

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402 -- after require_version

PIPELINE = (
    "( filesrc location={clip} ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=I420 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=5 bitrate=2000 "
    "! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def _quote(path: str) -> str:
    """The clip's path as a gst-launch string value (spaces and quotes kept)."""
    return '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_server(clip: str, port: int, user: str, password: str) -> GstRtspServer.RTSPServer:
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(port))
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(clip=_quote(clip)))
    factory.set_shared(False)
    if user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_role_from_structure(
            Gst.Structure.from_string(
                "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
            )[0]
        )
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory("/stream", factory)
    return server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", required=True, help="an MJPG .avi clip (tests write one with OpenCV)")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--user", default="")
    parser.add_argument("--password", default="")
    args = parser.parse_args()

    Gst.init(None)
    server = build_server(args.clip, args.port, args.user, args.password)
    loop = GLib.MainLoop()
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 1
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"READY {server.get_bound_port()}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
