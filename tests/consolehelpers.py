"""The console's browser tests' parts: `vigil serve` over events that `vigil detect` found in
real footage, signed-in users, and a headless Debian chromium driven by Playwright.

tests/conftest.py loads this module as a plugin, so its fixtures (`site`, `browser`,
`page_for`) serve every test module.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from vigil.events.store import EventStore

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "a long passphrase"
DESK = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}
USERS = {"ana": "admin", "olu": "operator", "vic": "viewer"}
VIGIL = [sys.executable, "-m", "vigil.cli"]


@dataclass
class Site:
    url: str
    data_dir: Path
    shots: Path

    def store(self) -> EventStore:
        return EventStore.for_data_dir(self.data_dir)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _vigil(*args: str, stdin: str | None = None, timeout: float = 600) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    done = subprocess.run(
        [*VIGIL, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"vigil {' '.join(args)}: {done.stderr[-2000:]}"


@pytest.fixture(scope="session")
def site(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """`vigil detect` on a fall and a fire video (once), users, and `vigil serve` over them."""
    root = tmp_path_factory.mktemp("console")
    data = root / "data"
    for video, rules in (("fall_01.mp4", "fall: {}"), ("fire_01.mp4", "fire: {}\n  smoke: {}")):
        config = root / f"{video}.yaml"
        config.write_text(f"fps: 2\nrules:\n  {rules}\n")
        _vigil("detect", str(videos / video), "--config", str(config), "--data", str(data))
    for name, role in USERS.items():
        _vigil("users", "add", name, "--role", role, "--password-stdin", "--data", str(data),
               stdin=PASSWORD + "\n")  # fmt: skip
    # A site file only for `serve`: the tests sign in more often than the default rate allows.
    site_file = root / "site.yaml"
    site_file.write_text(
        f"cameras:\n  - id: fall_01\n    source: {videos / 'fall_01.mp4'}\n"
        "api:\n  login_rate: 200/minute\n"
    )
    with serving(site_file, data) as url:
        shots = Path(os.environ.get("VIGIL_SCREENSHOTS") or root / "screenshots")
        shots.mkdir(parents=True, exist_ok=True)
        yield Site(url, data, shots)
        print(f"\nconsole screenshots in {shots}")


@contextmanager
def serving(site_file: Path, data: Path) -> Iterator[str]:
    """`vigil serve` of a site file over a data folder, on a free loopback port: its URL.
    Its log goes to a file beside the site file (a pipe nobody reads would fill and stall it)."""
    port = _free_port()
    log = site_file.with_suffix(".log")
    with log.open("w") as sink:
        server = subprocess.Popen(
            [*VIGIL, "serve", "--config", str(site_file), "--data", str(data)]
            + ["--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=sink,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert server.poll() is None, f"vigil serve exited: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, "vigil serve did not answer within 60 s"
        time.sleep(0.2)
    try:
        yield url
    finally:
        server.terminate()
        server.wait(15)


# Module scope: a live sync Playwright keeps an event loop running in this thread, and
# asyncio.run() in any later test would fail.
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        from conftest import lacking  # conftest loads this module: import it late

        lacking("Debian's chromium is not installed (scripts/setup installs it as root)")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
    with playwright_api.sync_playwright() as p:
        # The alarm's tone may start without a click in the page (a kiosk's setting, too).
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--autoplay-policy=no-user-gesture-required"]
        )
        yield b
        b.close()


@pytest.fixture
def page_for(browser, site: Site):
    """A signed-in page for a user at a viewport; page errors fail the test."""
    pages, errors = [], []

    def make(user: str = "ana", viewport: dict = DESK):
        page = browser.new_page(viewport=viewport)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{site.url}/")
        page.fill("#login input[name=name]", user)
        page.fill("#login input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#role")
        pages.append(page)
        return page

    yield make
    for page in pages:
        page.close()
    assert not errors, f"errors in the page: {errors}"


def shot(page, site: Site, name: str, full: bool = False) -> None:
    page.screenshot(path=str(site.shots / f"{name}.png"), full_page=full)


def detected_event(site: Site, rule: str):
    with site.store() as store:
        events = [e for e in store.list_events() if e.rule == rule and e.clip_path]
    assert events, f"vigil detect found no {rule} event with a clip"
    return events[0]
