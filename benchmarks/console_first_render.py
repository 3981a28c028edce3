"""Time to first render of the console's events page with 10k events stored: from navigation
start to the first page of rows in the DOM (the page's ``vigil:events-rendered`` mark), and
to the browser's first contentful paint, in Debian's headless Chromium driven by Playwright,
against the real API (uvicorn on loopback) over SQLite.

Every event points at one real snapshot (a frame of footage), so the thumbnails load as they
would. Each run is a full page load (a reload) of ``/console/#/events`` while signed in.

    .venv/bin/python benchmarks/console_first_render.py --events 10000 --runs 20

Measured on the 2-core development machine, shared with other jobs (load 8-10), two runs:

    events 10000: first render p50 251 ms, p95 533 ms; first contentful paint p50 148 ms (20 loads)
    events 10000: first render p50 261 ms, p95 672 ms; first contentful paint p50 160 ms (30 loads)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import av
from playwright.sync_api import sync_playwright
from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).parent))
from api_event_list import CAMERAS, rows  # noqa: E402 (the same synthetic history)

from vigil.api.accounts import Accounts  # noqa: E402
from vigil.api.app import create_app  # noqa: E402
from vigil.api.config import ApiConfig  # noqa: E402
from vigil.api.server import ApiServer  # noqa: E402
from vigil.events.store import EventStore  # noqa: E402
from vigil.events.store.models import EventRow  # noqa: E402

VIDEO = Path(__file__).resolve().parents[1].parent / "shared/data/videos/fall_01.mp4"
PASSWORD = "a long passphrase"


def snapshot(data_dir: Path) -> Path:
    """One real JPEG in the media folder, from the first frame of the footage."""
    path = data_dir / "media" / CAMERAS[0] / "2025-11-24" / "bench.jpg"
    path.parent.mkdir(parents=True)
    with av.open(str(VIDEO)) as container:
        frame = next(container.decode(video=0))
    frame.to_image().save(path, quality=80)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        jpg = str(snapshot(data_dir))
        store = EventStore.for_data_dir(data_dir)
        with store.engine.begin() as conn:
            for batch in rows(args.events):
                conn.execute(insert(EventRow), [r | {"snapshot_path": jpg} for r in batch])
        Accounts(store.engine).add_user("bench", PASSWORD, "admin")
        server = ApiServer(create_app(store, data_dir, ApiConfig()), "127.0.0.1", 0)
        server.start()
        try:
            rendered, painted = measure(server.url, args.runs)
        finally:
            server.stop()
            store.dispose()
    q = statistics.quantiles(rendered, n=20)
    print(f"events {args.events}: first render p50 {statistics.median(rendered):.0f} ms, "
          f"p95 {q[18]:.0f} ms; first contentful paint p50 {statistics.median(painted):.0f} ms "
          f"({args.runs} loads)")  # fmt: skip


def measure(url: str, runs: int) -> tuple[list[float], list[float]]:
    rendered, painted = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(f"{url}/console/")
        page.fill("#login input[name=name]", "bench")
        page.fill("#login input[name=password]", PASSWORD)
        page.click("#login button[type=submit]")
        page.wait_for_selector("#role")
        page.goto(f"{url}/console/#/events")
        for n in range(runs + 1):
            page.reload()
            page.wait_for_function("performance.getEntriesByName('vigil:events-rendered').length")
            assert page.locator("#list .row").count() == 50
            mark = page.evaluate(
                "performance.getEntriesByName('vigil:events-rendered')[0].startTime"
            )
            fcp = page.evaluate(
                "(performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime || 0"
            )
            if n:  # the first load warms the server and the browser's cache
                rendered.append(mark)
                painted.append(fcp)
        browser.close()
    return rendered, painted


if __name__ == "__main__":
    main()
