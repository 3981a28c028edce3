"""`vigil demo`, the README's first command after setup: a sample video from ultralytics'
photos, detection with the sample config, events with evidence in the data folder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from vigil.events.store.store import EventStore

pytestmark = pytest.mark.slow


def test_demo_finds_bare_heads_on_both_photos_and_people_in_the_zone(tmp_path: Path):
    data = tmp_path / "vigil-data"
    done = subprocess.run(
        [sys.executable, "-m", "vigil.cli", "demo", "--data", str(data)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert (data / "demo" / "sample.mp4").is_file()
    with EventStore.for_data_dir(data) as store:
        events = store.list_events()
    # bus.jpg is shown 0-5 s, zidane.jpg 5-10 s: people without helmets on both.
    bare = [e for e in events if e.rule == "no_helmet"]
    assert {e.start_pts < 5.0 for e in bare} == {True, False}
    zoned = [e for e in events if e.rule == "restricted_zone"]
    assert zoned and {e.zone for e in zoned} == {"loading-bay"}
    # The default smoke model calls the dim, hazy stage of zidane.jpg smoke: a known false
    # alarm the README names (datasets/RESULTS.md, section 16); a model that stops it updates
    # both.
    [smoke] = [e for e in events if e.rule == "smoke"]
    assert smoke.start_pts >= 4.5
    assert {e.rule for e in events} == {"no_helmet", "restricted_zone", "smoke"}
    for event in events:
        assert event.snapshot_path.is_file() and event.clip_path.is_file()
        assert event.snapshot_path.is_relative_to(data / "media")
