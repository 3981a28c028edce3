"""How fast a camera comes back after its RTSP server restarts.

A real RTSP server (GStreamer, vigil.streams.rtsp_loop) serves fall_01.mp4; a camera reader with
the default reconnect settings (stall 5 s, backoff 0.5 s doubling to 30 s, jitter) watches it.
Each run: live for 3 s, the server is killed (SIGKILL), stays down ``--down`` seconds, and is
started again (or, with ``--freeze``, is stopped with SIGSTOP and resumed with SIGCONT: the
stream goes silent on an open connection, which only the stall watchdog can notice).
Measured: kill → ``stalled`` (detection) and restart → ``live`` (reconnect: the first decoded
frame after the restart). No models run; this is the streaming path alone.

    .venv/bin/python benchmarks/reconnect_time.py --runs 7 --down 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from livehelpers import RtspServer  # noqa: E402

from vigil.config import ReconnectConfig  # noqa: E402
from vigil.streams.health import CameraState  # noqa: E402
from vigil.streams.reader import CameraReader, ReaderOptions  # noqa: E402
from vigil.streams.sources import parse_source  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "videos" / "fall_01.mp4"


def wait(states: list, state: CameraState, after: float, timeout: float = 60.0) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for t, s in list(states):
            if s is state and t >= after:
                return t
        time.sleep(0.01)
    raise TimeoutError(f"no {state.value} within {timeout} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--down", type=float, default=2.0, help="seconds the server stays down")
    parser.add_argument(
        "--freeze",
        action="store_true",
        help="SIGSTOP the server instead of killing it: the stream goes silent, the TCP "
        "connection stays open (a hung camera); SIGCONT after --down seconds",
    )
    args = parser.parse_args()
    defaults = ReconnectConfig()
    options = ReaderOptions(
        open_timeout=defaults.open_timeout,
        stall_seconds=defaults.stall_seconds,
        backoff_initial=defaults.backoff_initial,
        backoff_max=defaults.backoff_max,
        fail_after=defaults.fail_after,
    )
    detect, reconnect = [], []
    with RtspServer({"fall": VIDEO}) as server:
        for run in range(args.runs):
            states: list[tuple[float, CameraState]] = []
            reader = CameraReader("bench", parse_source(server.url("fall")), options)
            reader.health.listeners.append(
                lambda _c, s, _e, states=states: states.append((time.monotonic(), s))
            )
            reader.start()
            wait(states, CameraState.LIVE, 0)
            time.sleep(3)
            killed = time.monotonic()
            server.freeze() if args.freeze else server.kill()
            stalled = wait(states, CameraState.STALLED, killed)
            time.sleep(max(0.0, args.down - (time.monotonic() - killed)))
            server.thaw() if args.freeze else server.start()
            restarted = time.monotonic()
            live = wait(states, CameraState.LIVE, restarted)
            reader.stop()
            reader.join(5)
            detect.append(stalled - killed)
            reconnect.append(live - restarted)
            print(
                f"run {run + 1}: stalled {detect[-1]:.2f} s after the kill, live "
                f"{reconnect[-1]:.2f} s after the restart (server down {restarted - killed:.1f} s)",
                flush=True,
            )
    print(
        f"median over {args.runs} runs: detection {statistics.median(detect):.2f} s, "
        f"reconnect {statistics.median(reconnect):.2f} s "
        f"(min {min(reconnect):.2f}, max {max(reconnect):.2f})"
    )


if __name__ == "__main__":
    main()
