"""Zones edited in the console: kinds onto rules, the pipeline's swap of a camera's rules
between two frames, and the worker's watcher over a real SQLite store (stand-in detectors)."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_pipeline import CARDS, Fixed

from vigil.events.evidence import latest_frame_path
from vigil.events.rules import build_rules
from vigil.events.rules.params import RulesConfig
from vigil.events.store import EventStore
from vigil.events.store.zones import StaleZones, ZoneStore
from vigil.events.violation import Phase
from vigil.events.zones import CameraZone
from vigil.pipeline import CameraPipeline
from vigil.streams.frame import Frame
from vigil.zone_watch import ZoneWatcher

WHOLE = [(0, 0), (200, 0), (200, 200), (0, 200)]
TOP = [(0, 0), (200, 0), (200, 50), (0, 50)]


def kind_zone(name: str, kind: str, polygon=WHOLE) -> CameraZone:
    return CameraZone(name=name, kind=kind, polygon=polygon)


SITE_RULES = RulesConfig.model_validate(
    {
        "fall": {},
        "restricted_zone": {"dwell": 1, "zones": [{"name": "pit", "polygon": TOP}]},
        "no_helmet": {"zones": [{"name": "deck", "polygon": WHOLE}]},
        "crowding": {"zones": [{"name": "bay", "polygon": WHOLE}]},
    }
)


def test_the_site_files_zones_by_kind_go_back_onto_the_same_rules() -> None:
    zones = SITE_RULES.camera_zones()
    assert [(z.name, z.kind) for z in zones] == [("pit", "restricted"), ("deck", "helmet-required")]
    again = SITE_RULES.with_camera_zones(zones)
    assert again.enabled() == SITE_RULES.enabled()


def test_saved_zones_replace_the_kinds_rules_zones_and_leave_the_others() -> None:
    rules = SITE_RULES.with_camera_zones([kind_zone("desk", "post")])
    enabled = rules.enabled()
    assert sorted(enabled) == ["absent_from_post", "crowding", "fall", "no_helmet"]
    assert [z.name for z in enabled["absent_from_post"].zones] == ["desk"]
    assert rules.inactive_on_post is None  # not implied by a post zone
    assert rules.restricted_zone.enabled is False  # it needs zones; none of its kind is left
    assert rules.restricted_zone.dwell == 1
    assert enabled["no_helmet"].zones is None  # back to the whole frame
    assert [z.name for z in enabled["crowding"].zones] == ["bay"]  # not a kind: the file's


def frame(i: int) -> Frame:
    return Frame(np.zeros((200, 200, 3), np.uint8), pts=i * 0.5, wall=1e9 + i * 0.5, camera="cam",
                 index=i)  # fmt: skip


def run(pipeline: CameraPipeline, frames: range) -> list:
    return [e for i in frames for e in pipeline.analyse(frame(i)).events]


def test_the_pipeline_swaps_rules_between_frames_and_restarts_only_the_changed_ones() -> None:
    site = RulesConfig.model_validate({"fall": {}})
    pipeline = CameraPipeline("cam", build_rules(site), [Fixed(CARDS["fall"], ["person"])], fps=2)
    assert run(pipeline, range(4)) == []  # one person standing: nothing
    fall = pipeline.rules[0]

    saved = site.with_camera_zones([kind_zone("pit", "restricted")])
    pipeline.stage_rules(build_rules(saved), 1)
    assert pipeline.zone_revision == 0  # not before the next frame
    opened = run(pipeline, range(4, 12))
    assert pipeline.zone_revision == 1
    assert [r.name for r in pipeline.rules] == ["fall", "restricted_zone"]
    assert pipeline.rules[0] is fall  # unchanged: it carries on
    assert [(e.phase, e.violation.rule, e.violation.zone) for e in opened][:1] == [
        (Phase.OPENED, "restricted_zone", "pit")
    ]

    pipeline.stage_rules(build_rules(site.with_camera_zones([])), 2)
    ended = pipeline.analyse(frame(12)).events
    assert [(e.phase, e.violation.rule) for e in ended] == [(Phase.ENDED, "restricted_zone")]
    assert [r.name for r in pipeline.rules] == ["fall"] and pipeline.zone_revision == 2


def test_a_rule_whose_model_this_worker_did_not_load_is_left_out_with_a_warning(caplog) -> None:
    site = RulesConfig.model_validate({"fall": {}})
    pipeline = CameraPipeline("cam", build_rules(site), [Fixed(CARDS["fall"], ["person"])], fps=2)
    saved = site.with_camera_zones([kind_zone("roof", "work-at-height")])
    pipeline.stage_rules(build_rules(saved), 3)
    with caplog.at_level(logging.INFO, logger="vigil.pipeline"):
        pipeline.analyse(frame(0))
    assert [r.name for r in pipeline.rules] == ["fall"]
    assert "rule no_harness needs a model providing harness" in caplog.text
    assert "camera cam: zones updated (rev 3)" in caplog.text


def test_the_watcher_stages_a_newer_revision_and_keeps_the_newest_frame(tmp_path: Path) -> None:
    store = EventStore.for_data_dir(tmp_path)
    zones = ZoneStore(store)
    site = RulesConfig.model_validate({"fall": {}})
    pipeline = CameraPipeline("cam", build_rules(site), [Fixed(CARDS["fall"], ["person"])], fps=2)
    camera = SimpleNamespace(id="cam", pipeline=pipeline, last_frame=frame(0))
    config = SimpleNamespace(id="cam", rules=site)
    told = []
    watcher = ZoneWatcher(
        zones, [camera], {"cam": config}, tmp_path, on_rules=lambda c, r: told.append((c, r))
    )
    assert watcher.poll() == []

    drawn = [kind_zone("pit", "restricted").model_dump(mode="json")]
    zones.save("cam", drawn, "ana", base_revision=0)
    zones.save("elsewhere", drawn, "ana")  # another worker's camera
    assert watcher.poll() == ["cam"] and watcher.poll() == []
    assert [(c, [r.name for r in rules]) for c, rules in told] == [
        ("cam", ["fall", "restricted_zone"])
    ]  # the recorder places what the models saw in the new zones
    pipeline.analyse(frame(1))
    assert pipeline.zone_revision == 1 and [r.name for r in pipeline.rules][-1] == "restricted_zone"
    with pytest.raises(StaleZones, match="revision 0, now 1"):
        zones.save("cam", [], "bo", base_revision=0)

    watcher.keep_frames()
    assert latest_frame_path(tmp_path, "cam").read_bytes()[:2] == b"\xff\xd8"
    store.dispose()
