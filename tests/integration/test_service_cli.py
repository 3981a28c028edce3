"""`vigil users`, `vigil token`, `vigil serve` and `vigil run --serve` as a user runs them:
real processes, a real server on loopback, real footage for the slow ones."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import av
import httpx
import pytest
from alerthelpers import Receiver, open_event, wait_until
from apihelpers import SseMessage, sse_messages
from livehelpers import free_port, wait_for
from paho.mqtt import client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from vigil.api.accounts import Accounts
from vigil.events.alerts import AlertStore
from vigil.events.store import EventStore

VIGIL = [sys.executable, "-m", "vigil.cli"]
PASSWORD = "a long passphrase"


def vigil(*args: str, stdin: str = "", data: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--data", str(data)] if data is not None else []
    return subprocess.run(
        [*VIGIL, *args, *extra], input=stdin, capture_output=True, text=True, timeout=120
    )


def one_line_error(result: subprocess.CompletedProcess, fragment: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert fragment in result.stderr and result.stderr.strip().count("\n") <= 1, result.stderr


class Serving:
    """`vigil serve` in a child process, until stopped with SIGINT."""

    def __init__(self, *args: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [*VIGIL, *args, "--port", str(self.port)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self) -> None:
        def up() -> bool:
            assert self.process.poll() is None, self.process.communicate()[1]
            try:
                return httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 60, "vigil serve to answer")

    def stop(self) -> tuple[int, str]:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            _, stderr = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate()
        return self.process.returncode, stderr


def test_users_and_tokens_from_the_command_line_against_vigil_serve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = vigil(
        "users",
        "add",
        "ana",
        "--role",
        "admin",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        data=data,
    )
    assert added.returncode == 0 and "added ana" in added.stderr
    limited = vigil(
        "users",
        "add",
        "gate",
        "--role",
        "viewer",
        "--camera",
        "gate-3",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        data=data,
    )
    assert limited.returncode == 0
    one_line_error(
        vigil(
            "users",
            "add",
            "ana",
            "--role",
            "admin",
            "--password-stdin",
            stdin=PASSWORD + "\n",
            data=data,
        ),
        "exists already",
    )
    one_line_error(
        vigil(
            "users",
            "add",
            "bob",
            "--role",
            "king",
            "--password-stdin",
            stdin=PASSWORD + "\n",
            data=data,
        ),
        "unknown role 'king'",
    )
    one_line_error(
        vigil(
            "users",
            "add",
            "bob",
            "--role",
            "viewer",
            "--password-stdin",
            stdin="short\n",
            data=data,
        ),
        "8 to 1024 characters",
    )
    listed = [
        json.loads(line) for line in vigil("users", "list", "--json", data=data).stdout.splitlines()
    ]
    assert [(u["name"], u["role"], u["cameras"]) for u in listed] == [
        ("ana", "admin", None),
        ("gate", "viewer", ["gate-3"]),
    ]

    made = vigil("token", "create", "ci", "--user", "ana", "--expires-days", "7", data=data)
    assert made.returncode == 0
    secret = made.stdout.strip()
    assert secret.startswith("vgl_") and "\n" not in secret and secret not in made.stderr
    one_line_error(vigil("token", "create", "ci", "--user", "ghost", data=data), "no user named")
    assert secret not in vigil("token", "list", data=data).stdout

    server = Serving("serve", "--data", str(data))
    try:
        server.wait_ready()
        auth = {"Authorization": f"Bearer {secret}"}
        me = httpx.get(f"{server.url}/api/v1/auth/me", headers=auth, timeout=10).json()
        assert me["user"]["name"] == "ana"
        login = httpx.post(
            f"{server.url}/api/v1/auth/login",
            json={"name": "gate", "password": PASSWORD},
            timeout=10,
        )
        assert login.status_code == 200 and login.json()["user"]["cameras"] == ["gate-3"]
        busy = vigil("serve", "--port", str(server.port), data=data)
        one_line_error(busy, f"could not listen on 127.0.0.1:{server.port}: Address already")

        token_id = vigil("token", "list", data=data).stdout.split("│")[1].strip()
        assert vigil("token", "revoke", token_id, data=data).returncode == 0
        gone = httpx.get(f"{server.url}/api/v1/auth/me", headers=auth, timeout=10)
        assert gone.status_code == 401
    finally:
        code, stderr = server.stop()
    assert code == 0 and "Traceback" not in stderr
    assert secret not in stderr and (data / "session.key").read_text() not in stderr


def test_serve_with_a_bad_secret_or_config_is_one_line(tmp_path: Path) -> None:
    site = tmp_path / "site.yaml"
    site.write_text(
        "cameras: [{id: c, source: 'rtsp://10.0.0.9/s'}]\n"
        f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
        "api: {session_secret: short-one, port: 18080}\n"
    )
    result = vigil("serve", "--config", str(site))
    one_line_error(result, "at least 32 characters")
    assert "short-one" not in result.stderr
    site.write_text("cameras: [{id: c, source: 'rtsp://10.0.0.9/s'}]\napi: {prot: 1}\n")
    one_line_error(vigil("serve", "--config", str(site)), "api.prot")


def test_serve_delivers_the_sites_alerts_and_stops_its_dispatcher(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with Receiver() as hook:
        site = tmp_path / "site.yaml"
        site.write_text(
            "cameras: [{id: gate-3, source: 'rtsp://10.0.0.9/s'}]\n"
            f"storage: {{data_dir: {data}}}\n"
            "api: {public_url: 'https://vigil.plant.example/'}\n"
            f"alerts: {{channels: [{{name: scada, kind: webhook, url: '{hook.url}/h'}}]}}\n"
        )
        server = Serving("serve", "--config", str(site))
        try:
            server.wait_ready()
            with EventStore.for_data_dir(data) as store:
                event = open_event(store)
                wait_until(hook.snapshot, 30, "the webhook to receive the new event")
                payload = json.loads(hook.snapshot()[0].body)
                assert payload["type"] == "new" and payload["after"]["id"] == event.id
                # Links follow api.public_url, the one place it is set.
                assert payload["snapshot_url"].startswith("https://vigil.plant.example/api/v1/")
                assert AlertStore(store).lease_holder("alerts") is not None
                status, stderr = server.stop()
                assert status == 0, stderr
                assert AlertStore(store).lease_holder("alerts") is None  # released on stop
        finally:
            server.stop()
    assert "alerts: 1 channels" in stderr and "Traceback" not in stderr


def test_serve_runs_the_sites_hazard_loop(tmp_path: Path) -> None:
    data = tmp_path / "data"
    site = tmp_path / "site.yaml"
    site.write_text(
        "cameras: [{id: gate-3, source: 'rtsp://10.0.0.9/s'}]\n"
        f"storage: {{data_dir: {data}}}\n"
        "dispatch: [{assign: {group: maint}, due: {low: 24h, medium: 24h, high: 24h}}]\n"
    )
    server = Serving("serve", "--config", str(site))
    try:
        server.wait_ready()
        with EventStore.for_data_dir(data) as store:
            event = open_event(store)
            wait_until(lambda: store.get_event(event.id).status == "assigned", 30, "auto-dispatch")
            moves = [(a.to_status, a.actor) for a in store.audit(event.id)]
        status, stderr = server.stop()
    finally:
        server.stop()
    assert status == 0, stderr
    assert moves == [("acknowledged", "auto-dispatch"), ("assigned", "auto-dispatch")]
    assert "hazard loop: 1 dispatch rules" in stderr and "Traceback" not in stderr


@pytest.mark.slow
def test_detect_then_serve_the_event_its_model_card_and_its_clip(
    videos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    detected = vigil("detect", str(videos / "fall_01.mp4"), "--json", data=data)
    assert detected.returncode == 0, detected.stderr
    events = [json.loads(line) for line in detected.stdout.splitlines()]
    fall = next(e for e in events if e["rule"] == "fall")
    vigil(
        "users",
        "add",
        "ana",
        "--role",
        "viewer",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        data=data,
    )
    secret = vigil("token", "create", "t", "--user", "ana", data=data).stdout.strip()
    server = Serving("serve", "--data", str(data))
    try:
        server.wait_ready()
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {secret}"}, timeout=30
        ) as c:
            event = c.get(f"/api/v1/events/{fall['id']}").json()
            clip = c.get(event["clip_url"])
            part = c.get(event["clip_url"], headers={"Range": "bytes=1000-1999"})
    finally:
        server.stop()
    assert event["model"]["card"] == "fall"
    assert len(event["model"]["version"]) == 12 and event["model"]["threshold"] > 0
    assert event["timeline"] and round(event["start_pts"], 3) == fall["start_pts"]
    assert clip.content == Path(fall["clip"]).read_bytes()
    assert part.status_code == 206 and part.content == clip.content[1000:2000]
    with av.open(io.BytesIO(clip.content)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert sum(1 for _ in container.decode(video=0)) > 0


@pytest.mark.slow
def test_run_serve_streams_an_event_raised_from_a_looped_real_video(
    videos: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    port = free_port()
    site = tmp_path / "site.yaml"
    site.write_text(
        f"""
