"""Rules: per-frame Detections of one camera in, per-subject observations out.

One rule, one file: ``fall.py`` holds ``FallParams`` and ``FallRule``. A :class:`Rule` subclass
with a ``name`` registers itself in :data:`RULES` and becomes a field of :class:`RulesConfig`.

>>> rules = build_rules(RulesConfig.defaults())
>>> [r.name for r in rules]
['fall', 'fire', 'no_helmet', 'smoke']
>>> sorted(set().union(*(r.needs for r in rules)))
['fire', 'head_bare', 'head_helmet', 'person', 'person_fallen', 'smoke']
"""

from __future__ import annotations

from vigil.events.rules.base import RULES, Rule, RuleParams, Severity
from vigil.events.rules.fall import FallRule
from vigil.events.rules.fire import FireRule
from vigil.events.rules.no_harness import NoHarnessRule
from vigil.events.rules.no_helmet import NoHelmetRule
from vigil.events.rules.params import (
    FallParams,
    FireParams,
    NoHarnessParams,
    NoHelmetParams,
    RegionParams,
    RestrictedZoneParams,
    RulesConfig,
    SmokeParams,
    Zone,
)
from vigil.events.rules.region import RegionRule
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
    "RegionParams",
    "RegionRule",
    "RestrictedZoneParams",
    "RestrictedZoneRule",
    "Rule",
    "RuleParams",
    "RulesConfig",
    "Severity",
    "SmokeParams",
    "SmokeRule",
    "Zone",
    "build_rules",
]


def build_rules(config: RulesConfig) -> list[Rule]:
    """One rule object per enabled rule in ``config``, in config field (name) order."""
    return [RULES[name](params) for name, params in config.enabled().items()]
