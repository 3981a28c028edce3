import numpy as np
import pytest

from vigil.events.lifecycle import ViolationTracker
from vigil.events.rules.params import NoHelmetParams, RuleParams
from vigil.events.violation import Observation, Phase

BOX = (10.0, 20.0, 30.0, 60.0)
WALL0 = 1_700_000_000.0


def obs(subject: str = "track:1", confidence: float = 0.8, bbox=BOX) -> Observation:
    track_id = int(subject.split(":")[1]) if subject.startswith("track:") else None
    return Observation(subject, "head_bare", confidence, bbox, track_id=track_id, zone="z")


def image(value: int) -> np.ndarray:
    return np.full((4, 6, 3), value, dtype=np.uint8)


def tracker(clock="pts", **params) -> ViolationTracker:
    base = {"k_of_n": (1, 1), "min_duration": 0.0, "end_after": 3.0, "cooldown": 0.0}
    return ViolationTracker("cam1", "no_helmet", NoHelmetParams(**{**base, **params}), clock=clock)


def feed(t: ViolationTracker, frames) -> list[tuple[float, list[str]]]:
    """frames: (pts, observations); returns (pts, phases) for frames with events."""
    out = []
    for pts, observations in frames:
        events = t.update(pts, WALL0 + pts, image(int(pts * 10) % 256), observations)
        if events:
            out.append((pts, [e.phase.value for e in events]))
    return out


def every(step: float, start: float, stop: float) -> list[float]:
    return [round(start + i * step, 6) for i in range(int(round((stop - start) / step)) + 1)]


# --- confirmation -----------------------------------------------------------------------------


def test_k_of_n_needs_k_hits_in_the_last_n_frames():
    t = tracker(k_of_n=(3, 5), end_after=100)
    pattern = [1, 0, 1, 0, 1]  # third hit on the fifth frame
    got = feed(t, [(i * 0.2, [obs()] if hit else []) for i, hit in enumerate(pattern)])
    assert got == [(0.8, ["opened"])]


def test_k_of_n_sparse_hits_never_confirm():
    t = tracker(k_of_n=(3, 5), end_after=100)
    pattern = [1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1]  # never 3 in any 5
    assert feed(t, [(i * 0.2, [obs()] if hit else []) for i, hit in enumerate(pattern)]) == []


def test_min_duration_from_the_first_observation():
    t = tracker(min_duration=1.0)
    got = feed(t, [(p, [obs()]) for p in every(0.25, 0.0, 1.5)])
    assert got[0] == (1.0, ["opened"])


def test_k_of_n_and_min_duration_must_both_hold():
    # Long enough but too sparse: 1 frame in 5, over several seconds.
    t = tracker(k_of_n=(2, 5), min_duration=1.0, end_after=100)
    frames = [(p, [obs()] if i % 5 == 0 else []) for i, p in enumerate(every(0.2, 0, 4))]
    assert feed(t, frames) == []
    # Dense but too short: 3 of 3 frames within 0.4 s.
    t = tracker(k_of_n=(3, 3), min_duration=1.0)
    assert feed(t, [(p, [obs()]) for p in (0.0, 0.2, 0.4)]) == []
    # Both: opens on the frame where the later of the two is met.
    t = tracker(k_of_n=(3, 3), min_duration=0.3)
    assert feed(t, [(p, [obs()]) for p in (0.0, 0.2, 0.4)]) == [(0.4, ["opened"])]


def test_start_pts_and_timeline_cover_the_pending_run():
    t = tracker(k_of_n=(2, 4), min_duration=1.0)
    frames = [(0.0, [obs(confidence=0.5)]), (0.5, []), (1.0, [obs(confidence=0.6)])]
    events = [e for pts, o in frames for e in t.update(pts, WALL0 + pts, image(1), o)]
    [opened] = events
    v = opened.violation
    assert opened.phase is Phase.OPENED
    assert (v.start_pts, v.start_wall) == (0.0, WALL0)
    assert (v.end_pts, v.end_wall) == (1.0, WALL0 + 1.0)
    assert [(p.pts, p.confidence) for p in v.timeline] == [(0.0, 0.5), (1.0, 0.6)]
    assert (v.camera, v.rule, v.subject, v.label) == ("cam1", "no_helmet", "track:1", "head_bare")
    assert (v.severity, v.track_id, v.zone, v.ended) == ("high", 1, "z", False)


