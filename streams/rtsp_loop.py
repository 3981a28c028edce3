"""Looped video files served as RTSP cameras: GStreamer's gst-rtsp-server, run by Debian's
``/usr/bin/python3`` (it needs the GObject bindings, which a virtual environment lacks) from
:file:`gst/rtsp_server.py` beside this module. Loopback only. The live tests and `vigil bench`
use it.

Example::

    with RtspServer({"yard": Path("fall_01.mp4")}) as server:
        url = server.url("yard")       # rtsp://127.0.0.1:PORT/yard, looping in real time

:func:`downscaled` makes a low-resolution copy of a video to serve beside it, as a camera's
substream (a site's ``detect_source``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

SUBSTREAM_GOP = 50  # frames between keyframes of a substream (2 s at 25 fps, as cameras do)
SERVER = Path(__file__).resolve().parent / "gst" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rtsp_server_available() -> str | None:
    """None when the RTSP server can run here, else why not (for a skip)."""
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} not found"
    probe = subprocess.run(
        [
            SYSTEM_PYTHON,
            "-c",
            "import gi; gi.require_version('GstRtspServer', '1.0'); "
            "from gi.repository import GstRtspServer",
        ],
        capture_output=True,
        timeout=30,
    )
    if probe.returncode:
        return "GStreamer RTSP server bindings missing (scripts/setup installs them)"
    return None


class RtspServer:
    """``rtsp://127.0.0.1:PORT/NAME`` for each ``NAME=file``; kill and start it at will."""

    def __init__(
        self, mounts: dict[str, Path], user: str | None = None, password: str = ""
    ) -> None:
        self.mounts, self.user, self.password = mounts, user, password
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def url(self, name: str, credentials: str | None = None) -> str:
        auth = f"{credentials}@" if credentials else ""
        return f"rtsp://{auth}127.0.0.1:{self.port}/{name}"

    def start(self, timeout: float = 30.0) -> None:
        args = [SYSTEM_PYTHON, str(SERVER), "--port", str(self.port)]
        for name, path in self.mounts.items():
            args += ["--mount", f"{name}={path}"]
        if self.user:
            args += ["--user", self.user, "--password", self.password]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        self.process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
        )
        ready: list[str] = []
        reader = threading.Thread(target=lambda: ready.append(self.process.stdout.readline()))
        reader.start()
        reader.join(timeout)
        if not ready or not ready[0].startswith("READY"):
            self.kill()
            raise RuntimeError(f"RTSP server did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL, as a crashing camera or server would go: no goodbye to clients."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)
        self.process = None

    def freeze(self) -> None:
        """SIGSTOP: connections stay open but nothing arrives (a hung camera, a cut cable)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def parse_size(text: str) -> tuple[int, int]:
    """``WxH`` as two even sizes of at least 16 pixels; ValueError (one line) otherwise.

    >>> parse_size("640x360")
    (640, 360)
    """
    width, x, height = text.lower().partition("x")
    if not (x and width.isdigit() and height.isdigit()):
        raise ValueError(f"{text!r}: expected WIDTHxHEIGHT, e.g. 640x360")
    size = int(width), int(height)
    if min(size) < 16 or max(size) > 8192 or any(n % 2 for n in size):
        raise ValueError(f"{text!r}: sides must be even, from 16 to 8192 pixels")
    return size


def downscaled(video: Path, size: tuple[int, int], folder: Path) -> Path:
    """A copy of ``video`` scaled to fit within ``size`` (aspect kept), re-encoded as H.264
    without B-frames and with a keyframe every :data:`SUBSTREAM_GOP` frames, as camera
    substreams are; same frame timestamps, so served beside the original it loops in step.
    Kept in ``folder`` and reused while newer than ``video``."""
    import av  # the server's own process needs no PyAV

    out = folder / f"{video.stem}-{size[0]}x{size[1]}.mp4"
    if out.exists() and out.stat().st_mtime >= video.stat().st_mtime:
        return out
    folder.mkdir(parents=True, exist_ok=True)
    part = out.with_name(out.stem + ".part.mp4")
    with av.open(str(video)) as src, av.open(str(part), "w") as dst:
        stream = src.streams.video[0]
        scale = min(size[0] / stream.width, size[1] / stream.height, 1.0)
        width, height = (max(2, round(n * scale / 2) * 2) for n in (stream.width, stream.height))
        encoder = dst.add_stream("libx264", rate=stream.average_rate)
        encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
        encoder.codec_context.time_base = stream.time_base
        encoder.options = {"bf": "0", "g": str(SUBSTREAM_GOP), "preset": "veryfast"}
        for frame in src.decode(stream):
            small = frame.reformat(width, height, "yuv420p")
            small.pts, small.time_base = frame.pts, frame.time_base
            dst.mux(encoder.encode(small))
        dst.mux(encoder.encode(None))
    part.replace(out)
    return out
