"""`vigil run`'s stop signals (vigil.stopping) in child processes: a signal stops a main loop
that spins on ``stop.wait()`` every time (a Python signal handler calling ``stop.set()`` there
deadlocks on the event's own lock), a second signal ends a stuck stop, and a slow stop leaves
the threads' stacks on stderr."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time

import pytest

CHILD = """
import sys, threading, time
from vigil.stopping import StopOnSignals

stop = threading.Event()
heard = []
with StopOnSignals(stop, on_first=heard.append, slow_stop_s={slow}):
    print("ready", flush=True)
    while not stop.wait(0):  # the lock-held window of Event.wait, as often as can be
        pass
    print("stopping", heard[0], flush=True)
    time.sleep({stuck})  # the shutdown's work
print("stopped", flush=True)
"""


def child(slow: float = 30.0, stuck: float = 0.0) -> subprocess.Popen[str]:
    code = textwrap.dedent(CHILD.format(slow=slow, stuck=stuck))
    process = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None and process.stdout.readline() == "ready\n"
    return process


def finish(process: subprocess.Popen[str], timeout: float) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail("the child did not stop")
    return process.returncode, out, err


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_always_stops_a_loop_waiting_on_the_event(sig: signal.Signals):
    for _ in range(10):  # the old handler hung on 17 of 20 in this loop
        process = child()
        time.sleep(0.05)
        process.send_signal(sig)
        code, out, err = finish(process, 10)
        assert code == 0, err
        assert out == f"stopping {sig.name}\nstopped\n"


def test_a_second_signal_ends_a_stuck_stop():
    process = child(stuck=60)
    process.send_signal(signal.SIGTERM)
    assert process.stdout is not None and process.stdout.readline() == "stopping SIGTERM\n"
    process.send_signal(signal.SIGTERM)
    code, out, _ = finish(process, 10)
    assert code == 128 + signal.SIGTERM
    assert "stopped" not in out


def test_a_slow_stop_writes_every_threads_stack():
    process = child(slow=0.3, stuck=2)
    process.send_signal(signal.SIGINT)
    code, out, err = finish(process, 10)
    assert code == 0 and out.endswith("stopped\n")
    assert "still stopping after 0 s" in err
    assert "Current thread" in err and 'File "<string>"' in err
