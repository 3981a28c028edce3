"""The zones editor in a real headless Chromium against a running `vigil run --serve` worker
watching a looped video of people walking (the fall model only, at 2 analysed frames a second):
a zone drawn on the camera's newest frame is saved through the API, the running worker applies
it (its log says so) and a restricted-zone event opens in it.

The screenshot is saved under $VIGIL_SCREENSHOTS like the other console tests';
docs/console-zones.png is picked from it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import av
import httpx
import pytest
from consolehelpers import PASSWORD, PHONE, VIGIL, Site, _free_port, _vigil, shot
from livehelpers import wait_for

from vigil.events.evidence import latest_frame_path
from vigil.events.store.zones import ZoneStore

pytestmark = pytest.mark.slow

CAMERA = "yard"
VIDEO = "people_walking_01.mp4"
WAIT_MS = 90_000  # page waits: a state, bounded (the worker shares two cores with the browser)


@pytest.fixture(scope="module")
def worker(videos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Site, Path]]:
    """`vigil run --serve` over a looped video, its users, and its log file."""
    root = tmp_path_factory.mktemp("zones")
    data = root / "data"
    for name, role in (("ana", "admin"), ("vic", "viewer")):
        _vigil("users", "add", name, "--role", role, "--password-stdin", "--data", str(data),
               stdin=PASSWORD + "\n")  # fmt: skip
    port = _free_port()
    config = root / "site.yaml"
    config.write_text(
        f"cameras:\n  - id: {CAMERA}\n    source: {videos / VIDEO}\n    loop: true\n"
        "    fps: 2\n    rules: {fall: {}}\n"
        "evidence: {pre_seconds: 1, post_seconds: 1}\n"
        f"api: {{host: 127.0.0.1, port: {port}, login_rate: 200/minute}}\n"
    )
    log = root / "run.log"
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    with log.open("w") as sink:
        process = subprocess.Popen(
            [*VIGIL, "run", "--serve", "--config", str(config), "--data", str(data)],
            stdout=subprocess.DEVNULL,
            stderr=sink,
            env=env,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert process.poll() is None, f"vigil run exited: {log.read_text()[-2000:]}"
        try:
            up = httpx.get(f"{url}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False
        return up and latest_frame_path(data, CAMERA).exists()

    shots = Path(os.environ.get("VIGIL_SCREENSHOTS") or root / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    try:
        wait_for(ready, 180, "the worker to serve and keep a frame of the camera", step=0.5)
        yield Site(url, data, shots), log
    finally:
        process.terminate()
        process.wait(60)


@pytest.fixture(scope="module")
def site(worker) -> Site:
    """The console's `site` is the worker's own API (page_for signs in there)."""
    return worker[0]


def frame_size(video: Path) -> tuple[int, int]:
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        return stream.codec_context.width, stream.codec_context.height


def applied_at(log: Path, line: str) -> float | None:
    """When the worker logged ``line`` (epoch seconds), if it has."""
    for text in log.read_text().splitlines():
        if line in text:
            stamp = " ".join(text.split()[:2])
            return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def test_a_drawn_zone_is_saved_and_picked_up_by_the_running_worker(
    worker, page_for, videos: Path
) -> None:
    site, log = worker
    width, height = frame_size(videos / VIDEO)
    viewer = page_for("vic")
    assert "Zones" not in viewer.locator("#nav a").all_inner_texts()

    page = page_for("ana")
    assert "Zones" in page.locator("#nav a").all_inner_texts()
    page.goto(f"{site.url}/console/#/zones")
    page.wait_for_selector("#z-board[data-ready='1']", timeout=WAIT_MS)
    board = page.locator("#z-board")
    assert (board.get_attribute("data-width"), board.get_attribute("data-height")) == (
        str(width),
        str(height),
    )
    assert page.locator("#z-list .z-row").count() == 0  # the site file has no zones

    page.click("#z-new")
    box = page.locator("#z-stage").bounding_box()

    def at(fx: float, fy: float) -> tuple[float, float]:
        return box["x"] + fx * box["width"], box["y"] + fy * box["height"]

    for fx, fy in ((0.02, 0.3), (0.98, 0.3), (0.98, 0.98), (0.02, 0.6)):
        page.mouse.click(*at(fx, fy))
    page.mouse.click(*at(0.02, 0.3))  # the first point again: closed
    page.wait_for_selector("#z-list .z-row", timeout=WAIT_MS)
    # The new zone is selected: drag its last point down to the bottom-left corner.
    page.mouse.move(*at(0.02, 0.6))
    page.mouse.down()
    page.mouse.move(*at(0.02, 0.8), steps=4)
    page.mouse.move(*at(0.02, 0.98), steps=4)
    page.mouse.up()
    page.fill("#z-list .z-name", "concourse")
    page.select_option("#z-list .z-kind", "restricted")
    page.click("#z-save")
    page.wait_for_function(
        "document.querySelector('#z-rev')?.textContent.startsWith('revision 1')", timeout=WAIT_MS
    )
    assert page.inner_text("#z-error") == ""

    with site.store() as store:
        saved = ZoneStore(store).latest(CAMERA)
    assert saved is not None and saved.saved_by == "ana"
    (zone,) = saved.zones
    assert (zone["name"], zone["kind"]) == ("concourse", "restricted")
    # Where the points were clicked, in the frame's pixels; the last one where it was dragged.
    drawn = [(0.02, 0.3), (0.98, 0.3), (0.98, 0.98), (0.02, 0.98)]
    got = [c for point in zone["polygon"] for c in point]
    want = [c for fx, fy in drawn for c in (fx * width, fy * height)]
    assert got == pytest.approx(want, abs=0.02 * max(width, height)), zone["polygon"]
    shot(page, site, "zones")

    line = f"camera {CAMERA}: zones updated (rev 1)"
    applied = wait_for(lambda: applied_at(log, line), 60, f"the worker to log '{line}'", step=0.2)
    print(f"\nPUT to applied by the worker: {applied - saved.saved_at:.2f} s")

    def zone_event():
        with site.store() as store:
            return [
                e for e in store.list_events(CAMERA, "restricted_zone") if e.zone == zone["name"]
            ]

    events = wait_for(zone_event, 90, "a restricted_zone event in the drawn zone", step=0.5)
    assert events[0].start_wall >= saved.saved_at
    page.reload()  # the saved zone is what the editor shows now
    page.wait_for_selector("#z-board[data-ready='1']", timeout=WAIT_MS)
    assert page.locator("#z-list .z-name").input_value() == "concourse"


def test_the_zones_editor_fits_a_phone(worker, page_for) -> None:
    site, _ = worker
    page = page_for("ana", PHONE)
    page.goto(f"{site.url}/console/#/zones/{CAMERA}")
    page.wait_for_selector("#z-board[data-ready='1']", timeout=WAIT_MS)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the zones editor scrolls sideways: {width} px"
    shot(page, site, "phone-zones")
