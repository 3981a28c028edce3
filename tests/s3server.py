"""An S3-compatible object store on loopback for tests: moto's server (PyPI ``moto[server]``,
pinned in the dev extra), behind a TCP relay the test can stop and start.

moto keeps objects in memory, so stopping its process would lose them: an outage is the relay
going away instead (:meth:`S3Server.stop`: the port refuses connections and open ones are
cut, as a stopped MinIO's would be) while moto keeps what it holds; :meth:`S3Server.freeze`
hangs the server itself (SIGSTOP: connections open, no answer).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from livehelpers import free_port

BUCKET = "vigil-test"


def moto_server() -> str | None:
    """The moto_server script beside this Python, if installed."""
    found = Path(sys.executable).with_name("moto_server")
    return str(found) if found.exists() else shutil.which("moto_server")


class _Relay:
    """Forwards ``127.0.0.1:port`` to ``127.0.0.1:target`` while up."""

    def __init__(self, port: int, target: int) -> None:
        self.port, self.target = port, target
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            conns, self._conns = self._conns, []
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


class S3Server:
    """moto's S3 on loopback; ``endpoint`` is the relay's URL (see the module)."""

    def __init__(self) -> None:
        self.backend_port = free_port()
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.relay = _Relay(self.port, self.backend_port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> None:
        exe = moto_server()
        assert exe is not None, "moto_server not installed (pip install -e '.[dev]')"
        self.process = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(self.backend_port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.backend_port), timeout=1),
            ):
                break
            if self.process.poll() is not None:
                raise RuntimeError("moto_server exited at start")
            time.sleep(0.1)
        else:
            raise RuntimeError(f"moto_server did not listen within {timeout} s")
        self.relay.up()

    def stop(self) -> None:
        """The store goes away: connections refused, open ones cut (objects kept)."""
        self.relay.down()

    def resume(self) -> None:
        self.relay.up()

    def freeze(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.relay.down()
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            self.process.kill()
            self.process.wait(10)

    def settings(self, prefix: str = "site"):
        from vigil.events.objectstore import ObjectStoreSettings

        return ObjectStoreSettings(
            media_url=f"s3://{BUCKET}/{prefix}",
            endpoint_url=self.endpoint,
            region="us-east-1",
            access_key="testing",
            secret_key="testing",
            connect_timeout=1.0,
            read_timeout=5.0,
        )

    def __enter__(self) -> S3Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
