from datetime import datetime

import numpy as np
import pytest
import supervision as sv
from pydantic import BaseModel

from vigil.events.rules import (
    RULES,
    FallParams,
    FallRule,
    FireParams,
    FireRule,
    NoHarnessParams,
    NoHarnessRule,
    NoHelmetParams,
    NoHelmetRule,
    RestrictedZoneParams,
    RestrictedZoneRule,
    Rule,
    RulesConfig,
    SmokeParams,
    SmokeRule,
    build_rules,
)
from vigil.streams.frame import Frame

SHAPE = (480, 640)  # (height, width)
WHOLE = {"name": "all", "polygon": [(0, 0), (640, 0), (640, 480), (0, 480)]}
# The lower half of the frame: where feet stand on the restricted floor.
FLOOR = {"name": "floor", "polygon": [(0, 240), (640, 240), (640, 480), (0, 480)]}


def dets(*rows, tracked: bool = True) -> sv.Detections:
    """rows: (label, (x1, y1, x2, y2), confidence[, tracker_id])."""
    if not rows:
        return sv.Detections.empty()
    return sv.Detections(
        xyxy=np.array([r[1] for r in rows], dtype=float),
        confidence=np.array([r[2] for r in rows], dtype=float),
        tracker_id=np.array([r[3] for r in rows]) if tracked else None,
        data={"label": np.array([r[0] for r in rows]), "model": np.array(["m"] * len(rows))},
    )


def at(wall: float) -> Frame:
    """A black frame of SHAPE at this wall time (these rules read no pixels)."""
    return Frame.blank(SHAPE, wall=wall)


def local(hour: int, minute: int) -> float:
    return datetime(2024, 3, 5, hour, minute).timestamp()


def subjects(observations) -> list[str]:
    return [o.subject for o in observations]


# --- no_helmet -------------------------------------------------------------------------------


def test_no_helmet_observes_bare_tracked_heads_only():
    rule = NoHelmetRule()
    d = dets(
        ("head_bare", (10, 10, 40, 50), 0.8, 1),
        ("head_helmet", (100, 10, 130, 50), 0.9, 2),
        ("person", (300, 10, 360, 200), 0.9, 3),
    )
    [obs] = rule.observe(d, at(0))
    assert (obs.subject, obs.label, obs.track_id, obs.zone) == ("track:1", "head_bare", 1, None)
    assert obs.confidence == pytest.approx(0.8)
    assert obs.bbox == (10.0, 10.0, 40.0, 50.0)
    assert type(obs.bbox[0]) is float and type(obs.track_id) is int


def test_no_helmet_skips_untracked_heads():
    d = dets(("head_bare", (10, 10, 40, 50), 0.8, 1), tracked=False)
    assert NoHelmetRule().observe(d, at(0)) == []
    d = dets(("head_bare", (10, 10, 40, 50), 0.8, -1))
    assert NoHelmetRule().observe(d, at(0)) == []


def test_no_helmet_min_head_px():
    d = dets(("head_bare", (10, 10, 40, 21), 0.8, 1), ("head_bare", (50, 10, 60, 22), 0.8, 2))
    assert subjects(NoHelmetRule().observe(d, at(0))) == ["track:2"]  # 11 px < 12 <= 12 px
    assert subjects(NoHelmetRule(NoHelmetParams(min_head_px=0)).observe(d, at(0))) == [
        "track:1",
        "track:2",
    ]


def test_no_helmet_confidence_override():
    d = dets(("head_bare", (10, 10, 40, 50), 0.5, 1), ("head_bare", (50, 10, 80, 50), 0.7, 2))
    assert subjects(NoHelmetRule().observe(d, at(0))) == ["track:1", "track:2"]
    strict = NoHelmetRule(NoHelmetParams(confidence=0.6))
    assert subjects(strict.observe(d, at(0))) == ["track:2"]


def test_no_helmet_zones_use_the_head_bottom_centre():
    rule = NoHelmetRule(NoHelmetParams(zones=[FLOOR]))
    d = dets(
        ("head_bare", (10, 220, 40, 250), 0.8, 1),  # chin at y=250: in the zone
        ("head_bare", (10, 200, 40, 235), 0.8, 2),  # centre above, chin above: out
    )
    [obs] = rule.observe(d, at(0))
    assert (obs.subject, obs.zone) == ("track:1", "floor")


# --- restricted_zone -------------------------------------------------------------------------


def restricted(**kw) -> RestrictedZoneRule:
    return RestrictedZoneRule(RestrictedZoneParams(zones=[FLOOR], **kw))