def test_pending_subject_is_forgotten_after_end_after():
    t = tracker(k_of_n=(2, 10), end_after=3.0)
    t.update(0.0, WALL0, image(0), [obs()])
    for pts in (1.0, 2.0, 3.0):
        t.update(pts, WALL0 + pts, image(0), [])
    [opened] = [e for p in (4.0, 4.5) for e in t.update(p, WALL0 + p, image(0), [obs()])]
    assert opened.violation.start_pts == 4.0
    assert [p.pts for p in opened.violation.timeline] == [4.0, 4.5]


def test_pending_run_survives_gaps_shorter_than_end_after():
    t = tracker(k_of_n=(2, 10), end_after=3.0)
    [opened] = [
        e
        for p, o in [(0.0, [obs()]), (2.0, []), (2.9, [obs()])]
        for e in t.update(p, WALL0 + p, image(0), o)
    ]
    assert opened.violation.start_pts == 0.0


# --- updates, peak ---------------------------------------------------------------------------


def test_one_update_per_observed_frame_and_none_when_missed():
    t = tracker()
    got = feed(t, [(0.0, [obs()]), (0.2, [obs(), obs(confidence=0.9)]), (0.4, []), (0.6, [obs()])])
    assert got == [(0.0, ["opened"]), (0.2, ["updated"]), (0.6, ["updated"])]
    [v] = t.open_violations
    assert [p.pts for p in v.timeline] == [0.0, 0.2, 0.6]
    assert v.peak_confidence == 0.9  # duplicates in a frame merge into the most confident


def test_peak_tracking_copies_the_image_only_when_it_improves():
    t = tracker()
    frames = [(0.0, 0.5, 10), (0.2, 0.9, 20), (0.4, 0.7, 30), (0.6, 0.8, 40)]
    images = []
    for pts, conf, value in frames:
        img = image(value)
        images.append(img)
        t.update(pts, WALL0 + pts, img, [obs(confidence=conf, bbox=(pts, 0.0, 1.0, 1.0))])
    [v] = t.open_violations
    assert (v.peak_confidence, v.peak_pts) == (0.9, 0.2)
    assert int(v.peak_image[0, 0, 0]) == 20
    assert v.peak_image is not images[1]
    images[1][:] = 99  # the pipeline reusing its buffer must not touch the evidence
    assert int(v.peak_image[0, 0, 0]) == 20
    assert v.bbox == (0.6, 0.0, 1.0, 1.0)  # latest box
    assert (v.end_pts, v.end_wall) == (0.6, WALL0 + 0.6)


def test_peak_starts_at_the_opening_frame():
    t = tracker(k_of_n=(2, 2))
    t.update(0.0, WALL0, image(1), [obs(confidence=0.9)])
    [opened] = t.update(0.2, WALL0 + 0.2, image(2), [obs(confidence=0.6)])
    v = opened.violation
    assert (v.peak_confidence, v.peak_pts, int(v.peak_image[0, 0, 0])) == (0.6, 0.2, 2)


def test_no_image_is_fine():
    t = tracker()
    [opened] = t.update(0.0, WALL0, None, [obs()])
    assert opened.violation.peak_image is None


# --- ending, cooldown, finish -----------------------------------------------------------------


def test_ends_end_after_seconds_after_the_last_observation():
    t = tracker(end_after=1.0)
    got = feed(t, [(0.0, [obs()]), (0.5, [obs()])] + [(p, []) for p in every(0.25, 0.75, 2.0)])
    assert got == [(0.0, ["opened"]), (0.5, ["updated"]), (1.5, ["ended"])]
    assert t.open_violations == []


def test_ended_violation_keeps_last_observation_times():
    t = tracker(end_after=1.0)
    events = []
    for pts, o in [(0.0, [obs()]), (0.5, [obs()]), (1.0, []), (1.5, [])]:
        events += t.update(pts, WALL0 + pts, image(0), o)
    ended = events[-1]
    assert ended.phase is Phase.ENDED
    assert ended.violation is events[0].violation
    assert (ended.violation.end_pts, ended.violation.end_wall, ended.violation.ended) == (
        0.5,
        WALL0 + 0.5,
        True,
    )


