"""The console's replay pages in a real headless Chromium (Debian's, driven by Playwright):
the recording timeline of a camera played as HLS through the vendored hls.js, exports of a
range, incident replay of two cameras in sync, the assignee filter, and WebPush subscribe.

The recordings are real: the H.264 packets of the footage `vigil detect` found the events in,
written as indexed segments by the recorder's SegmentWriter, laid on the same wall clock as the
events (the fall camera with a gap, a second camera without), in a copy of the console site's
data folder served by its own `vigil serve` (with a WebPush channel).

Waits are on states (readyState, currentTime moving, a job done) with long timeouts, never
fixed sleeps: the machine may be busy.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING

import av
import numpy as np
import pytest
import supervision as sv
from consolehelpers import PHONE, Site, detected_event, serving, shot
from loophelpers import put_in_status
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from recordhelpers import looped_packets

from vigil.events.alerts import AlertStore
from vigil.events.continuous import ContinuousRecorder
from vigil.events.segments import RecordSettings, SegmentWriter
from vigil.events.store import EventStore
from vigil.events.store.recordings import RecordingIndex
from vigil.streams.ring import RingBuffer

if TYPE_CHECKING:
    from playwright.sync_api import Page  # only with playwright installed: the tests skip without

# About one run in three, one of these tests (a different one each time) waits in vain for the
# page (the HLS player, or the service worker) on a quiet machine; the cause is not found yet.
# A failed test is run again, up to twice, in a new page; three failures in a row still fail.
pytestmark = [pytest.mark.slow, pytest.mark.flaky(reruns=2)]

EVENTS_PAGE = 50  # events the console's list loads at once (api/console/js/events.js)
WAIT_MS = 90_000  # for states that need the player (or an export) to get somewhere


@dataclass(frozen=True)
class Recorded:
    """Where the recordings lie in wall time: the fall video's first frame is at ``origin``."""

    origin: float
    fall: float  # the fall video's length
    event_start: float
    event_id: str
    severity: str


def _patient(page: Page) -> Page:
    """The page, waiting up to WAIT_MS for any element or state (the machine may be busy)."""
    page.set_default_timeout(WAIT_MS)
    return page


def _iso(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).isoformat().replace("+00:00", "Z")


def _length(video: Path) -> float:
    with av.open(str(video)) as c:
        s = c.streams.video[0]
        return s.frames / float(s.average_rate)


def _record(data: Path, camera: str, video: Path, parts: list[tuple[float, float]]) -> None:
    """``video`` looped into segments of ``camera`` for each (wall start, seconds) part."""
    with EventStore.for_data_dir(data) as store:
        index = RecordingIndex(store)
        ring = RingBuffer(30, 64 << 20)
        writer = SegmentWriter(
            camera, ring, data, index, RecordSettings(segment_seconds=10), lambda t: t
        )
        for start, seconds in parts:
            for i, packet in enumerate(looped_packets(video, seconds, start)):
                ring.append(packet)
                if i % 30 == 0:
                    writer.pump()
        writer.close()


def _seen(data: Path, camera: str, event_id: str, origin: float) -> str:
    """What the models saw in the event's frames (its stored score timeline, as `vigil detect`
    found it) kept as the recorder keeps every analysed frame; the label."""
    with EventStore.for_data_dir(data) as store:
        event = store.get_event(event_id)
        timeline = store.timeline(event_id)
        recorder = ContinuousRecorder(RecordingIndex(store), data)
        recorder.add_camera(camera, RingBuffer(1, 1), RecordSettings(), lambda t: t)
        recorder.start()
        for point in timeline:
            boxes = sv.Detections(
                xyxy=np.array([point.bbox], np.float32), confidence=np.array([point.confidence])
            )
            boxes.data["label"] = np.array([event.label], dtype=object)
            recorder.seen(camera, origin + point.pts, boxes)
        recorder.close()
    assert timeline, "the event has no score timeline"
    return event.label


