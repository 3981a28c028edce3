"""Helpers for the alert tests: a loopback HTTP receiver that records every request as it
arrived, and event changes written through the real store."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from vigil.events.store.store import EventStore
from vigil.events.violation import Violation


@dataclass(frozen=True)
class Receipt:
    """One request as the receiver read it, before it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when the body had been read

    @property
    def key(self) -> str | None:
        return self.headers.get("x-vigil-delivery")


class Receiver:
    """A loopback HTTP server recording every POST, raw (it dedupes nothing).

    ``answer(receipt, n)`` gives the status of the n-th request (1-based; default 200).
    ``hold_nth``: that request is recorded and then left unanswered until :meth:`release`
    (a receiver slow to answer, for crash tests).
    """

    def __init__(
        self,
        answer: Callable[[Receipt, int], int] | None = None,
        hold_nth: int | None = None,
    ) -> None:
        self.receipts: list[Receipt] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802 - the http.server API
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: nothing arrived
                    self.close_connection = True
                    return
                receipt = Receipt(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time()
                )
                with receiver._lock:
                    receiver.receipts.append(receipt)
                    n = len(receiver.receipts)
                if n == hold_nth:
                    receiver._released.wait(60)
                status = answer(receipt, n) if answer else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_port}"

    def snapshot(self) -> list[Receipt]:
        with self._lock:
            return list(self.receipts)

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self.release()
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def violation(**changes: object) -> Violation:
    now = time.time()
    fields: dict[str, object] = dict(
        camera="gate-3",
        rule="fire",
        label="fire",
        subject="zone:tank-farm",
        severity="critical",
        start_pts=12.5,
        start_wall=now,
        end_pts=12.5,
        end_wall=now,
        peak_confidence=0.87,
        peak_pts=12.5,
        bbox=(10.0, 20.0, 110.0, 220.0),
        zone="tank-farm",
    )
    fields.update(changes)
    return Violation(**fields)  # type: ignore[arg-type]


def open_event(store: EventStore, **changes: object) -> Violation:
    v = violation(**changes)
    with store.unit_of_work() as w:
        w.opened(v)
    return v


def update_event(store: EventStore, v: Violation, **changes: object) -> Violation:
    v = dataclasses.replace(v, **changes)
    with store.unit_of_work() as w:
        w.updated(v)
    return v


def end_event(store: EventStore, v: Violation) -> Violation:
    v = dataclasses.replace(v, end_pts=v.end_pts + 5, end_wall=v.end_wall + 5)
    with store.unit_of_work() as w:
        w.ended(v, None)
    return v


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> object:
    """Poll until ``predicate()`` is truthy; fail the test naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
