"""Rules: per-frame Detections of one camera in, per-subject observations out.

>>> rules = build_rules(RulesConfig.defaults())
>>> [r.name for r in rules]
['no_helmet', 'fall', 'smoke', 'fire']
>>> sorted(set().union(*(r.needs for r in rules)))
['fire', 'head_bare', 'head_helmet', 'person_fallen', 'smoke']
"""

from __future__ import annotations

from collections.abc import Callable

from vigil.events.rules.base import Rule
from vigil.events.rules.fall import FallRule
from vigil.events.rules.fire import FireRule
from vigil.events.rules.no_harness import NoHarnessRule
from vigil.events.rules.no_helmet import NoHelmetRule
from vigil.events.rules.params import (
    FallParams,
    FireParams,
    NoHarnessParams,
    NoHelmetParams,
    RestrictedZoneParams,
    RuleParams,
    RulesConfig,
    SmokeParams,
    Zone,
)
from vigil.events.rules.restricted_zone import RestrictedZoneRule
from vigil.events.rules.smoke import SmokeRule

__all__ = [
    "RULES",
    "FallParams",
    "FallRule",
    "FireParams",
    "FireRule",
    "NoHarnessParams",
    "NoHarnessRule",
    "NoHelmetParams",
    "NoHelmetRule",
    "RestrictedZoneParams",
    "RestrictedZoneRule",
    "Rule",
    "RuleParams",
    "RulesConfig",
    "SmokeParams",
    "SmokeRule",
    "Zone",
    "build_rules",
]

# Rule name (a RulesConfig field) -> the class that implements it.
RULES: dict[str, Callable[..., Rule]] = {
    "no_helmet": NoHelmetRule,
    "no_harness": NoHarnessRule,
    "restricted_zone": RestrictedZoneRule,
    "fall": FallRule,
    "smoke": SmokeRule,
    "fire": FireRule,
}


def build_rules(config: RulesConfig) -> list[Rule]:
    """One rule object per enabled rule in ``config``, in config field order."""
    return [RULES[name](params) for name, params in config.enabled().items()]
