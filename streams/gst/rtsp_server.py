"""A real RTSP server for the tests and `vigil bench`: GStreamer's gst-rtsp-server serving
H.264 MP4 files (started by :mod:`vigil.streams.rtsp_loop`).

Run with Debian's ``/usr/bin/python3`` (it needs the GObject bindings, which the virtual
environment does not have)::

    /usr/bin/python3 streams/gst/rtsp_server.py --port 8554 \
        --mount fall=../shared/data/videos/fall_01.mp4

Each mount is served at ``rtsp://127.0.0.1:PORT/NAME``. The file's H.264 access units are read
once (qtdemux ! h264parse ! appsink, no re-encoding) and pushed, in real time and looping
forever, into an appsrc ! h264parse ! rtph264pay pipeline shared by every client, so the stream
behaves like a camera: it runs whether or not anybody watches, and timestamps keep increasing
across loops. ``--user``/``--password`` require HTTP basic authentication. The server prints
``READY <port>`` on stdout once it listens.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


class Sample:
    __slots__ = ("data", "pts", "dts", "duration", "delta")

    def __init__(self, data: bytes, pts: int, dts: int, duration: int, delta: bool) -> None:
        self.data, self.pts, self.dts, self.duration, self.delta = data, pts, dts, duration, delta


def read_access_units(path: str) -> tuple[str, list[Sample], int]:
    """The file's H.264 access units (byte-stream), their caps and the loop length (ns)."""
    pipeline = Gst.parse_launch(
        f'filesrc location="{path}" ! qtdemux ! h264parse config-interval=-1 ! '
        "video/x-h264,stream-format=byte-stream,alignment=au ! appsink name=sink sync=false"
    )
    sink = pipeline.get_by_name("sink")
    pipeline.set_state(Gst.State.PLAYING)
    samples: list[Sample] = []
    caps = None
    while True:
        sample = sink.emit("pull-sample")
        if sample is None:
            break
        caps = caps or sample.get_caps().to_string()
        buf = sample.get_buffer()
        ok, info = buf.map(Gst.MapFlags.READ)
        data = bytes(info.data)
        buf.unmap(info)
        dts = buf.dts if buf.dts != Gst.CLOCK_TIME_NONE else buf.pts
        samples.append(
            Sample(
                data, buf.pts, dts, buf.duration, bool(buf.get_flags() & Gst.BufferFlags.DELTA_UNIT)
            )
        )
    pipeline.set_state(Gst.State.NULL)
    if not samples:
        sys.exit(f"{path}: no H.264 video read")
    first = min(s.dts for s in samples)
    for s in samples:
        s.pts -= first
        s.dts -= first
    period = samples[-1].duration or Gst.SECOND // 25
    length = max(s.pts for s in samples) + period
    return caps, samples, length


class LoopingFeeder:
    """Pushes one file's access units into an appsrc at real-time pace, looping."""

    def __init__(self, caps: str, samples: list[Sample], length: int) -> None:
        self.caps, self.samples, self.length = caps, samples, length
        self.appsrc = None
        self._lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def attach(self, appsrc) -> None:
        appsrc.set_property("caps", Gst.Caps.from_string(self.caps))
        appsrc.set_property("format", Gst.Format.TIME)
        appsrc.set_property("is-live", True)
        with self._lock:
            self.appsrc = appsrc
            self.started = None

    def _run(self) -> None:
        index, loop = 0, 0
        while True:
            with self._lock:
                appsrc = self.appsrc
            if appsrc is None or appsrc.get_clock() is None:
                time.sleep(0.01)
                continue
            clock = appsrc.get_clock()
            running = clock.get_time() - appsrc.get_base_time()
            with self._lock:
                if self.started is None:
                    self.started, index, loop = running, 0, 0
                base = self.started + loop * self.length
            s = self.samples[index]
            wait = base + s.dts - running
            if wait > 0:
                time.sleep(min(wait / Gst.SECOND, 0.05))
                continue
            buf = Gst.Buffer.new_wrapped(s.data)
            # Latency margin: a frame is stamped a little after it is pushed, so sinks that
            # sync to the clock never see it late.
            buf.pts = base + s.pts + Gst.SECOND // 5
            buf.dts = base + s.dts + Gst.SECOND // 5
            buf.duration = s.duration
            if s.delta:
                buf.set_flags(Gst.BufferFlags.DELTA_UNIT)
            if appsrc.emit("push-buffer", buf) != Gst.FlowReturn.OK:
                with self._lock:
                    if self.appsrc is appsrc:
                        self.appsrc = None
                continue
            index += 1
            if index == len(self.samples):
                index, loop = 0, loop + 1


class LoopingFactory(GstRtspServer.RTSPMediaFactory):
    def __init__(self, feeder: LoopingFeeder) -> None:
        super().__init__()
        self.feeder = feeder
        self.set_shared(True)
        self.set_launch(
            "( appsrc name=src ! h264parse ! rtph264pay name=pay0 pt=96 config-interval=1 )"
        )
        self.connect("media-configure", self._configure)

    def _configure(self, _factory, media) -> None:
        self.feeder.attach(media.get_element().get_by_name_recurse_up("src"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8554)
    parser.add_argument("--mount", action="append", required=True, help="NAME=FILE.mp4")
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    mounts = server.get_mount_points()
    for spec in args.mount:
        name, _, path = spec.partition("=")
        factory = LoopingFactory(LoopingFeeder(*read_access_units(path)))
        if args.user:
            factory.add_role_from_structure(
                Gst.Structure.from_string(
                    "user, media.factory.access=(boolean)true, "
                    "media.factory.construct=(boolean)true"
                )[0]
            )
        mounts.add_factory(f"/{name}", factory)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string("media.factory.role", "user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
    if server.attach(None) == 0:
        sys.exit(f"cannot listen on port {args.port}")
    loop = GLib.MainLoop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, sig, loop.quit)
    print(f"READY {args.port}", flush=True)
    loop.run()


if __name__ == "__main__":
    main()
