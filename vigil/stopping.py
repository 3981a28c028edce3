"""How `vigil run` is told to stop: SIGINT or SIGTERM sets an event, a second one ends the
process at once, and a stop that takes long leaves every thread's stack in the log.

The signals are handled on a thread of this module's own, never in a Python signal handler:
such a handler runs on the main thread between two bytecodes, and so it may run inside the
main loop's ``stop.wait()`` while that holds the lock ``stop.set()`` needs, and the process
would wait for itself forever (the class of deadlock of cpython issues 126434 and 121649).
Here the C-level handler writes the signal's number to a pipe (:func:`signal.set_wakeup_fd`),
and the thread reads it from there.

Example::

    stop = threading.Event()
    with StopOnSignals(stop, on_first=lambda name: print(f"{name}: stopping")):
        runner.run(stop)  # returns once SIGINT or SIGTERM arrived
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGINT, signal.SIGTERM)
# A stop still going after this long is stuck somewhere: the threads' stacks say where.
SLOW_STOP_S = 45.0


class StopOnSignals:
    """Set ``stop`` on the first SIGINT/SIGTERM (``on_first(name)`` is told); exit the process
    with status 128 + signal on the second. ``slow_stop_s`` after the first, if the process
    is still there, every thread's stack is written to stderr. Main thread only."""

    def __init__(
        self,
        stop: threading.Event,
        on_first: Callable[[str], None] | None = None,
        slow_stop_s: float = SLOW_STOP_S,
    ) -> None:
        self.stop = stop
        self.on_first = on_first or (lambda _name: None)
        self.slow_stop_s = slow_stop_s
        self._read, self._write = os.pipe()
        os.set_blocking(self._write, False)  # the C handler must never block
        self._previous: dict[int, object] = {}
        self._previous_fd = -1
        self._thread = threading.Thread(target=self._watch, name="stop-signals", daemon=True)

    def __enter__(self) -> StopOnSignals:
        for number in SIGNALS:
            # A Python handler must be set for the C handler to catch the signal; the work is
            # done on the thread.
            self._previous[number] = signal.signal(number, _ignore)
        self._previous_fd = signal.set_wakeup_fd(self._write, warn_on_full_buffer=False)
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        signal.set_wakeup_fd(self._previous_fd)
        for number, handler in self._previous.items():
            signal.signal(number, handler)  # type: ignore[arg-type]
        os.close(self._write)  # the thread reads end-of-file and ends

    def _watch(self) -> None:
        while chunk := _read(self._read):
            for number in chunk:
                if number in SIGNALS:
                    self._received(signal.Signals(number))
        os.close(self._read)

    def _received(self, sig: signal.Signals) -> None:
        if self.stop.is_set():  # a second signal: the operator will not wait for the clips
            os._exit(128 + sig)
        self.on_first(sig.name)
        self.stop.set()
        timer = threading.Timer(self.slow_stop_s, _dump_stacks, args=(self.slow_stop_s,))
        timer.daemon = True
        timer.start()


def _ignore(_signum: int, _frame: object) -> None:
    """The Python-level handler: nothing to do there (see the module docstring)."""


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 64)
    except OSError:
        return b""


def _dump_stacks(after: float) -> None:
    log.warning("still stopping after %.0f s; every thread's stack follows", after)
    for handler in logging.getLogger().handlers:
        handler.flush()
    try:
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    except (OSError, ValueError, AttributeError) as exc:  # a stderr without a file descriptor
        log.warning("could not write the stacks: %s", exc)