def test_restricted_zone_anchor_is_bottom_centre():
    d = dets(
        ("person", (100, 50, 140, 260), 0.9, 1),  # centre y=155 above the floor, feet on it
        ("person", (200, 250, 240, 470), 0.9, 2),  # wholly inside
        ("person", (300, 20, 340, 230), 0.9, 3),  # feet above the floor line
    )
    obs = restricted().observe(d, at(0))
    assert [(o.subject, o.zone) for o in obs] == [("track:1", "floor"), ("track:2", "floor")]


def test_restricted_zone_box_centre_inside_feet_outside_is_not_in():
    # Centre (120, 300) is in the floor band; feet (120, 600) are below it (box runs past).
    zone = {"name": "band", "polygon": [(0, 240), (640, 240), (640, 400), (0, 400)]}
    rule = RestrictedZoneRule(RestrictedZoneParams(zones=[zone]))
    assert rule.observe(dets(("person", (100, 0, 140, 600), 0.9, 1)), at(0)) == []


def test_restricted_zone_counts_fallen_people_and_skips_untracked():
    d = dets(("person_fallen", (100, 400, 250, 450), 0.7, 8))
    [obs] = restricted().observe(d, at(0))
    assert (obs.subject, obs.label) == ("track:8", "person_fallen")
    d = dets(("person", (100, 250, 140, 470), 0.9, 1), tracked=False)
    assert restricted().observe(d, at(0)) == []


def test_restricted_zone_needs():
    assert restricted().needs == frozenset({"person"})


@pytest.mark.parametrize(
    ("hour", "minute", "active"),
    [(8, 0, True), (12, 30, True), (16, 59, True), (17, 0, False), (7, 59, False), (0, 0, False)],
)
def test_schedule_day_window(hour, minute, active):
    rule = restricted(schedule=["08:00-17:00"])
    d = dets(("person", (100, 250, 140, 470), 0.9, 1))
    assert bool(rule.observe(d, at(local(hour, minute)))) is active


@pytest.mark.parametrize(
    ("hour", "minute", "active"),
    [(22, 0, True), (23, 59, True), (0, 0, True), (5, 59, True), (6, 0, False), (12, 0, False)],
)
def test_schedule_window_crossing_midnight(hour, minute, active):
    rule = restricted(schedule=["22:00-06:00"])
    assert rule.params.active_at(local(hour, minute)) is active


def test_schedule_several_windows():
    params = RestrictedZoneParams(zones=[FLOOR], schedule=["06:00-07:00", "18:00-19:00"])
    assert [params.active_at(local(h, 30)) for h in (5, 6, 12, 18, 19)] == [
        False,
        True,
        False,
        True,
        False,
    ]
    assert RestrictedZoneParams(zones=[FLOOR]).active_at(local(3, 0))  # no schedule: always


# --- fall --------------------------------------------------------------------------------------

POSE = FallParams(mode="pose")  # every person_fallen box (motion: tests/unit/test_fall_motion.py)


def test_fall_observes_tracked_fallen_people():
    d = dets(("person", (10, 10, 50, 200), 0.9, 1), ("person_fallen", (100, 300, 260, 360), 0.6, 2))
    [obs] = FallRule(POSE).observe(d, at(0))
    assert (obs.subject, obs.label, obs.track_id) == ("track:2", "person_fallen", 2)
    assert FallRule(POSE).needs == frozenset({"person_fallen"})
    untracked = dets(("person_fallen", (0, 0, 9, 9), 0.6, 2), tracked=False)
    assert FallRule(POSE).observe(untracked, at(0)) == []


def test_fall_still_after_waits_for_stillness():
    rule = FallRule(FallParams(mode="pose", still_after=2.0))
    box = (100, 300, 260, 360)
    d = dets(("person_fallen", box, 0.6, 2))
    seen = [bool(rule.observe(d, at(t))) for t in (0, 1, 1.9, 2, 3)]
    assert seen == [False, False, False, True, True]


def test_fall_still_after_rejects_a_moving_box_until_it_settles():
    rule = FallRule(FallParams(mode="pose", still_after=1.0))

    def seen(t, x):
        return bool(rule.observe(dets(("person_fallen", (x, 300, x + 160, 360), 0.6, 2)), at(t)))

    # Crawling 40 px per half second (diagonal ~171 px, tolerance ~26 px).
    assert [seen(t / 2, 40 * t) for t in range(5)] == [False] * 5
    # Then lies still at x=160: still from t=2.0, so observed from t=3.0.
    assert [seen(t, 160) for t in (2.5, 3.0, 3.5)] == [False, True, True]


