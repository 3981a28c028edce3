"""End-to-end alert latency: the frame that confirmed a violation → its `new` alert received
over SSE, MQTT and a webhook, with `vigil run --serve` watching a looped real video.

The camera is the video served over RTSP by the live tests' GStreamer server
(vigil.streams.rtsp_loop), looping in real time like a camera; ``--source file`` uses a looped
file camera instead (also paced on the wall clock). `vigil run --serve` runs in a child
process with the site's API and its alert dispatcher: a webhook channel to a loopback receiver
and an MQTT channel to the machine's Mosquitto (a paho subscriber); an SSE client reads
``/api/v1/stream``.

For every ``new`` change, latency = receipt wall time − ``after.end_wall``: on a live camera
that is the wall time of the frame whose observation confirmed the violation (see
``events/lifecycle.py``: ``_open`` sets ``end_wall`` to that frame's wall time). It includes
the wait for and the time of inference, the evidence writer's commit (event row and outbox
row in one transaction), the dispatcher's poll (0.1 s) or the SSE hub's (0.2 s), and the send.
The split at the commit (the outbox row's ``created_at``) is shown too.

    .venv/bin/python benchmarks/alert_e2e.py --seconds 150
    .venv/bin/python benchmarks/alert_e2e.py --video fall_01.mp4 --rule fall --source file
"""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
import paho.mqtt.client as mqtt  # noqa: E402
from alerthelpers import Receiver  # noqa: E402
from apihelpers import SseMessage, sse_messages  # noqa: E402
from livehelpers import RtspServer, free_port, rtsp_server_available  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

from vigil.api.accounts import Accounts  # noqa: E402
from vigil.events.store import EventStore  # noqa: E402
from vigil.events.store.models import OutboxRow  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "data" / "videos"
RULES = {  # rules tuned to open often on a looped clip: short confirmation, quick end
    "no_helmet": "{no_helmet: {k_of_n: [1, 1], min_duration: 0, end_after: 1.5, cooldown: 0}}",
    "fall": "{fall: {end_after: 1.0, cooldown: 0}}",
}


