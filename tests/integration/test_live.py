"""`vigil run` against real streams: GStreamer's RTSP server serving real footage, a server
killed and restarted, cameras that cannot work, and SIGTERM in the middle of a violation.

Only the fall rule runs (the small fall model), at 2 analysed frames per second; fall_01.mp4
shows a worker falling at ~3.6 s and lying on the floor to its end (11.3 s), and the server
loops it, so a fall event opens every 11.3 s of stream.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import pytest
from livehelpers import (
    GarbageServer,
    MjpegServer,
    RtspServer,
    free_port,
    rtsp_server_available,
    wait_for,
)
from videocheck import is_faststart, probe
from workerhelpers import stop_run

from vigil.config import SiteConfig
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.run import SiteRunner
from vigil.streams.health import CameraState

pytestmark = [pytest.mark.slow, pytest.mark.needs_rtsp]

FAST_RECONNECT = {
    "stall_seconds": 2,
    "open_timeout": 3,
    "backoff_initial": 0.2,
    "backoff_max": 1,
    "fail_after": 3,
}


@pytest.fixture(scope="module", autouse=True)
def _needs_rtsp_server() -> None:
    reason = rtsp_server_available()
    if reason:
        pytest.skip(reason)


def site(tmp_path: Path, cameras: list[dict], **extra) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "cameras": [{"fps": 2, "rules": {"fall": {}}, **c} for c in cameras],
            "storage": {"data_dir": str(tmp_path / "data")},
            "evidence": {"pre_seconds": 2, "post_seconds": 2},
            "reconnect": FAST_RECONNECT,
            **extra,
        }
    )


class Running:
    """A SiteRunner on a thread, recording every camera state change with its time."""

    def __init__(self, config: SiteConfig) -> None:
        self.runner = SiteRunner(config)
        self.stop = threading.Event()
        self.states: list[tuple[float, str, CameraState, str | None]] = []
        self.summary = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.summary = self.runner.run(self.stop, listeners=[self._heard])
        except BaseException as exc:  # surfaced by finish()
            self.error = exc

    def _heard(self, camera: str, state: CameraState, error: str | None) -> None:
        self.states.append((time.monotonic(), camera, state, error))

    def state(self, camera: str) -> CameraState | None:
        mine = [s for _, c, s, _ in self.states if c == camera]
        return mine[-1] if mine else None

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def finish(self):
        self.stop.set()
        self.thread.join(120)
        assert not self.thread.is_alive(), "vigil run did not stop"
        if self.error:
            raise self.error
        return self.summary

    def __exit__(self, *exc: object) -> None:
        if self.thread.is_alive():
            self.stop.set()
            self.thread.join(120)


def check_clip(event) -> None:
    codec, seconds, frames, _ = probe(event.clip_path)
    assert codec == "h264" and frames > 0 and seconds > 0
    assert is_faststart(event.clip_path)
    assert hashlib.sha256(event.clip_path.read_bytes()).hexdigest() == event.clip_sha256
    assert event.snapshot_path.read_bytes()[:2] == b"\xff\xd8"


def test_server_killed_and_restarted(videos: Path, tmp_path: Path):
    with RtspServer({"fall": videos / "fall_01.mp4"}) as server:
        config = site(tmp_path, [{"id": "dock", "source": server.url("fall")}])
        with Running(config) as run:
            wait_for(lambda: run.state("dock") is CameraState.LIVE, 30, "the camera to go live")
            time.sleep(2.0)
            server.kill()
            wait_for(lambda: run.state("dock") is CameraState.STALLED, 15, "a stall")
            time.sleep(1.0)  # the server is down a while: reconnects are refused
            server.start()
            restarted = time.monotonic()
            wait_for(lambda: run.state("dock") is CameraState.LIVE, 30, "the camera to come back")
            back = time.monotonic()
            store = run.runner.store

            def opened_after_restart():
                cutoff = time.time() - (time.monotonic() - restarted)
                return [e for e in store.list_events(camera="dock") if e.start_wall > cutoff]

            # The restarted server plays the file from its start: a fall ~3.6 s later.
            wait_for(opened_after_restart, 40, "a fall event after the restart", step=0.5)
            summary = run.finish()

    after_kill = [(s, e) for t, c, s, e in run.states if c == "dock" and t > restarted - 1.5]
    sequence = [s for s, _ in after_kill]
    assert CameraState.STALLED in [s for t, c, s, _ in run.states if c == "dock"]
    i = sequence.index(CameraState.CONNECTING)
    assert CameraState.LIVE in sequence[i:], sequence
    print(f"reconnected {back - restarted:.2f} s after the server restarted")

    store = EventStore.for_data_dir(tmp_path / "data")
    events = store.list_events(camera="dock")
    assert events and all(e.state is LifecycleState.ENDED for e in events)
    for event in events:
        check_clip(event)
    gaps = store.gaps("dock")
    assert len(gaps) >= 1 and gaps[0].end_wall > gaps[0].start_wall  # the hole is recorded
    assert summary.reader_restarts == 0
    health = {h.camera: h for h in store.camera_health()}
    assert health["dock"].state is CameraState.STOPPED and health["dock"].reconnects >= 1
    store.dispose()


def test_broken_cameras_fail_and_the_good_ones_keep_running(videos: Path, tmp_path: Path):
    garbage = GarbageServer()
    closed_port = free_port()
    with (
        RtspServer({"fall": videos / "fall_01.mp4"}) as open_server,
        RtspServer({"fall": videos / "fall_01.mp4"}, user="vigil", password="right") as locked,
    ):
        config = site(
            tmp_path,
            [
                {"id": "good", "source": open_server.url("fall")},
                {"id": "good-udp", "source": open_server.url("fall"), "transport": "udp"},
                {"id": "nobody-home", "source": f"rtsp://127.0.0.1:{closed_port}/x"},
                {"id": "wrong-password", "source": locked.url("fall", "vigil:wrong")},
                {"id": "gibberish", "source": f"rtsp://127.0.0.1:{garbage.port}/x"},
            ],
        )
        with Running(config) as run:
            broken = ("nobody-home", "wrong-password", "gibberish")
            wait_for(
                lambda: (
                    all(run.state(c) is CameraState.FAILED for c in broken)
                    and run.state("good") is CameraState.LIVE
                    and run.state("good-udp") is CameraState.LIVE
                ),
                40,
                "three failed cameras and two live ones",
            )
            time.sleep(4.0)  # analysis goes on for the good camera meanwhile
            status = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "vigil.cli",
                    "status",
                    "--data",
                    str(tmp_path / "data"),
                    "--json",
                ],
                capture_output=True,
                text=True,
                timeout=60,
            )
            run.finish()
    garbage.close()

    rows = {r["camera"]: r for r in map(json.loads, status.stdout.splitlines())}
    assert status.returncode == 0, status.stderr
    assert rows["good"]["state"] == "live" and rows["good"]["fps_analysed"] > 0.5
    assert rows["good"]["fps_in"] > 15  # the file is ~24 fps
    assert rows["good-udp"]["state"] == "live" and rows["good-udp"]["fps_in"] > 15
    assert rows["nobody-home"]["state"] == "failed"
    assert "connection refused" in rows["nobody-home"]["last_error"]
    assert rows["wrong-password"]["state"] == "failed"
    assert "401" in rows["wrong-password"]["last_error"]
    assert "wrong" not in rows["wrong-password"]["source"]  # the password is masked
    assert rows["gibberish"]["state"] == "failed"
    assert "invalid data" in rows["gibberish"]["last_error"]
    assert rows["nobody-home"]["reconnects"] >= 2  # it keeps trying


def test_sigterm_during_an_open_violation(videos: Path, tmp_path: Path):
    data = tmp_path / "data"
    config = tmp_path / "site.yaml"
    config.write_text(
        f"""
