"""A worker (`SiteRunner`, as `vigil run` runs it) and zones saved in the store: the newest
revision is in force from the start, a newer one saved while it runs is swapped in, and a
saved zone whose rule needs a model that is not installed leaves the site file's zones in
force. A looped real video of people walking, the fall model only, 2 analysed frames a second."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from livehelpers import wait_for

from vigil.config import ConfigError, SiteConfig
from vigil.events.evidence import latest_frame_path
from vigil.events.store import EventStore
from vigil.events.store.zones import ZoneStore
from vigil.run import SiteRunner

pytestmark = pytest.mark.slow

WHOLE = [[0, 0], [4000, 0], [4000, 4000], [0, 4000]]


def site(videos: Path, data: Path) -> SiteConfig:
    return SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "yard", "source": str(videos / "people_walking_01.mp4"), "loop": True,
                 "fps": 2, "rules": {"fall": {}}}
            ],
            "storage": {"data_dir": str(data)},
            "evidence": {"pre_seconds": 1, "post_seconds": 1},
        }
    )  # fmt: skip


def saved(data: Path, zones: list[dict], base: int) -> int:
    """Save the camera's zones as the API would, in the worker's store."""
    with EventStore.for_data_dir(data) as store:
        return ZoneStore(store).save("yard", zones, "test", base_revision=base).revision


def test_saved_zones_are_in_force_from_the_start_and_swapped_while_running(
    videos: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    assert saved(data, [{"name": "all", "kind": "restricted", "polygon": WHOLE}], 0) == 1
    caplog.set_level(logging.INFO)
    runner = SiteRunner(site(videos, data))
    ((_, rules, _),) = runner._plans
    assert [r.name for r in rules] == ["fall", "restricted_zone"]
    assert "camera yard: saved zones (rev 1) in force" in caplog.text

    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    try:
        wait_for(lambda: runner.analysed_counts().get("yard", 0) >= 2, 120, "frames analysed")
        (camera,) = runner._cameras
        assert camera.pipeline.zone_revision == 1
        assert saved(data, [], 1) == 2  # no zones: restricted_zone is off again
        wait_for(lambda: camera.pipeline.zone_revision == 2, 30, "revision 2 swapped in")
        assert [r.name for r in camera.pipeline.rules] == ["fall"]
        assert "camera yard: zones updated (rev 2)" in caplog.text
        wait_for(lambda: latest_frame_path(data, "yard").exists(), 30, "the newest frame kept")
    finally:
        stop.set()
        thread.join(120)
    assert not thread.is_alive()

    # A work-at-height zone needs a harness model, which is not installed: the file's zones.
    assert saved(data, [{"name": "roof", "kind": "work-at-height", "polygon": WHOLE}], 2) == 3
    caplog.clear()
    again = SiteRunner(site(videos, data))
    ((_, rules, _),) = again._plans
    assert [r.name for r in rules] == ["fall"]
    assert "saved zones (rev 3) not applied, the site file's are" in caplog.text
    assert "no_harness" in caplog.text
    again.store.dispose()


def test_the_worker_runs_a_model_at_the_cameras_input_size(videos: Path, tmp_path: Path):
    config = site(videos, tmp_path / "data").model_dump()
    config["cameras"][0]["input_size"] = {"fall": 480}
    runner = SiteRunner(SiteConfig.model_validate(config))
    ((_, _, (fall,)),) = runner._plans
    assert (fall.name, fall.card.imgsz) == ("fall", 480)
    config["cameras"][0]["input_size"] = {"fal": 480}
    with pytest.raises(ConfigError, match="camera yard: input_size names fal, which is not"):
        SiteRunner(SiteConfig.model_validate(config))