def test_fall_still_history_resets_after_a_long_gap():
    rule = FallRule(FallParams(mode="pose", still_after=1.0, end_after=3.0))
    d = dets(("person_fallen", (100, 300, 260, 360), 0.6, 2))
    assert rule.observe(d, at(0)) == []
    assert rule.observe(d, at(1.0)) != []
    assert rule.observe(d, at(10.0)) == []  # out of sight for 9 s: a new fall


def test_fall_min_aspect_keeps_only_boxes_lying_across_the_view():
    lying = ("person_fallen", (100, 300, 260, 360), 0.6, 2)  # 160 x 60: w/h 2.7
    seated = ("person_fallen", (300, 200, 360, 320), 0.6, 3)  # 60 x 120: w/h 0.5
    rule = FallRule(FallParams(mode="pose", min_aspect=1.0))
    assert [o.track_id for o in rule.observe(dets(lying, seated), at(0))] == [2]
    assert len(FallRule(POSE).observe(dets(lying, seated), at(0))) == 2  # off by default


# --- smoke and fire ---------------------------------------------------------------------------


def test_smoke_min_area_is_a_fraction_of_the_frame():
    area = SHAPE[0] * SHAPE[1]
    small = ("smoke", (0, 0, 10, 10), 0.9)  # 100 px^2
    big = ("smoke", (100, 100, 120, 120), 0.5)  # 400 px^2
    rule = SmokeRule(SmokeParams(min_area=300 / area))
    [obs] = rule.observe(dets(small, big, tracked=False), at(0))
    assert (obs.subject, obs.zone, obs.track_id) == ("frame", None, None)
    assert obs.bbox == (100.0, 100.0, 120.0, 120.0)


def test_fire_best_box_per_zone():
    left = {"name": "left", "polygon": [(0, 0), (320, 0), (320, 480), (0, 480)]}
    right = {"name": "right", "polygon": [(320, 0), (640, 0), (640, 480), (320, 480)]}
    rule = FireRule(FireParams(zones=[left, right], min_area=0))
    d = dets(
        ("fire", (10, 10, 60, 60), 0.5),
        ("fire", (100, 10, 160, 60), 0.8),
        ("fire", (400, 10, 460, 60), 0.6),
        ("smoke", (500, 10, 560, 60), 0.9),
        tracked=False,
    )
    obs = rule.observe(d, at(0))
    assert [(o.subject, o.zone, o.confidence) for o in obs] == [
        ("zone:left", "left", pytest.approx(0.8)),
        ("zone:right", "right", pytest.approx(0.6)),
    ]


def test_fire_confidence_override_and_tracked_input():
    d = dets(("fire", (0, 0, 100, 100), 0.4, 3), ("fire", (200, 0, 300, 100), 0.3, 4))
    assert len(FireRule().observe(d, at(0))) == 1  # tracked boxes are fine, one subject
    assert FireRule(FireParams(confidence=0.5)).observe(d, at(0)) == []


# --- no_harness -------------------------------------------------------------------------------

PERSON = (100, 100, 160, 300)  # upper body (0.6): y 100..220
ON_CHEST = (110, 130, 150, 200)
ON_LEGS = (110, 240, 150, 300)


def harness_rule(**kw) -> NoHarnessRule:
    return NoHarnessRule(NoHarnessParams(zones=[WHOLE], **kw))


def test_no_harness_person_without_harness():
    [obs] = harness_rule().observe(dets(("person", PERSON, 0.9, 5)), at(0))
    assert (obs.subject, obs.label, obs.zone, obs.bbox) == ("track:5", "person", "all", PERSON)


@pytest.mark.parametrize("label", ["harness", "harness_hooked"])
def test_no_harness_harness_on_upper_body_clears(label):
    d = dets(("person", PERSON, 0.9, 5), (label, ON_CHEST, 0.6, 9))
    assert harness_rule().observe(d, at(0)) == []


def test_no_harness_harness_elsewhere_does_not_count():
    d = dets(("person", PERSON, 0.9, 5), ("harness", ON_LEGS, 0.6, 9))
    assert subjects(harness_rule().observe(d, at(0))) == ["track:5"]
    d = dets(("person", PERSON, 0.9, 5), ("harness", (400, 100, 450, 150), 0.6, 9))
    assert subjects(harness_rule().observe(d, at(0))) == ["track:5"]


def test_no_harness_unhooked_harness_is_observed():
    d = dets(("person", PERSON, 0.9, 5), ("harness_unhooked", ON_CHEST, 0.7, 9))
    [obs] = harness_rule().observe(d, at(0))
    assert (obs.label, obs.confidence, obs.bbox) == ("harness_unhooked", pytest.approx(0.7), PERSON)