cameras:
  - id: replay
    source: {videos / "fall_01.mp4"}
    loop: true
    fps: 2
    rules: {{fall: {{}}}}
evidence: {{pre_seconds: 2, post_seconds: 2}}
storage: {{data_dir: {data}}}
"""
    )
    log = (tmp_path / "run.log").open("w")
    process = subprocess.Popen(
        [sys.executable, "-m", "vigil.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:

        def open_event():
            if not (data / "vigil.db").exists():
                return None
            try:
                with sqlite3.connect(data / "vigil.db") as db:
                    return db.execute("select id from events where state = 'open'").fetchone()
            except sqlite3.OperationalError:
                return None

        (event_id,) = wait_for(open_event, 90, "a fall event to open", step=0.25)
        assert stop_run(process, tmp_path / "run.log") == 0
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
    stderr = (tmp_path / "run.log").read_text()
    assert "Traceback" not in stderr, stderr

    store = EventStore.for_data_dir(data)
    event = store.get_event(event_id)
    assert event.state is LifecycleState.ENDED
    check_clip(event)
    assert event.clip_start_pts <= event.start_pts
    assert all(e.state is LifecycleState.ENDED for e in store.list_events())
    assert [h.state for h in store.camera_health()] == [CameraState.STOPPED]
    store.dispose()


def test_mjpeg_over_http_and_an_image_folder(videos: Path, tmp_path: Path):
    """Sources that are not H.264: an MJPEG camera (clips encoded from kept frames) and a
    folder of stills read in order, each analysed once."""
    stills = tmp_path / "stills"
    stills.mkdir()
    with av.open(str(videos / "fall_01.mp4")) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % 24 == 0:
                frame.to_image().save(stills / f"{i:04d}.jpg")
    mjpeg = MjpegServer(videos / "fall_01.mp4", fps=10, seconds=11.3)
    config = site(
        tmp_path,
        [{"id": "mjpeg", "source": mjpeg.url}, {"id": "stills", "source": str(stills)}],
    )
    try:
        with Running(config) as run:
            store = run.runner.store
            wait_for(lambda: store.list_events(camera="mjpeg"), 60, "a fall on the MJPEG camera")
            wait_for(lambda: run.state("stills") is CameraState.STOPPED, 30, "the folder's end")
            images = len(list(stills.iterdir()))
            wait_for(lambda: run.runner.analysed_counts()["stills"] == images, 30, "every image")
            summary = run.finish()
    finally:
        mjpeg.close()
    assert summary.frames_analysed["stills"] == images  # each image once, in order
    store = EventStore.for_data_dir(tmp_path / "data")
    (event, *_) = store.list_events(camera="mjpeg")
    assert event.state is LifecycleState.ENDED
    check_clip(event)  # encoded from the decoded frames the buffer kept
    # Pre-roll: 2 s before the start, or from the camera's first frame (camera time 0).
    assert event.clip_start_pts <= max(event.start_pts - 2, 0.0) + 0.2
    store.dispose()


def test_hls_over_http(videos: Path, tmp_path: Path):
    """An HLS playlist (H.264 in MPEG-TS segments, remuxed here from the footage) over HTTP:
    read by FFmpeg, its packets kept for clips as they come (Annex B already)."""
    import functools
    import http.server

    from vigil.streams.reader import CameraReader, ReaderOptions
    from vigil.streams.ring import Packet
    from vigil.streams.sources import parse_source

    folder = tmp_path / "hls"
    folder.mkdir()
    with av.open(str(videos / "fall_01.mp4")) as source:
        stream = source.streams.video[0]
        options = {"hls_time": "2", "hls_list_size": "0", "hls_playlist_type": "vod"}
        with av.open(str(folder / "cam.m3u8"), "w", format="hls", options=options) as out:
            copy = out.add_stream_from_template(stream)
            for packet in source.demux(stream):
                if packet.dts is not None:
                    packet.stream = copy
                    out.mux(packet)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/cam.m3u8"
    reader = CameraReader("hls", parse_source(url), ReaderOptions())
    try:
        reader.start()
        wait_for(lambda: len(reader.ring) >= 200, 20, "the playlist's packets")
        frame = wait_for(reader.take, 5, "a frame")
    finally:
        reader.stop()
        reader.join(5)
        httpd.shutdown()
        httpd.server_close()
    assert frame.shape == (360, 640)
    items = [item for _, item in reader.ring.since(-1)]
    assert all(isinstance(i, Packet) for i in items) and items[0].keyframe
