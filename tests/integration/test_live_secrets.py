"""Credentials in a camera URL never reach the store, the status output or the logs (issue 12,
finding 2): a user-only key and a query token, read from the environment, on a real MJPEG
camera served over HTTP on loopback, with a real fall event stored."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from livehelpers import MjpegServer, wait_for

from vigil.config import load_site_config
from vigil.run import SiteRunner

pytestmark = pytest.mark.slow

KEY, TOKEN = "APIKEY-9f2c41", "T0K3N-77aa05"


def everything_stored(db: Path) -> str:
    """Every row of every table, as text."""
    with sqlite3.connect(db) as conn:
        tables = [t for (t,) in conn.execute("select name from sqlite_master where type='table'")]
        return "\n".join(str(conn.execute(f'select * from "{t}"').fetchall()) for t in tables)


def test_credentials_are_masked_in_events_health_and_status(
    videos: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("VIGIL_TEST_CAM_KEY", KEY)
    monkeypatch.setenv("VIGIL_TEST_CAM_TOKEN", TOKEN)
    mjpeg = MjpegServer(videos / "fall_01.mp4", fps=10, seconds=11.3)
    url = mjpeg.url.replace("http://", "http://${VIGIL_TEST_CAM_KEY}@")
    config = tmp_path / "site.yaml"
    config.write_text(
        f"""
cameras:
  - id: dock
    source: "{url}?channel=1&token=${{VIGIL_TEST_CAM_TOKEN}}"
    fps: 2
    rules: {{fall: {{}}}}
evidence: {{pre_seconds: 1, post_seconds: 1}}
storage: {{data_dir: data}}
"""
    )
    site = load_site_config(config)
    assert KEY in site.cameras[0].spec.url and TOKEN in site.cameras[0].spec.url
    runner = SiteRunner(site)
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    try:
        thread.start()
        events = wait_for(
            lambda: runner.store.list_events(camera="dock"), 90, "a fall event", step=0.5
        )
        status = subprocess.run(
            [sys.executable, "-m", "vigil.cli", "status", "--config", str(config), "--json"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        stop.set()
        thread.join(120)
        mjpeg.close()
    assert status.returncode == 0, status.stderr
    assert events[0].source == f"http://***@127.0.0.1:{url.rsplit(':', 1)[1]}?channel=1&token=***"
    assert '"source": "http://***@127.0.0.1:' in status.stdout
    assert "channel=1&token=***" in status.stdout
    stored = everything_stored(tmp_path / "data" / "vigil.db")
    assert "http://***@127.0.0.1:" in stored and "token=***" in stored  # events, health
    for shown in (status.stdout, status.stderr, stored, caplog.text):
        assert KEY not in shown and TOKEN not in shown
