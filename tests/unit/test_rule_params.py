import pytest
from pydantic import ValidationError

from vigil.events.rules.params import (
    FallParams,
    FireParams,
    NoHarnessParams,
    NoHelmetParams,
    RestrictedZoneParams,
    RulesConfig,
    SmokeParams,
    parse_window,
)

PIT = {"name": "pit", "polygon": [(0, 0), (100, 0), (100, 100)]}


def first_error(raw: dict) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as info:
        RulesConfig.model_validate(raw)
    err = info.value.errors()[0]
    return err["loc"], err["msg"]


def test_unknown_rule_is_named():
    loc, msg = first_error({"helmet": {}})
    assert loc == ("helmet",)
    assert "Extra inputs are not permitted" in msg


def test_unknown_parameter_is_named():
    loc, _ = first_error({"no_helmet": {"min_duraton": 2}})
    assert loc == ("no_helmet", "min_duraton")


def test_zone_with_two_points_names_the_zone():
    loc, msg = first_error(
        {"restricted_zone": {"zones": [{"name": "tank-farm", "polygon": [(0, 0), (5, 5)]}]}}
    )
    assert loc == ("restricted_zone", "zones", 0)
    assert "zone 'tank-farm': polygon needs at least 3 points, got 2" in msg


def test_k_greater_than_n():
    loc, msg = first_error({"no_helmet": {"k_of_n": [4, 3]}})
    assert loc == ("no_helmet", "k_of_n")
    assert "k (4) must not exceed n (3)" in msg


def test_k_must_be_positive():
    loc, msg = first_error({"fall": {"k_of_n": [0, 3]}})
    assert loc == ("fall", "k_of_n")
    assert "k must be at least 1" in msg


@pytest.mark.parametrize("rule", ["restricted_zone", "no_harness"])
def test_zone_rules_require_zones(rule):
    loc, msg = first_error({rule: {}})
    assert loc == (rule, "zones")
    assert msg == "Field required"
    loc, _ = first_error({rule: {"zones": []}})
    assert loc == (rule, "zones")


def test_duplicate_zone_names():
    loc, msg = first_error({"restricted_zone": {"zones": [PIT, PIT]}})
    assert loc == ("restricted_zone", "zones")
    assert "zone 'pit' is defined twice" in msg


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("end_after", 0),
        ("min_duration", -1),
        ("cooldown", -1),
        ("confidence", 1.5),
        ("severity", "urgent"),
    ],
)
def test_common_bounds(field, value):
    loc, _ = first_error({"smoke": {field: value}})
    assert loc == ("smoke", field)


@pytest.mark.parametrize(
    ("window", "why"),
    [
        ("25:00-06:00", "expected 'HH:MM-HH:MM'"),
        ("22-06", "expected 'HH:MM-HH:MM'"),
        ("22:00-06:60", "expected 'HH:MM-HH:MM'"),
        ("08:00-08:00", "start and end are the same time"),
        ("00:00-24:00x", "expected 'HH:MM-HH:MM'"),
    ],
)
def test_bad_schedule_window(window, why):
    loc, msg = first_error({"restricted_zone": {"zones": [PIT], "schedule": [window]}})
    assert loc == ("restricted_zone", "schedule")
    assert why in msg
    assert window in msg


def test_schedule_windows_parse():
    assert parse_window("22:00-06:00") == (22 * 60, 6 * 60)
    assert parse_window(" 7:30 - 24:00 ") == (7 * 60 + 30, 24 * 60)


def test_defaults_are_the_zoneless_rules():
    cfg = RulesConfig.defaults()
    assert list(cfg.enabled()) == ["fall", "fire", "no_helmet", "smoke"]
    assert isinstance(cfg.enabled()["no_helmet"], NoHelmetParams)


def test_enabled_skips_missing_and_disabled():
    cfg = RulesConfig.model_validate({"fire": {"enabled": False}, "smoke": {}})
    assert list(cfg.enabled()) == ["smoke"]
    assert RulesConfig().enabled() == {}


def test_param_defaults():
    helmet = NoHelmetParams()
    assert (helmet.k_of_n, helmet.min_duration, helmet.end_after, helmet.cooldown) == (
        (3, 5),
        1.0,
        3.0,
        60.0,
    )
    assert (helmet.severity, helmet.min_head_px, helmet.zones, helmet.confidence) == (
        "high",
        12,
        None,
        None,
    )
    assert FallParams().severity == "critical" and FallParams().still_after is None
    assert (SmokeParams().min_duration, SmokeParams().severity) == (2.0, "high")
    assert (FireParams().min_duration, FireParams().severity) == (1.0, "critical")
    assert SmokeParams().min_area == FireParams().min_area == 0.0005
    assert NoHarnessParams(zones=[PIT]).severity == "high"


def test_dwell_is_the_confirmation_duration():
    assert RestrictedZoneParams(zones=[PIT], dwell=5).confirmation_duration == 5
    assert RestrictedZoneParams(zones=[PIT], dwell=1, min_duration=3).confirmation_duration == 3
    assert NoHelmetParams(min_duration=2).confirmation_duration == 2


def test_config_round_trips():
    cfg = RulesConfig.model_validate(
        {"restricted_zone": {"zones": [PIT], "schedule": ["22:00-06:00"]}, "fall": {}}
    )
    again = RulesConfig.model_validate(cfg.model_dump())
    assert again == cfg
    assert again.restricted_zone.zones[0].polygon == [(0, 0), (100, 0), (100, 100)]


def test_whole_day_window_is_allowed():
    assert parse_window("00:00-24:00") == (0, 24 * 60)


def test_each_rules_params_live_beside_its_logic():
    from vigil.events.rules import RULES

    for rule in RULES.values():
        assert rule.Params.__module__ == rule.__module__, rule.name
