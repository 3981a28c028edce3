"""The hazard loop's site settings and the alert filter's ``assignees``: what is accepted,
what is refused with one line, and which changes an assignee's channel gets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from vigil.config import SiteConfig
from vigil.events.alerts.config import AlertFilter
from vigil.events.alerts.routing import Change, subscribes
from vigil.events.loop.config import Assignee, DispatchRule, first_rule, parse_duration

CAMERA = {"id": "gate-3", "source": "rtsp://10.0.0.7/s1", "rules": {"fall": {}}}


def site(**extra: object) -> SiteConfig:
    return SiteConfig.model_validate({"cameras": [CAMERA], **extra})


def test_durations() -> None:
    assert [parse_duration(v) for v in ("90", "90s", "15m", "24h", "7d", "2w", 3)] == [
        90,
        90,
        900,
        86400,
        604800,
        1209600,
        3,
    ]
    for bad in ("soon", "-1h", "1y", ""):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


def test_dispatch_rules_in_the_site_file() -> None:
    s = site(
        dispatch=[
            {"match": {"zones": ["dock"]}, "assign": {"group": "dock"}, "due": {"high": "24h"}},
            {"assign": {"user": "ann"}, "due": {"low": "7d"}},
        ]
    )
    assert first_rule(s.dispatch, "gate-3", "dock", "fall", "high").assign.target == "group:dock"
    chosen = first_rule(s.dispatch, "gate-3", None, "fall", "low")
    assert chosen.assign.target == "user:ann" and chosen.due_seconds("low") == 7 * 86400
    assert chosen.due_seconds("high") is None  # no due time for that severity


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"dispatch": [{"assign": {}}]}, "exactly one of user, group or channel"),
        ({"dispatch": [{"assign": {"user": "a", "group": "b"}}]}, "exactly one"),
        ({"dispatch": [{"assign": {"channel": "x"}}]}, "not a channel"),
        ({"dispatch": [{"assign": {"user": "a"}, "due": {"urgent": "1h"}}]}, "unknown severity"),
        ({"dispatch": [{"assign": {"user": "a"}, "due": {"high": "soon"}}]}, "not a duration"),
        ({"dispatch": [{"assign": {"user": "a"}, "when": {}}]}, "Extra inputs"),
        (
            {
                "escalation": {
                    "high": [
                        {"after": "2h", "notify": {"user": "a"}},
                        {"after": "1h", "notify": {"user": "b"}},
                    ]
                }
            },
            "in order",
        ),
        ({"escalation": {"urgent": []}}, "unknown severity"),
    ],
)
def test_bad_loop_settings_are_refused_naming_the_problem(extra: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        site(**extra)


def test_an_assignees_filter_gets_only_changes_addressed_to_them() -> None:
    f = AlertFilter(assignees=["ann", "group:dock"])
    assert f.assignees == ["user:ann", "group:dock"]

    def change(*notify: str) -> Change:
        return Change(1, "status", "e", "gate-3", "fall", None, "high", "track:1", 0.0, notify)

    assert subscribes(f, ["status"], change("user:ann"))
    assert subscribes(f, ["status"], change("group:dock"))
    assert not subscribes(f, ["status"], change("user:bob"))
    assert not subscribes(f, ["status"], change())  # a move addressed to nobody
    assert subscribes(AlertFilter(), ["status"], change("user:bob"))  # no filter: everything
    assert Assignee(user="ann").target == "user:ann"
    assert DispatchRule.model_validate({"assign": {"group": "g"}}).due == {}
