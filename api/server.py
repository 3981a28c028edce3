"""Running the app under uvicorn: in the foreground (`vigil serve`) or in a thread beside the
cameras (`vigil run --serve`, tests).

Example::

    server = ApiServer(app, host="127.0.0.1", port=0)   # 0: any free port
    server.start()                                      # returns once it listens
    httpx.get(f"{server.url}/healthz")
    server.stop()
"""

from __future__ import annotations

import contextlib
import signal
import socket
import threading
import time

import uvicorn
from fastapi import FastAPI

from vigil import VigilError

# Open event streams do not end by themselves: after this long a stopping server cuts them.
GRACEFUL_S = 2


class ServerError(VigilError, RuntimeError):
    """The server could not start (the port is taken, the address is wrong)."""


class ApiServer:
    def __init__(self, app: FastAPI, host: str, port: int, *, log_level: str = "warning") -> None:
        self.config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_S,
            server_header=False,
        )
        self.server = uvicorn.Server(self.config)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on (the one the system chose, for port 0)."""
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        host = self.config.host
        return f"http://{'[' + host + ']' if ':' in host else host}:{self.port}"

    def check_port(self) -> None:
        """ServerError now, before the app starts, if the address cannot be listened on."""
        host, port = self.config.host, self.config.port
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
                probe.bind(infos[0][4])
        except OSError as exc:
            raise ServerError(f"could not listen on {host}:{port}: {exc.strerror or exc}") from None

    def run(self) -> None:
        """Serve in this thread until SIGINT/SIGTERM, then return (a clean stop, status 0)."""
        self.check_port()
        if threading.current_thread() is threading.main_thread():
            # uvicorn handles the signal, then raises it again for the handler it found:
            # let that be a no-op rather than KeyboardInterrupt or death by SIGTERM.
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: None)
        with contextlib.suppress(SystemExit):  # uvicorn exits when it cannot bind
            self.server.run()
        if not self.server.started:
            raise ServerError(f"could not listen on {self.config.host}:{self.config.port}")

    def start(self, timeout: float = 30.0) -> None:
        """Serve in a background thread; return once it listens."""
        self.check_port()
        self._thread = threading.Thread(target=self.server.run, name="vigil-api", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise ServerError(f"could not listen on {self.config.host}:{self.config.port}")
            time.sleep(0.02)

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
