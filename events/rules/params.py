"""The rules of one camera, as configured: :class:`RulesConfig` has one optional field per
registered rule (:data:`~vigil.events.rules.base.RULES`), in name order, typed by the rule's
``Params``. Each rule's parameters live beside its logic (``fall.py``: ``FallParams``); they are
importable from here too.

>>> cfg = RulesConfig.model_validate({"no_helmet": {"min_duration": 2}, "fall": {}})
>>> sorted(cfg.enabled())
['fall', 'no_helmet']
>>> cfg.no_helmet.k_of_n, cfg.no_helmet.min_duration
((3, 5), 2.0)
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, create_model

from vigil.events.rules.base import RULES, Rule, RuleParams, Severity
from vigil.events.rules.fall import FallParams
from vigil.events.rules.fire import FireParams
from vigil.events.rules.no_harness import NoHarnessParams
from vigil.events.rules.no_helmet import NoHelmetParams
from vigil.events.rules.region import RegionParams
from vigil.events.rules.restricted_zone import RestrictedZoneParams
from vigil.events.rules.smoke import SmokeParams
from vigil.events.schedule import in_window, parse_window
from vigil.events.zones import KIND_RULES, CameraZone, Zone

__all__ = [
    "FallParams",
    "FireParams",
    "NoHarnessParams",
    "NoHelmetParams",
    "RegionParams",
    "RestrictedZoneParams",
    "RuleParams",
    "RulesConfig",
    "Severity",
    "SmokeParams",
    "Zone",
    "in_window",
    "parse_window",
]


class _Rules(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def enabled(self) -> dict[str, RuleParams]:
        """The configured, enabled rules by name, in field order."""
        out: dict[str, RuleParams] = {}
        for name in type(self).model_fields:
            params = getattr(self, name)
            if params is not None and params.enabled:
                out[name] = params
        return out

    def camera_zones(self) -> list[CameraZone]:
        """The zones of the rules that enforce a kind of zone (:data:`KIND_RULES`), each with
        its kind, once per name: a camera's zones as its site file gives them.

        >>> pit = {"name": "pit", "polygon": [(0, 0), (9, 0), (9, 9)]}
        >>> rules = RulesConfig.model_validate({"restricted_zone": {"zones": [pit]}})
        >>> [(z.name, z.kind) for z in rules.camera_zones()]
        [('pit', 'restricted')]
        """
        found: dict[str, CameraZone] = {}
        for kind, names in KIND_RULES.items():
            for name in names:
                params = getattr(self, name)
                for zone in (params.zones if params is not None else None) or ():
                    found.setdefault(
                        zone.name, CameraZone(name=zone.name, kind=kind, polygon=zone.polygon)
                    )
        return list(found.values())

    def with_camera_zones(self, zones: Iterable[CameraZone]) -> Self:
        """These rules with each kind's rules given exactly the zones of that kind (zones
        saved in the console replace the site file's). A kind's first rule is turned on, with
        its defaults, where the site does not configure it and a zone of the kind is given; a
        rule that needs zones is turned off where none of its kind is left; one that works on
        the whole frame without zones (``no_helmet``) goes back to the whole frame. Rules that
        enforce no kind (``crowding``, ``loitering``, ...) keep their zones.

        >>> pit = CameraZone(name="pit", kind="restricted", polygon=[(0, 0), (9, 0), (9, 9)])
        >>> rules = RulesConfig.model_validate({"fall": {}}).with_camera_zones([pit])
        >>> sorted(rules.enabled()), rules.restricted_zone.zones[0].name
        (['fall', 'restricted_zone'], 'pit')
        >>> sorted(rules.with_camera_zones([]).enabled())
        ['fall']
        """
        zones = list(zones)
        updates: dict[str, RuleParams] = {}
        for kind, names in KIND_RULES.items():
            polygons = [zone.plain() for zone in zones if zone.kind == kind]
            for i, name in enumerate(names):
                params = getattr(self, name)
                rule_params = RULES[name].Params
                if params is None:
                    if polygons and i == 0:
                        updates[name] = rule_params(zones=polygons)
                elif polygons:
                    updates[name] = params.model_copy(update={"zones": polygons})
                elif rule_params.model_fields["zones"].is_required():
                    updates[name] = params.model_copy(update={"enabled": False})
                else:
                    updates[name] = params.model_copy(update={"zones": None})
        return self.model_copy(update=updates)

    @classmethod
    def defaults(cls) -> RulesConfig:
        """The rules that need nothing (no zones), with default parameters."""
        return cls(
            **{name: rule.Params() for name, rule in RULES.items() if rule.runs_by_default()}
        )


def _register_every_rule() -> None:
    """Import every module of the rules package: a rule in a new file registers itself."""
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        importlib.import_module(f"{__package__}.{module.name}")


def _field(rule: type[Rule]) -> tuple[Any, Any]:
    summary = (rule.Params.__doc__ or "").strip().split("\n\n")[0]
    return rule.Params | None, Field(None, description=" ".join(summary.split()))


_register_every_rule()
RulesConfig = create_model(  # one field per registered rule, by name
    "RulesConfig",
    __base__=_Rules,
    __module__=__name__,
    **{name: _field(RULES[name]) for name in sorted(RULES)},
)
RulesConfig.__doc__ = """The rules of one camera: one optional entry per rule; a missing one is off.

>>> from pydantic import ValidationError
>>> try:
...     RulesConfig.model_validate({"helmet": {}})
... except ValidationError as exc:
...     print(exc.errors()[0]["loc"], exc.errors()[0]["msg"])
('helmet',) Extra inputs are not permitted
>>> list(RulesConfig.defaults().enabled())
['fall', 'fire', 'no_helmet', 'smoke']
"""
