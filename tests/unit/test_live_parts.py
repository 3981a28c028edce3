"""Parts of live watching, without models or network: backoff, the pre-roll buffer,
newest-frame-wins, camera time, packet timestamps, the health state machine."""

from __future__ import annotations

import random

import pytest

from vigil.streams.backoff import Backoff
from vigil.streams.health import CameraHealth, CameraState
from vigil.streams.reader import LatestFrame, describe_error
from vigil.streams.ring import Packet, Picture, RingBuffer, StreamParams
from vigil.streams.timeline import PacketClock, Timeline

PARAMS = StreamParams("h264", 64, 48, None)


# --- backoff -----------------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_cap_with_jitter_inside_bounds():
    backoff = Backoff(initial=0.5, cap=8.0, jitter=0.5, rng=random.Random(1))
    ceilings = [0.5, 1, 2, 4, 8, 8, 8, 8]
    for ceiling in ceilings:
        delay = backoff.next_delay()
        assert ceiling * 0.5 <= delay <= ceiling
    for _ in range(1000):  # weeks of retries: never above the cap, never an overflow
        assert backoff.next_delay() <= 8.0


def test_backoff_reset_starts_over_and_jitter_spreads_cameras():
    backoff = Backoff(initial=1.0, cap=30.0, jitter=0.0)
    [backoff.next_delay() for _ in range(5)]
    backoff.reset()
    assert backoff.next_delay() == 1.0
    delays = {
        round(Backoff(1.0, 30.0, rng=random.Random(seed)).next_delay(), 3) for seed in range(20)
    }
    assert len(delays) > 10  # twenty cameras dropped together do not retry in step


def test_backoff_rejects_nonsense():
    with pytest.raises(ValueError):
        Backoff(initial=10, cap=1)
    with pytest.raises(ValueError):
        Backoff(jitter=2)


# --- ring buffer -------------------------------------------------------------------------------


def packet(t: float, key: bool, size: int = 100) -> Packet:
    return Packet(b"x" * size, t, t, key, PARAMS)


def test_ring_keeps_seconds_back_from_a_keyframe():
    ring = RingBuffer(seconds=3.0, max_bytes=1 << 20)
    for i in range(100):  # 10 fps, a keyframe every 2 s
        ring.append(packet(i / 10, key=i % 20 == 0))
    assert ring.newest_t == pytest.approx(9.9)
    # The horizon is 6.9 s; the last keyframe at or before it is at 6.0.
    assert ring.oldest_t == pytest.approx(6.0)
    first = ring.since(-1)[0][1]
    assert first.keyframe


def test_ring_start_seq_finds_the_keyframe_before_a_time():
    ring = RingBuffer(seconds=30.0, max_bytes=1 << 20)
    for i in range(100):
        ring.append(packet(i / 10, key=i % 20 == 0))
    seq = ring.start_seq(5.5)  # keyframes at 0, 2, 4, 6, 8
    assert ring.since(seq - 1)[0][1].t == pytest.approx(4.0)
    assert ring.since(ring.start_seq(-10.0) - 1)[0][1].t == 0.0  # older than the buffer


def test_ring_byte_cap_drops_whole_gops_first():
    ring = RingBuffer(seconds=1000.0, max_bytes=5_000)
    for i in range(100):
        ring.append(packet(i / 10, key=i % 10 == 0, size=100))
    assert ring.nbytes <= 5_000
    assert ring.since(-1)[0][1].keyframe


def test_ring_since_follows_new_items_and_skips_leading_non_keyframes():
    ring = RingBuffer(seconds=10.0, max_bytes=1 << 20)
    assert ring.append(packet(0.0, key=False)) == 0  # nothing decodable yet: not kept
    assert len(ring) == 0
    ring.append(packet(0.1, key=True))
    ring.append(packet(0.2, key=False))
    seen = ring.since(-1)
    assert [item.t for _, item in seen] == [0.1, 0.2]
    last = seen[-1][0]
    assert ring.since(last) == []
    ring.append(packet(0.3, key=False))
    assert [item.t for _, item in ring.since(last)] == [0.3]


def test_ring_of_pictures_trims_by_time():
    ring = RingBuffer(seconds=1.0, max_bytes=1 << 20)
    for i in range(50):
        ring.append(Picture(image=None, t=i * 0.1, nbytes=10))
    assert ring.oldest_t == pytest.approx(3.9) and len(ring) == 11