@dataclass
class Arrivals:
    """Per channel: event id → (receipt time, the `new` payload's ``after``, outbox id)."""

    by_channel: dict[str, dict[str, tuple[float, dict, int]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, channel: str, at: float, change: dict, outbox_id: int) -> None:
        if change.get("type") != "new":
            return
        after = change["after"]
        with self.lock:
            self.by_channel.setdefault(channel, {}).setdefault(after["id"], (at, after, outbox_id))


def site_yaml(args: argparse.Namespace, source: str, data: Path, hook: str, prefix: str) -> str:
    loop = ", loop: true" if args.source == "file" else ""
    return f"""
cameras:
  - {{id: bench, source: "{source}"{loop}, fps: {args.fps}, rules: {RULES[args.rule]}}}
evidence: {{pre_seconds: 1, post_seconds: 1}}
storage: {{data_dir: {data}}}
api: {{port: {args.port}}}
alerts:
  channels:
    - {{name: hook, kind: webhook, url: "{hook}/h", secret: bench-secret}}
    - {{name: bus, kind: mqtt, topic_prefix: {prefix}, qos: 1}}
"""


def subscribe_mqtt(prefix: str, arrivals: Arrivals) -> mqtt.Client:
    ready = threading.Event()

    def on_message(_c, _u, message) -> None:  # noqa: ANN001
        payload = json.loads(message.payload)
        arrivals.add("mqtt", time.time(), payload, payload["id"])

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_connect = lambda c, *_: c.subscribe(f"{prefix}/events", qos=1)
    client.on_subscribe = lambda *_: ready.set()
    client.on_message = on_message
    client.connect("127.0.0.1", 1883)
    client.loop_start()
    if not ready.wait(10):
        sys.exit("no MQTT broker on 127.0.0.1:1883")
    return client


def follow_sse(url: str, token: str, arrivals: Arrivals, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with (
        httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(10, read=None)) as c,
        c.stream("GET", "/api/v1/stream") as r,
        contextlib.suppress(httpx.HTTPError),  # the server stopping at the end
    ):
        for m in sse_messages(r):
            if stop.is_set():
                return
            if isinstance(m, SseMessage):
                arrivals.add("sse", time.time(), json.loads(m.data), int(m.id or 0))


def wait_healthy(url: str, run: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if run.poll() is not None:
            sys.exit(f"vigil run exited: {run.stderr.read() if run.stderr else ''}")
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    sys.exit("vigil run --serve did not answer")


def ms(values: list[float]) -> str:
    if not values:
        return "   —      —      —   "
    if len(values) == 1:
        return f"{values[0] * 1000:6.0f} {values[0] * 1000:6.0f} {values[0] * 1000:6.0f}"
    q = statistics.quantiles(values, n=100, method="inclusive")
    return f"{q[49] * 1000:6.0f} {q[94] * 1000:6.0f} {max(values) * 1000:6.0f}"


def report(arrivals: Arrivals, committed: dict[int, float]) -> None:
    print(f"{'channel':8} {'n':>4}   frame→receipt p50/p95/max ms   commit→receipt p50/p95/max ms")
    for channel in ("sse", "mqtt", "webhook"):
        got = arrivals.by_channel.get(channel, {})
        total = [at - after["end_wall"] for at, after, _ in got.values()]
        delivery = [at - committed[i] for at, _, i in got.values() if i in committed]
        print(f"{channel:8} {len(got):4}   {ms(total):28}   {ms(delivery)}")
    sse = arrivals.by_channel.get("sse", {})
    pipeline = [committed[i] - after["end_wall"] for _, after, i in sse.values() if i in committed]
    print(f"frame → outbox commit (inference, evidence writer): p50/p95/max ms {ms(pipeline)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", default="workers_no_hardhat_slideshow_01.mp4")
    parser.add_argument("--rule", choices=sorted(RULES), default="no_helmet")
    parser.add_argument("--seconds", type=float, default=150.0, help="how long to watch")
    parser.add_argument("--fps", type=float, default=4.0, help="analysed frames per second")
    parser.add_argument("--source", choices=("rtsp", "file"), default="rtsp")
    args = parser.parse_args()
    args.port = free_port()
    video = VIDEOS / args.video
    if args.source == "rtsp" and (why := rtsp_server_available()):
        print(f"RTSP server unavailable ({why}): using a looped file camera")
        args.source = "file"

    data = Path(tempfile.mkdtemp(prefix="vigil-e2e-")) / "data"
    data.mkdir(parents=True)
    store = EventStore.for_data_dir(data)
    accounts = Accounts(store.engine)
    accounts.add_user("bench", "a long passphrase", "operator")
    token = accounts.create_token("bench", "bench").secret

    arrivals = Arrivals()
    prefix = f"vigil-e2e-{uuid.uuid4().hex[:8]}"
    bus = subscribe_mqtt(prefix, arrivals)
    rtsp = RtspServer({"cam": video}) if args.source == "rtsp" else None
    hook = Receiver()
    run = None
    stop = threading.Event()
    try:
        if rtsp is not None:
            rtsp.start()
        source = rtsp.url("cam") if rtsp is not None else str(video)
        site = data.parent / "site.yaml"
        site.write_text(site_yaml(args, source, data, hook.url, prefix))
        run = subprocess.Popen(
            [sys.executable, "-m", "vigil.cli", "run", "--config", str(site), "--serve"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{args.port}"
        wait_healthy(url, run, 180)
        threading.Thread(target=follow_sse, args=(url, token, arrivals, stop), daemon=True).start()
        print(f"watching {args.video} ({args.source}, {args.fps:g} fps) for {args.seconds:g} s")
        time.sleep(args.seconds)
    finally:
        stop.set()
        if run is not None and run.poll() is None:
            run.send_signal(signal.SIGTERM)
            run.wait(120)
        if rtsp is not None:
            rtsp.kill()
        for receipt in hook.snapshot():
            body = json.loads(receipt.body)
            arrivals.add("webhook", receipt.at, body, body["id"])
        hook.close()
        bus.loop_stop()
        bus.disconnect()

    with store.engine.connect() as conn:
        committed = dict(conn.execute(select(OutboxRow.id, OutboxRow.created_at)).all())
        opened = conn.scalar(select(func.count()).where(OutboxRow.type == "new"))
    store.dispose()
    print(
        f"`vigil run --serve`, {args.rule} on {args.video} via {args.source}, "
        f"{args.seconds:g} s: {opened} events opened"
    )
    report(arrivals, committed)


if __name__ == "__main__":
    main()