@pytest.fixture(scope="module")
def recorded(site: Site, videos: Path) -> Recorded:
    fall = detected_event(site, "fall")
    length = _length(videos / "fall_01.mp4")
    origin = fall.start_wall - fall.start_pts  # the wall time of the fall video's first frame
    return Recorded(origin, length, fall.start_wall, fall.id, fall.severity)


@pytest.fixture(scope="module")
def site(site: Site, videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The console site's data copied, with recordings, served with two cameras and WebPush."""
    root = tmp_path_factory.mktemp("replay")
    data = root / "data"
    shutil.copytree(site.data_dir, data, ignore=shutil.ignore_patterns("vigil.db*", "*.lock"))
    with (
        sqlite3.connect(site.data_dir / "vigil.db") as src,
        sqlite3.connect(data / "vigil.db") as dst,
    ):
        src.backup(dst)
    fall = detected_event(site, "fall")
    origin = fall.start_wall - fall.start_pts
    n = _length(videos / "fall_01.mp4")
    # The fall camera: its video from two loops before to two after, a gap, two more loops.
    _record(
        data, "fall_01", videos / "fall_01.mp4", [(origin - 2 * n, 4 * n), (origin + 4 * n, 2 * n)]
    )
    _seen(data, "fall_01", fall.id, origin)
    # A second camera, recorded all along: what it saw meanwhile. The fire camera (events
    # from `vigil detect`) has no recording: incident replay plays its event clips.
    _record(data, "yard", videos / "fire_01.mp4", [(origin - 2 * n, 8 * n)])
    site_file = root / "site.yaml"
    site_file.write_text(
        f"cameras:\n  - id: fall_01\n    source: {videos / 'fall_01.mp4'}\n"
        f"  - id: fire_01\n    source: {videos / 'fire_01.mp4'}\n"
        f"  - id: yard\n    source: {videos / 'fire_01.mp4'}\n"
        "api:\n  login_rate: 200/minute\n"
        "alerts:\n  channels:\n"
        "    - {name: phones, kind: webpush, subject: 'mailto:safety@plant.example'}\n"
    )
    with serving(site_file, data) as url:
        yield Site(url, data, site.shots)


def _segments(page, site: Site, camera: str, start: float, end: float) -> list[dict]:
    r = page.request.get(
        f"{site.url}/api/v1/cameras/{camera}/recordings",
        params={"start": _iso(start), "end": _iso(end)},
    )
    assert r.ok, r.text()
    return r.json()["segments"]


def _media_time(segments: list[dict], wall: float) -> float:
    """Where ``wall`` is in the HLS playlist of ``segments`` (their durations end to end)."""
    at = 0.0
    for s in segments:
        a = datetime.fromisoformat(s["start"]).timestamp()
        b = datetime.fromisoformat(s["end"]).timestamp()
        if a <= wall < b:
            return at + wall - a
        at += b - a
    raise AssertionError(f"{wall} is not recorded")


def _x_of(page, axis: str, wall: float) -> tuple[float, float]:
    """The page coordinates of ``wall`` on an axis (low in its lanes), read in one go: the
    page redraws its lanes as it plays. The axis is scrolled into view first: the panels above
    it (live cameras, events) grow as their snapshots load, and a click or a drag below the
    window's edge reaches nothing."""
    return tuple(
        page.evaluate(
            """([axis, wall]) => { const a = document.querySelector(axis);
              const body = a.querySelector('.axis-body');
              body.scrollIntoView({ block: 'center' });
              const r = body.getBoundingClientRect();
              const [s, e] = [Number(a.dataset.start), Number(a.dataset.end)];
              return [r.left + (wall - s) / (e - s) * r.width, r.top + r.height * 0.75]; }""",
            [axis, wall],
        )
    )


PLAYER_STATE = """() => { const v = document.querySelector('#replay-video');
  const a = document.querySelector('#timeline');
  return { time: v.currentTime, ready: v.readyState, seeking: v.seeking, paused: v.paused,
    axis: [Number(a.dataset.start), Number(a.dataset.end)], url: location.hash }; }"""
AUTOPLAYING = """() => { const v = document.querySelector('#replay-video');
  return v && v.readyState >= 2 && !v.paused; }"""
PAUSE = "document.querySelector('#replay-video').pause()"


def _pause(page) -> None:
    """Pause the player once the page has started it (the day's load ends with a seek that
    plays): paused sooner, that play would start it again, and the timeline would page on
    under a click or a drag."""
    page.wait_for_function(AUTOPLAYING, timeout=WAIT_MS)
    page.evaluate(PAUSE)


PLAYING = """([low, high]) => { const v = document.querySelector('#replay-video');
  return v && v.readyState >= 2 && !v.seeking && v.currentTime >= low && v.currentTime <= high; }"""


def test_timeline_shows_spans_gaps_and_events_and_plays_from_a_click(
    page_for, site: Site, recorded: Recorded
) -> None:
    page = _patient(page_for("ana"))
    at = recorded.origin + 3
    page.goto(f"{site.url}/console/#/replay/fall_01?t={_iso(at)}&zoom=600")
    page.wait_for_selector("#timeline .rec >> nth=1")
    spans = page.evaluate(
        "[...document.querySelectorAll('#timeline .lane:not(.found) .rec')]"
        ".map(r => { const b = r.getBoundingClientRect(); return [b.left, b.right]; })"
    )
    assert len(spans) == 2, "the gap should split the recording into two spans"
    assert spans[0][1] < spans[1][0] - 10, f"no visible gap between the spans: {spans}"
    mark = page.locator(f"#timeline .mark[data-id='{recorded.event_id}']")
    assert mark.count() == 1 and recorded.severity in mark.get_attribute("class").split()
    assert page.locator(f"#day-events [data-id='{recorded.event_id}']").count() == 1
    page.wait_for_function(
        "() => document.querySelector('#replay-video').readyState >= 2", timeout=WAIT_MS
    )

    # Paused, the window stays where it is (playing, it pages on with the playhead).
    _pause(page)
    page.click("#zoom [data-zoom='60']")
    segments = _segments(page, site, "fall_01", recorded.origin - 60, recorded.origin + 120)
    target = recorded.origin + 8.0
    expected = _media_time(segments, target)
    page.mouse.click(*_x_of(page, "#timeline", target))
    # It plays from the clicked moment: near it (a pixel is 0.06 s here), ready, and moving on.
    try:
        page.wait_for_function(PLAYING, arg=[expected - 1.0, expected + 20], timeout=WAIT_MS)
    except PlaywrightTimeout:
        state = page.evaluate(PLAYER_STATE)
        raise AssertionError(f"not playing near {expected:.1f} s of media: {state}") from None
    now = page.evaluate("document.querySelector('#replay-video').currentTime")
    assert now < expected + 20
    page.wait_for_function(
        "t => document.querySelector('#replay-video').currentTime > t + 0.5",
        arg=now,
        timeout=WAIT_MS,
    )
    shot(page, site, "replay-timeline")

    # A click on the event's mark plays from the event's start.
    page.click("#zoom [data-zoom='600']")
    page.locator(f"#timeline .mark[data-id='{recorded.event_id}']").click()
    start = _media_time(segments, recorded.event_start)
    page.wait_for_function(PLAYING, arg=[start - 0.5, start + 20], timeout=WAIT_MS)

    # "What the models saw": the event's label found in the kept timeline, a click plays it.
    with site.store() as store:
        event = store.get_event(recorded.event_id)
        first = recorded.origin + store.timeline(recorded.event_id)[0].pts
    page.fill("#find-label", event.label)
    page.click(".find button[type=submit]")
    page.wait_for_selector("#found .day-event")
    assert page.locator("#timeline .lane.found .rec").count() >= 1
    seen = float(page.get_attribute("#found .day-event", "data-start"))
    assert abs(seen - first) < 1.0, "the search found another moment than the event's frames"
    page.click("#found .day-event")
    when = _media_time(segments, seen)
    page.wait_for_function(PLAYING, arg=[when - 0.5, when + 20], timeout=WAIT_MS)

    # A click in the gap plays from the next recorded moment.
    gap = recorded.origin + 3 * recorded.fall
    after = _media_time(segments, recorded.origin + 4 * recorded.fall + 0.01)
    page.mouse.click(*_x_of(page, "#timeline", gap))
    page.wait_for_function(PLAYING, arg=[after - 0.5, after + 20], timeout=WAIT_MS)


EXPORT_READY = "() => !document.querySelector('#export-exact').disabled"


def _settle(page) -> None:
    """Wait until the page has no request in flight (half a second of quiet), or 30 s."""
    with contextlib.suppress(PlaywrightTimeout):  # a player still buffering: go on
        page.wait_for_load_state("networkidle", timeout=30_000)


def _drag(page, a: float, b: float) -> None:
    """Drag on the timeline from wall time ``a`` to ``b``: the export range."""
    (xa, y), (xb, _) = _x_of(page, "#timeline", a), _x_of(page, "#timeline", b)
    page.mouse.move(xa, y)
    page.mouse.down()
    page.mouse.move(xb, y, steps=8)
    page.mouse.up()


def test_an_exact_export_of_a_dragged_range_downloads_an_mp4_of_that_length(
    page_for, site: Site, recorded: Recorded, tmp_path: Path
) -> None:
    page = _patient(page_for("olu"))
    page.goto(f"{site.url}/console/#/replay/fall_01?t={_iso(recorded.origin + 5)}&zoom=60")
    page.wait_for_selector("#timeline .rec")
    a, b = recorded.origin + 2.0, recorded.origin + 9.0
    _pause(page)  # the window stays put while the range is dragged
    _settle(page)  # no redraw from a late answer under the drag
    _drag(page, a, b)
    try:
        page.wait_for_function(EXPORT_READY, timeout=15_000)
    except PlaywrightTimeout:  # a redraw took the drag (a loaded machine): once more
        _settle(page)
        _drag(page, a, b)
        try:
            page.wait_for_function(EXPORT_READY, timeout=WAIT_MS)
        except PlaywrightTimeout:
            x, y = _x_of(page, "#timeline", a)
            under = page.evaluate(
                "([x, y]) => { const e = document.elementFromPoint(x, y);"
                " return e ? e.outerHTML.slice(0, 120) : null; }",
                [x, y],
            )
            state = page.evaluate(PLAYER_STATE)
            readout = page.text_content("#export-range")
            page.screenshot(path=str(tmp_path / "drag.png"))
            raise AssertionError(
                f"no range after two drags: under ({x:.0f}, {y:.0f}): {under}; player {state};"
                f" readout {readout!r}; screenshot {tmp_path / 'drag.png'}"
            ) from None
    page.click("#export-exact")
    done = page.locator("#exports .job[data-state='done'] a.download")
    done.wait_for(timeout=WAIT_MS)
    job_id = page.get_attribute("#exports .job", "data-id")
    job = page.request.get(f"{site.url}/api/v1/exports/{job_id}").json()
    asked = (
        datetime.fromisoformat(job["end"]).timestamp()
        - datetime.fromisoformat(job["start"]).timestamp()
    )
    assert abs(asked - (b - a)) < 0.5, f"the export asked for {asked:.2f} s, dragged {b - a} s"
    with page.expect_download() as download:
        done.click()
    path = tmp_path / "export.mp4"
    download.value.save_as(path)
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        codec = stream.codec_context.name
        times = [f.time for f in c.decode(stream)]
    period = (times[-1] - times[0]) / (len(times) - 1)
    seconds = times[-1] - times[0] + period
    assert codec == "h264"
    assert abs(seconds - asked) < 0.15, f"an exact export of {asked:.2f} s lasts {seconds:.2f} s"
    with site.store() as store:
        page.fill("#find-label", store.get_event(recorded.event_id).label)
    page.click(".find button[type=submit]")
    page.wait_for_selector("#timeline .lane.found .rec")
    shot(page, site, "replay-export")


def _wall_at(segments: list[dict], media: float) -> float:
    """The wall time that ``media`` shows in the HLS playlist of ``segments``."""
    at = 0.0
    for s in segments:
        a = datetime.fromisoformat(s["start"]).timestamp()
        b = datetime.fromisoformat(s["end"]).timestamp()
        if media < at + (b - a):
            return a + media - at
        at += b - a
    raise AssertionError(f"media time {media} is past the playlist's end")


CAUGHT_UP = """([cams, lows, highs]) => cams.every((c, i) => {
  const v = document.querySelector(`#walls video[data-camera="${c}"]`);
  return v && v.readyState >= 2 && !v.seeking && !v.paused
    && v.currentTime >= lows[i] && v.currentTime <= highs[i]; })"""
TIMES = """cams => cams.map(c =>
  document.querySelector(`#walls video[data-camera="${c}"]`).currentTime)"""


def test_incident_replay_plays_two_cameras_in_sync_after_a_seek(
    page_for, site: Site, recorded: Recorded
) -> None:
    page = _patient(page_for("ana"))
    at = recorded.origin + 5
    cams = ["fall_01", "yard"]
    page.goto(f"{site.url}/console/#/incident?t={_iso(at)}&m=2&c={','.join(cams)}")
    page.wait_for_selector("#incident-axis .lane >> nth=1")
    assert page.locator("#walls video").count() == 2
    assert page.locator(f"#incident-axis .mark[data-id='{recorded.event_id}']").count() == 1
    assert page.locator(f"#incident-events [data-id='{recorded.event_id}']").count() == 1
    segments = {c: _segments(page, site, c, at - 120, at + 120) for c in cams}

    page.click("#play")
    target = recorded.origin + 9.0  # both cameras recorded it
    page.mouse.click(*_x_of(page, "#incident-axis", target))
    lows = [_media_time(segments[c], target) - 1.0 for c in cams]
    highs = [low + 30 for low in lows]
    page.wait_for_function(CAUGHT_UP, arg=[cams, lows, highs], timeout=WAIT_MS)
    first = page.evaluate(TIMES, cams)
    # Both move on, and keep showing the same moment (one clock drives them).
    page.wait_for_function(
        "([cams, t]) => cams.every((c, i) => document.querySelector("
        '`#walls video[data-camera="${c}"]`).currentTime > t[i] + 1.5)',
        arg=[cams, first],
        timeout=WAIT_MS,
    )
    walls = [
        _wall_at(segments[c], t) for c, t in zip(cams, page.evaluate(TIMES, cams), strict=True)
    ]
    assert abs(walls[0] - walls[1]) < 1.0, f"the players drifted apart: {walls}"
    assert walls[0] > target, "the clock did not move on from the seek"
    shot(page, site, "replay-incident")

    # In the fall camera's gap its screen says so while the other camera plays on.
    gap = recorded.origin + 3 * recorded.fall
    page.mouse.click(*_x_of(page, "#incident-axis", gap))
    page.locator("#walls [data-camera='fall_01'] .gone").wait_for(timeout=WAIT_MS)
    yard = _media_time(segments["yard"], gap)
    page.wait_for_function(CAUGHT_UP, arg=[["yard"], [yard - 1.0], [yard + 30]], timeout=WAIT_MS)


def test_the_events_page_filters_by_assignee(page_for, site: Site, recorded: Recorded) -> None:
    with site.store() as store:
        put_in_status(SimpleNamespace(store=store), recorded.event_id, "assigned", "user:olu")
        others = {e.id for e in store.list_events()} - {recorded.event_id}
    assert others, "the site has one event only"
    page = _patient(page_for("olu"))
    page.goto(f"{site.url}/console/#/events?assignee=me")
    page.wait_for_selector(f"#list .row[data-id='{recorded.event_id}']")
    assert page.locator("#list .row").count() == 1
    assert page.input_value("#f-assignee") == "me"
    page.fill("#f-assignee", "none")
    page.press("#f-assignee", "Enter")
    page.wait_for_function(
        "id => !document.querySelector(`#list .row[data-id='${id}']`)"
        " && document.querySelectorAll('#list .row').length > 0",
        arg=recorded.event_id,
    )
    shown = set(page.eval_on_selector_all("#list .row", "rs => rs.map(r => r.dataset.id)"))
    # The newest page of them (other modules' tests may have stored more than a page).
    assert recorded.event_id not in shown and shown <= others
    assert len(shown) == min(len(others), EVENTS_PAGE)
    page.fill("#f-assignee", "not a name!")
    page.press("#f-assignee", "Enter")
    page.wait_for_selector("#list .error")


NOTIFIED = """id => navigator.serviceWorker.ready.then(r => r.getNotifications())
  .then(ns => ns.some(n => n.data && n.data.url.endsWith('#/events/' + id)))"""


def test_notify_me_registers_the_worker_and_subscribes_or_says_why_not(
    page_for, site: Site, recorded: Recorded
) -> None:
    page = _patient(page_for("olu", PHONE))
    page.context.grant_permissions(["notifications"], origin=site.url)
    page.wait_for_function(
        "() => navigator.serviceWorker.getRegistration().then(r => Boolean(r && r.active))",
        timeout=WAIT_MS,
    )
    with page.expect_response("**/api/v1/push/key") as key:
        page.click("#notify")
    assert key.value.status == 200
    assert len(key.value.json()["application_server_key"]) == 87  # a P-256 point, base64url
    page.wait_for_function(
        "() => { const b = document.querySelector('#notify');"
        " return b.classList.contains('on') || Boolean(b.dataset.error); }",
        timeout=WAIT_MS,
    )
    error = page.get_attribute("#notify", "data-error")
    with site.store() as store:
        stored = AlertStore(store).push_subscriptions(["olu"])
    if error is None:  # a browser with a push service: the API has the subscription
        assert len(stored) == 1
    else:  # headless Chromium without a network has none: it says so, nothing is stored
        assert "push service" in error and not stored
        assert "push service" in page.inner_text("#toast")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, site, "replay-notify-phone")

    # A push (delivered by the browser's DevTools) shows a notification that opens the event.
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict] = []
    cdp.on(
        "ServiceWorker.workerRegistrationUpdated",
        lambda e: registrations.extend(e["registrations"]),
    )
    cdp.send("ServiceWorker.enable")
    deadline = time.monotonic() + 60
    while not registrations:  # DevTools reports them as events, soon after enable
        assert time.monotonic() < deadline, "DevTools reported no service worker registration"
        page.wait_for_timeout(100)
    message = {"title": "Fall on fall_01", "body": "critical", "event_id": recorded.event_id}
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {
            "origin": site.url,
            "registrationId": registrations[0]["registrationId"],
            "data": json.dumps(message),
        },
    )
    page.wait_for_function(NOTIFIED, arg=recorded.event_id, timeout=WAIT_MS)

    # The replay page fits the phone too.
    page.goto(f"{site.url}/console/#/replay/fall_01?t={_iso(recorded.event_start)}&zoom=600")
    page.wait_for_selector(f"#timeline .mark[data-id='{recorded.event_id}']")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, site, "replay-phone")


def test_incident_replay_plays_event_clips_of_a_camera_without_recordings(
    page_for, site: Site
) -> None:
    with site.store() as store:
        fire = next(e for e in store.list_events() if e.camera == "fire_01" and e.clip_path)
    page = _patient(page_for("ana"))
    page.goto(f"{site.url}/console/#/incident?t={_iso(fire.start_wall)}&m=1&c=fire_01")
    screen = page.locator("#walls .screen[data-camera='fire_01']")
    screen.wait_for()
    assert screen.get_attribute("data-kind") == "event clips"
    assert page.locator("#incident-axis .lane[data-camera='fire_01'] .rec").count() >= 1
    page.click("#play")
    page.click(f"#incident-events [data-id='{fire.id}']")
    # The clip plays from the event's start: clip time = start less the clip's first frame.
    low = fire.start_pts - fire.clip_start_pts - 1.0
    page.wait_for_function(
        """([low]) => { const v = document.querySelector('#walls video[data-camera="fire_01"]');
          return v.currentSrc.includes('/clip') && v.readyState >= 2 && !v.paused
            && v.currentTime >= low && v.currentTime <= low + 30; }""",
        arg=[low],
        timeout=WAIT_MS,
    )