# --- newest frame wins -------------------------------------------------------------------------


def test_latest_frame_keeps_only_the_newest():
    slot = LatestFrame()
    assert slot.take() is None
    replaced = [slot.put(i) for i in range(5)]
    assert replaced == [False, True, True, True, True]
    assert slot.take() == 4 and slot.take() is None


# --- camera time -------------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_timeline_is_continuous_across_reconnects_with_restarting_pts():
    clock = FakeClock()
    tl = Timeline(clock=clock)
    tl.new_segment()
    ts = []
    for i in range(50):  # 2 s at 25 fps
        clock.now += 0.04
        ts.append(tl.t(100.0 + i * 0.04))
    clock.now += 5.0  # the stream is down for 5 s, then restarts its pts at 0
    tl.new_segment()
    after = tl.t(0.0)
    assert after - ts[-1] == pytest.approx(5.0, abs=0.01)  # the gap stays a gap
    assert all(b > a for a, b in zip(ts, ts[1:], strict=False))


def test_timeline_takes_a_burst_at_connect_as_the_sender_buffer():
    clock = FakeClock()
    tl = Timeline(clock=clock)
    tl.new_segment()
    burst = [tl.t(i * 0.04) for i in range(25)]  # one second of frames, arriving at once
    clock.now += 0.04
    steady = tl.t(25 * 0.04)
    assert steady == pytest.approx(tl.now(), abs=1e-6)  # the live edge maps to now
    assert burst[0] == pytest.approx(0.0)


def test_timeline_reanchors_a_jumping_clock_forward_only():
    clock = FakeClock()
    tl = Timeline(clock=clock, max_drift=10.0)
    tl.new_segment()
    a = tl.t(0.0)
    clock.now += 1.0
    b = tl.t(3600.0)  # the camera's clock jumped an hour
    assert b == pytest.approx(a + 1.0, abs=0.05)


def test_recorded_timeline_uses_pts_from_zero():
    tl = Timeline(max_drift=None, anchor_on_clock=False)
    tl.new_segment()
    assert [tl.t(s) for s in (10.0, 10.5, 11.0)] == [0.0, 0.5, 1.0]


def test_packet_clock_fills_leading_dts_and_keeps_dts_increasing():
    pc = PacketClock(period=0.04)
    out = []
    for pts, dts in [(None, None), (0.16, None), (0.08, None), (0.04, 0.04), (0.12, 0.08)]:
        out += pc.push(b"", pts, dts, False)
    dts = [d for _, _, d, _ in out]
    assert dts == pytest.approx([-0.08, -0.04, 0.0, 0.04, 0.08])
    assert all(p >= d for _, p, d, _ in out)
    assert pc.push(b"", 0.2, None, False)[0][2] == pytest.approx(0.12)  # gap: continue
    assert pc.push(b"", 0.3, 0.05, False)[0][2] > 0.12  # going back: nudged forward


# --- health ------------------------------------------------------------------------------------


def record(health: CameraHealth) -> list[str]:
    states: list[str] = []
    health.listeners.append(lambda _c, state, _e: states.append(state.value))
    return states


def test_health_live_stalled_connecting_live():
    h = CameraHealth("cam", source="rtsp://x")
    states = record(h)
    h.connecting()
    h.frame(0.0, 1.0)
    h.frame(0.04, 1.04)
    h.lost("stream ended")
    h.connecting()
    h.failed_attempt("connection refused")  # one refusal: still connecting
    h.connecting()
    h.frame(5.0, 6.0)
    assert states == ["live", "stalled", "connecting", "live"]
    snap = h.snapshot()
    assert snap.reconnects == 2 and snap.last_error is None and snap.state is CameraState.LIVE


def test_health_fails_at_once_for_permanent_errors_and_after_n_for_others():
    h = CameraHealth("cam", fail_after=3)
    for _ in range(2):
        h.connecting()
        h.failed_attempt("connection refused")
    assert h.state is CameraState.CONNECTING
    h.connecting()
    h.failed_attempt("connection refused")
    assert h.state is CameraState.FAILED and h.last_error == "connection refused"

    auth = CameraHealth("cam2")
    auth.connecting()
    auth.failed_attempt("401 Unauthorized: wrong or missing credentials", permanent=True)
    assert auth.state is CameraState.FAILED


