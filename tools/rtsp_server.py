"""A real RTSP server on loopback for the camera gateway's tests and benchmark: GStreamer's
rtsp-server (Debian: python3-gi, gir1.2-gst-rtsp-server-1.0, gstreamer1.0-plugins-good/-bad)
serving an H.264 MP4 at rtsp://127.0.0.1:PORT/cam in real time, optionally behind basic auth.

Run with the system's Python (where `gi` lives), not the project's virtual environment:
    /usr/bin/python3 tools/rtsp_server.py PORT CLIP.mp4 [USER PASSWORD]
It prints "ready" once it listens and serves until killed.
"""

from __future__ import annotations

import argparse
import sys


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("port", help="TCP port on 127.0.0.1")
    ap.add_argument("clip", help="H.264 MP4 to serve at /cam")
    ap.add_argument("user", nargs="?", help="basic-auth user (with password)")
    ap.add_argument("password", nargs="?", help="basic-auth password")
    args = ap.parse_args()
    import gi

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtspServer

    port, clip = args.port, args.clip
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(
        f'( filesrc location="{clip}" ! qtdemux ! h264parse config-interval=-1 '
        "! rtph264pay name=pay0 pt=96 )"
    )
    factory.set_shared(True)
    if args.user is not None and args.password is not None:
        user, password = args.user, args.password
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        role = Gst.Structure.from_string(
            "user, media.factory.access=(boolean)true, media.factory.construct=(boolean)true"
        )[0]
        factory.add_role_from_structure(role)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print(f"cannot listen on {port}", flush=True)
        sys.exit(1)
    print("ready", flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    main()