def test_cooldown_blocks_the_same_subject_only():
    t = tracker(end_after=1.0, cooldown=10.0)
    feed(t, [(0.0, [obs()]), (1.0, [])])  # opened, then ended at 1.0: cooled down until 11.0
    events = []
    for p in every(0.5, 2.0, 10.5):
        events += t.update(p, WALL0 + p, image(0), [obs("track:1"), obs("track:2")])
    assert [(e.phase, e.violation.subject) for e in events[:2]] == [
        (Phase.OPENED, "track:2"),
        (Phase.UPDATED, "track:2"),
    ]
    assert {e.violation.subject for e in events} == {"track:2"}
    assert [v.subject for v in t.open_violations] == ["track:2"]
    [reopened] = t.update(11.0, WALL0 + 11, image(0), [obs("track:1")])[:1]
    assert (reopened.phase, reopened.violation.subject) == (Phase.OPENED, "track:1")
    assert reopened.violation.start_pts == 11.0  # nothing from the cooldown is carried over


def test_frames_further_apart_than_end_after_end_then_restart():
    t = tracker(end_after=1.0, cooldown=0.0)
    feed(t, [(0.0, [obs()])])
    events = t.update(5.0, WALL0 + 5, image(0), [obs()])
    assert [e.phase for e in events] == [Phase.ENDED, Phase.OPENED]
    assert events[0].violation.end_pts == 0.0
    assert events[1].violation.start_pts == 5.0
    assert events[0].violation.id != events[1].violation.id


def test_finish_ends_open_violations_and_drops_pending_ones():
    t = tracker(k_of_n=(1, 1), min_duration=1.0)
    feed(t, [(0.0, [obs("track:1")]), (1.0, [obs("track:1"), obs("track:2")])])
    assert [v.subject for v in t.open_violations] == ["track:1"]
    events = t.finish(1.2, WALL0 + 1.2)
    assert [(e.phase, e.violation.subject, e.violation.end_pts) for e in events] == [
        (Phase.ENDED, "track:1", 1.0)
    ]
    assert t.finish(1.3, WALL0 + 1.3) == []
    # track:2's pending run was dropped: it starts over.
    assert t.update(2.0, WALL0 + 2, image(0), [obs("track:2")]) == []


def test_wall_clock_survives_a_pts_reset():
    t = tracker(clock="wall", min_duration=1.0)
    assert t.update(100.0, WALL0, image(0), [obs()]) == []
    # A live source reconnected: pts restarts, wall time goes on.
    [opened] = t.update(0.0, WALL0 + 1.0, image(0), [obs()])
    assert opened.violation.start_pts == 100.0


def test_subjects_are_independent():
    t = tracker(k_of_n=(2, 2))
    got = feed(
        t,
        [(0.0, [obs("track:1")]), (0.2, [obs("track:1"), obs("track:2")]), (0.4, [obs("track:2")])],
    )
    assert got == [(0.2, ["opened"]), (0.4, ["opened"])]


def test_severity_comes_from_params():
    t = ViolationTracker("c", "smoke", RuleParams(k_of_n=(1, 1), min_duration=0, severity="low"))
    [opened] = t.update(0.0, WALL0, image(0), [obs("frame")])
    assert (opened.violation.severity, opened.violation.track_id) == ("low", None)


@pytest.mark.parametrize("k_of_n", [(1, 1), (3, 5), (5, 5)])
def test_continuous_observation_opens_once_and_updates_every_frame(k_of_n):
    t = tracker(k_of_n=k_of_n, min_duration=0.5)
    got = feed(t, [(p, [obs()]) for p in every(0.1, 0.0, 3.0)])
    phases = [ph for _, phs in got for ph in phs]
    assert phases.count("opened") == 1
    assert "ended" not in phases
    opened_at = got[0][0]
    assert opened_at == pytest.approx(max(0.5, (k_of_n[0] - 1) * 0.1))
    assert len(phases) == 1 + round((3.0 - opened_at) / 0.1)