cameras:
  - {{id: replay, source: {videos / "fall_01.mp4"}, loop: true, fps: 2, rules: {{fall: {{}}}}}}
evidence: {{pre_seconds: 1, post_seconds: 1}}
storage: {{data_dir: {data}}}
api: {{port: {port}}}
"""
    )
    vigil(
        "users",
        "add",
        "ana",
        "--role",
        "operator",
        "--password-stdin",
        stdin=PASSWORD + "\n",
        data=data,
    )
    secret = vigil("token", "create", "t", "--user", "ana", data=data).stdout.strip()
    run = subprocess.Popen(
        [*VIGIL, "run", "--config", str(site), "--serve", "--for", "240"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            assert run.poll() is None, run.communicate()[1]
            try:
                return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 120, "vigil run --serve to answer")
        headers = {"Authorization": f"Bearer {secret}"}
        with (
            httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(150)) as c,
            c.stream("GET", "/api/v1/stream", params={"rule": "fall"}) as r,
        ):
            new = next(m for m in sse_messages(r) if isinstance(m, SseMessage))
        payload = json.loads(new.data)
        assert new.event == "new" and payload["after"]["camera"] == "replay"
        assert payload["after"]["model_card"] == "fall"
        run.send_signal(signal.SIGTERM)
        assert run.wait(120) == 0
    finally:
        if run.poll() is None:
            run.kill()
        stderr = run.communicate()[1]
    assert "Traceback" not in stderr, stderr


@pytest.mark.slow
def test_an_event_vigil_run_raises_arrives_over_sse_mqtt_and_webhook(
    videos: Path, tmp_path: Path
) -> None:
    began = time.monotonic()
    data = tmp_path / "data"
    port = free_port()
    prefix = f"vigil-test-{uuid.uuid4().hex[:8]}"
    with EventStore.for_data_dir(data) as store:
        accounts = Accounts(store.engine)
        accounts.add_user("ana", PASSWORD, "operator")
        secret = accounts.create_token("ana", "t").secret
    mqtt_new: list[dict] = []
    subscribed = threading.Event()
    bus = mqtt.Client(CallbackAPIVersion.VERSION2)
    bus.on_connect = lambda c, *_: c.subscribe(f"{prefix}/events", qos=1)
    bus.on_subscribe = lambda *_: subscribed.set()
    bus.on_message = lambda _c, _u, m: mqtt_new.append(json.loads(m.payload))
    bus.connect("127.0.0.1", 1883)
    bus.loop_start()
    assert subscribed.wait(10), "no MQTT broker on 127.0.0.1:1883"
    site = tmp_path / "site.yaml"
    rule = "{no_helmet: {k_of_n: [1, 1], min_duration: 0, cooldown: 0}}"
    video = videos / "workers_no_hardhat_slideshow_01.mp4"
    with Receiver() as hook:
        site.write_text(
            f"""