def test_no_harness_most_confident_harness_decides():
    hooked_wins = dets(
        ("person", PERSON, 0.9, 5),
        ("harness_unhooked", ON_CHEST, 0.5, 9),
        ("harness_hooked", ON_CHEST, 0.8, 10),
    )
    assert harness_rule().observe(hooked_wins, at(0)) == []
    unhooked_wins = dets(
        ("person", PERSON, 0.9, 5),
        ("harness_unhooked", ON_CHEST, 0.8, 9),
        ("harness_hooked", ON_CHEST, 0.5, 10),
    )
    [obs] = harness_rule().observe(unhooked_wins, at(0))
    assert obs.label == "harness_unhooked"


def test_no_harness_only_in_work_at_height_zones():
    scaffold = {"name": "scaffold", "polygon": [(280, 0), (640, 0), (640, 480), (280, 480)]}
    rule = NoHarnessRule(NoHarnessParams(zones=[scaffold]))
    d = dets(("person", PERSON, 0.9, 5), ("person", (300, 250, 360, 450), 0.9, 6))
    assert subjects(rule.observe(d, at(0))) == ["track:6"]


def test_no_harness_confidence_override_never_adds_alarms():
    d = dets(("person", PERSON, 0.9, 5), ("harness", ON_CHEST, 0.4, 9))
    assert harness_rule(confidence=0.5).observe(d, at(0)) == []
    d = dets(("person", PERSON, 0.4, 5))
    assert harness_rule(confidence=0.5).observe(d, at(0)) == []


def test_no_harness_untracked_harness_boxes_are_fine():
    d = dets(("person", PERSON, 0.9, 5), ("harness", ON_CHEST, 0.6, -1))
    assert harness_rule().observe(d, at(0)) == []


# --- all rules --------------------------------------------------------------------------------


def all_rules():
    return build_rules(
        RulesConfig.model_validate(
            {
                "no_helmet": {},
                "no_harness": {"zones": [WHOLE]},
                "restricted_zone": {"zones": [WHOLE]},
                "fall": {},
                "smoke": {},
                "fire": {},
            }
        )
    )


def test_build_rules_and_needs():
    rules = all_rules()
    assert [r.name for r in rules] == [
        "fall",
        "fire",
        "no_harness",
        "no_helmet",
        "restricted_zone",
        "smoke",
    ]
    assert all(isinstance(r, Rule) for r in rules)
    needs = {r.name: r.needs for r in rules}
    assert needs["no_helmet"] == {"head_bare", "head_helmet"}
    assert needs["no_harness"] == {"person", "harness", "harness_hooked", "harness_unhooked"}
    assert needs["smoke"] == {"smoke"} and needs["fire"] == {"fire"}


def test_build_rules_skips_disabled():
    cfg = RulesConfig.model_validate({"fall": {"enabled": False}, "fire": {}})
    assert [r.name for r in build_rules(cfg)] == ["fire"]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.name)
def test_every_rule_accepts_empty_and_unlabelled_detections(rule):
    assert rule.observe(sv.Detections.empty(), at(0)) == []
    bare = sv.Detections(xyxy=np.array([[0.0, 0.0, 10.0, 10.0]]), tracker_id=np.array([1]))
    assert rule.observe(bare, at(0)) == []


# --- the registry ----------------------------------------------------------------------------


def test_every_rule_file_registers_its_rule_and_params_in_the_config():
    import importlib
    import pkgutil

    import vigil.events.rules as package

    for module in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"vigil.events.rules.{module.name}")
    assert set(RULES) == set(RulesConfig.model_fields)
    for name, rule in RULES.items():
        assert rule.name == name and issubclass(rule.Params, BaseModel)
        assert RulesConfig.model_fields[name].annotation == rule.Params | None
        assert RulesConfig.model_fields[name].description  # the Params' first paragraph


def test_defaults_are_the_rules_that_need_no_zone():
    off = {n for n, r in RULES.items() if not r.runs_by_default()}
    needs_zones = {"no_harness", "restricted_zone", "crowding", "loitering"}
    needs_zones |= {"absent_from_post", "inactive_on_post", "line_crossing"}
    # No shipped card gives vests or vehicles: these wait to be configured.
    assert off == needs_zones | {"no_vest", "vehicle_proximity"}
    assert set(RulesConfig.defaults().enabled()) == {"fall", "fire", "no_helmet", "smoke"}


def test_a_second_rule_with_a_taken_name_is_refused():
    with pytest.raises(TypeError, match="rule 'fall' is defined twice"):

        class OtherFall(Rule):
            name, Params = "fall", FallParams

    assert RULES["fall"] is FallRule
