"""`vigil detect` end to end: real weights on real footage from ../shared/data/videos.

Each test enables only the rules it is about, so only the models those rules need run; models
are loaded once per session (vigil.pipeline keeps them).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from videocheck import is_faststart, probe

from vigil.config import SiteConfig, detect_site
from vigil.detect import DetectResult, detect_video
from vigil.events.store.records import EventRecord
from vigil.events.store.store import EventStore

pytestmark = pytest.mark.slow


def run(video: Path, rules: dict, data_dir: Path, url: str | None = None) -> DetectResult:
    config = detect_site({"fps": 2, "rules": rules}, default_id=video.stem)
    store = EventStore(url) if url else EventStore.for_data_dir(data_dir)
    with store:
        result = detect_video(video, config, store, data_dir)
        stored = {e.id for e in store.list_events()}
    assert stored == {e.id for e in result.events}
    return result


def check_evidence(event: EventRecord, config: SiteConfig, duration: float) -> None:
    assert event.snapshot_path.read_bytes()[:2] == b"\xff\xd8"
    codec, clip_seconds, frames, _ = probe(event.clip_path)
    assert codec == "h264" and frames > 0
    expected = min(duration, event.end_pts + config.evidence.post_seconds) - max(
        0.0, event.start_pts - config.evidence.pre_seconds
    )
    assert clip_seconds == pytest.approx(expected, abs=0.5)
    assert is_faststart(event.clip_path)
    assert hashlib.sha256(event.clip_path.read_bytes()).hexdigest() == event.clip_sha256


def test_fall_video_gives_a_fall_event_near_the_fall(videos: Path, tmp_path: Path, url: str):
    result = run(videos / "fall_01.mp4", {"fall": {}}, tmp_path, url)
    falls = [e for e in result.events if e.rule == "fall"]
    assert falls, "no fall event on a video of a fall"
    # The worker slips at ~3.6 s and lies on the floor from ~4.2 s to the end (11.3 s).
    first = min(falls, key=lambda e: e.start_pts)
    assert 2.5 <= first.start_pts <= 6.0
    assert first.severity == "critical" and first.label == "person_fallen"
    for event in falls:
        check_evidence(event, detect_site(), result.video.duration)


def test_fire_video_gives_fire_or_smoke(videos: Path, tmp_path: Path):
    result = run(videos / "fire_01.mp4", {"fire": {}, "smoke": {}}, tmp_path)
    rules = {e.rule for e in result.events}
    assert rules & {"fire", "smoke"}, "no fire or smoke event on a video of a fire"
    for event in result.events:
        check_evidence(event, detect_site(), result.video.duration)


def test_people_in_a_restricted_zone(videos: Path, tmp_path: Path):
    # The lower half of the plaza (854x480): people walk through it all the time.
    zone = {"name": "plaza-south", "polygon": [[0, 240], [854, 240], [854, 480], [0, 480]]}
    rules = {"restricted_zone": {"dwell": 1.0, "zones": [zone]}}
    result = run(videos / "people_walking_01.mp4", rules, tmp_path)
    in_zone = [e for e in result.events if e.rule == "restricted_zone"]
    assert len(in_zone) >= 2
    for event in in_zone:
        assert event.zone == "plaza-south"
        x1, y1, x2, y2 = event.bbox
        assert y2 >= 240 - 20  # the person's feet were in the zone
    check_evidence(in_zone[0], detect_site(), result.video.duration)


def test_no_helmet_where_heads_are_bare(videos: Path, tmp_path: Path):
    """The slideshow holds bare-headed workers on even slides (0-2, 4-6, ... s) and hard hats on
    odd ones. The default helmet model (a motorcycle-helmet model) finds few of the bare heads
    and once calls a hard hat cut off by a collage tile bare, so this checks that it finds bare
    heads where they are, not that it finds them all (see datasets/RESULTS.md)."""
    result = run(videos / "workers_no_hardhat_slideshow_01.mp4", {"no_helmet": {}}, tmp_path)
    on_bare_slides = [e for e in result.events if int(e.start_pts // 2) % 2 == 0]
    assert on_bare_slides, "no no_helmet event on any slide of bare-headed workers"
    assert all(e.label == "head_bare" for e in result.events)
    check_evidence(on_bare_slides[0], detect_site(), result.video.duration)


def test_no_helmet_stays_quiet_on_a_worker_in_a_hard_hat(videos: Path, tmp_path: Path):
    result = run(videos / "workers_helmets_02.mp4", {"no_helmet": {}}, tmp_path)
    assert result.frames_analysed >= 12
    assert result.events == []


def test_detector_gives_canonical_labels_over_the_card_thresholds():
    import cv2
    from ultralytics.utils import ASSETS

    from vigil.detector.cards import load_cards
    from vigil.pipeline import load_detectors

    helmet, fall = load_detectors([load_cards()["helmet"], load_cards()["fall"]])
    bus = cv2.imread(str(ASSETS / "bus.jpg"))
    heads = helmet(bus)
    assert list(heads.data["label"]) == ["head_bare", "head_bare"]
    assert heads.confidence.tolist() == pytest.approx([0.788, 0.756], abs=0.01)
    assert set(heads.data["model"]) == {"helmet"}
    people = fall(bus)
    assert len(people) == 4 and set(people.data["label"]) == {"person"}
    assert min(people.confidence) >= fall.card.threshold("person")