cameras: [{{id: replay, source: {video}, loop: true, fps: 2, rules: {rule}}}]
evidence: {{pre_seconds: 1, post_seconds: 1}}
storage: {{data_dir: {data}}}
api: {{port: {port}}}
alerts:
  channels:
    - {{name: hook, kind: webhook, url: "{hook.url}/h", secret: s}}
    - {{name: bus, kind: mqtt, topic_prefix: {prefix}}}
"""
        )
        run = subprocess.Popen(
            [*VIGIL, "run", "--config", str(site), "--serve", "--for", "85"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:

            def up() -> bool:
                assert run.poll() is None, run.communicate()[1]
                try:
                    return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(up, 50, "vigil run --serve to answer")
            left = 80 - (time.monotonic() - began)
            headers = {"Authorization": f"Bearer {secret}"}
            with (
                httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(left)) as c,
                c.stream("GET", "/api/v1/stream", params={"after": 0}) as r,
            ):  # from the first change on: an event raised before the client came is not missed
                sse_new = next(
                    json.loads(m.data)
                    for m in sse_messages(r)
                    if isinstance(m, SseMessage) and m.event == "new"
                )
            event_id = sse_new["after"]["id"]
            arrived = lambda: (  # noqa: E731
                any(p["event_id"] == event_id and p["type"] == "new" for p in mqtt_new)
                and any(json.loads(x.body)["event_id"] == event_id for x in hook.snapshot())
            )
            wait_until(arrived, max(5.0, 85 - (time.monotonic() - began)), "MQTT and webhook")
            received = next(json.loads(x.body) for x in hook.snapshot())
            assert (
                sse_new["after"]["camera"] == "replay" and sse_new["after"]["rule"] == "no_helmet"
            )
            assert received["type"] == "new" and received["camera"] == "replay"
            run.send_signal(signal.SIGTERM)
            assert run.wait(60) == 0
        finally:
            if run.poll() is None:
                run.kill()
            stderr = run.communicate()[1]
            bus.loop_stop()
            bus.disconnect()
    assert "Traceback" not in stderr, stderr