def test_health_stopped_keeps_the_last_error():
    h = CameraHealth("cam")
    h.connecting()
    h.failed_attempt("boom", permanent=True)
    h.stopped()
    assert (h.state, h.last_error) == (CameraState.STOPPED, "boom")


def test_errors_are_described_without_urls():
    import av

    exc = av.error.HTTPUnauthorizedError(825242872, "Unauthorized", "rtsp://u:secret@h/x")
    reason, permanent = describe_error(exc)
    assert permanent and "secret" not in reason and "401" in reason
    reason, permanent = describe_error(av.error.ConnectionRefusedError(111, "refused", "u"))
    assert (reason, permanent) == ("connection refused", False)


# --- decoding less (issue 16) ------------------------------------------------------------------


def test_a_second_stream_down_holds_the_camera_off_live_naming_it():
    health = CameraHealth("gate-3", fail_after=2)
    health.connecting()
    health.frame(t=0.0, wall=1.0)
    health.stream_down("main stream", "connection refused", CameraState.FAILED)
    health.frame(t=0.5, wall=1.5)  # the analysed stream flows: still failed, with the reason
    assert health.state is CameraState.FAILED
    assert health.last_error == "main stream: connection refused"
    health.stream_up("main stream")
    assert health.state is CameraState.FAILED  # until a frame shows the camera live
    health.count_attempt()
    health.frame(t=1.0, wall=2.0)
    assert health.state is CameraState.LIVE and health.last_error is None
    assert health.reconnects == 1


@pytest.mark.parametrize(("fps", "skips"), [(2.0, True), (10.0, False)])
def test_non_reference_frames_are_skipped_only_well_below_the_stream_rate(
    videos, fps: float, skips: bool
):
    """fall_01.mp4 (24 fps, B-frames) looped as a live camera: analysed at 2 fps its
    non-reference frames are not decoded (about half of them here), at 10 fps all are; the
    ring holds every packet either way."""
    import time

    from vigil.streams.reader import CameraReader, ReaderOptions
    from vigil.streams.sources import parse_source

    source = parse_source(str(videos / "fall_01.mp4"), loop=True)
    reader = CameraReader("cam", source, ReaderOptions(analysis_fps=fps))
    reader.start()
    deadline = time.monotonic() + 30
    while reader.ring.next_seq < 72 and time.monotonic() < deadline:  # 3 s of stream
        time.sleep(0.05)
    fps_in = reader.health.snapshot().fps_in
    reader.stop()
    reader.join(5)
    packets, frames = reader.ring.next_seq, reader._index
    assert packets >= 72
    assert fps_in > 15  # the frames the camera sends, skipped ones included (~24 fps)
    assert reader.skipping_nonref is skips
    if skips:
        assert frames < 0.7 * packets
    else:
        assert frames >= packets - 8  # the decoder's delay


@pytest.mark.parametrize(
    ("codec", "width", "permanent"), [("h264", 0, False), ("hevc", 1280, True)]
)
def test_a_main_stream_of_unknown_size_is_retried_and_another_codec_is_not(
    monkeypatch, codec: str, width: int, permanent: bool
):
    """Probing cut short (a loaded machine, no sizes in the SDP) leaves an H.264 main stream's
    size unknown: that attempt fails and is retried. A codec that is not H.264 cannot go into
    the ring undecoded, so that failure is permanent."""
    from contextlib import nullcontext
    from types import SimpleNamespace

    from vigil.streams import reader as module
    from vigil.streams.sources import parse_source

    ctx = SimpleNamespace(name=codec, width=width, height=width and 720, extradata=None)
    stream = SimpleNamespace(codec_context=ctx, time_base=None, average_rate=25)
    container = SimpleNamespace(streams=SimpleNamespace(video=[stream]))
    monkeypatch.setattr(module, "open_source", lambda spec, opts: nullcontext(container))
    main, sub = parse_source("rtsp://cam/main"), parse_source("rtsp://cam/sub")
    camera = module.CameraReader("cam", main, module.ReaderOptions(), detect=sub)
    with pytest.raises(module._Failed) as failed:
        module._MainStream(camera)._read()
    assert failed.value.permanent is permanent
