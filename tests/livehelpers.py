"""Real network sources for live tests: GStreamer's RTSP server (vigil.streams.rtsp_loop, run
by Debian's /usr/bin/python3), a TCP server that answers with random bytes, an MJPEG camera.
Loopback only."""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

from vigil.streams.rtsp_loop import (  # noqa: F401 - offered to the tests from here
    SYSTEM_PYTHON,
    RtspServer,
    free_port,
    rtsp_server_available,
)


class GarbageServer:
    """Accepts TCP connections and sends random bytes: a 'camera' that speaks nonsense."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._babble, args=(conn,), daemon=True).start()

    def _babble(self, conn: socket.socket) -> None:
        with conn:
            deadline = time.monotonic() + 5
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    conn.sendall(os.urandom(4096))
                except OSError:
                    return
                time.sleep(0.01)

    def close(self) -> None:
        self._stop.set()
        self.sock.close()


class MjpegServer:
    """An HTTP MJPEG camera (multipart/x-mixed-replace JPEGs, as many IP cameras serve) at
    ``http://127.0.0.1:PORT/video``, looping a video's frames at ``fps``."""

    def __init__(self, video: Path, fps: float = 10.0, seconds: float = 5.0) -> None:
        import http.server

        import av
        import cv2

        jpegs = []
        with av.open(str(video)) as container:
            for frame in container.decode(video=0):
                if frame.time is not None and frame.time >= seconds:
                    break
                if len(jpegs) < frame.time * fps:
                    ok, data = cv2.imencode(".jpg", frame.to_ndarray(format="bgr24"))
                    jpegs.append(data.tobytes())
        period = 1.0 / fps

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the http.server API
                self.send_response(200)
                self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
                self.end_headers()
                try:
                    i = 0
                    while not server.stopped:
                        jpeg = jpegs[i % len(jpegs)]
                        self.wfile.write(
                            b"--frame\r\nContent-Type: image/jpeg\r\n"
                            + f"Content-Length: {len(jpeg)}\r\n\r\n".encode()
                            + jpeg
                            + b"\r\n"
                        )
                        i += 1
                        time.sleep(period)
                except OSError:
                    return

            def log_message(self, *args: object) -> None:
                pass

        server = self
        self.stopped = False
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/video"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stopped = True
        self.httpd.shutdown()
        self.httpd.server_close()


def wait_for(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
