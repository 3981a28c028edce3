"""Zones saved through the API → applied by a running worker: how long it takes.

A `SiteRunner` (as `vigil run` runs it) watches a looped real video of people walking with the
fall model at 2 analysed frames a second, and serves its API beside it in this process. Every
few seconds a zone is saved with ``PUT /api/v1/cameras/{id}/zones`` (an admin's bearer token),
alternating a restricted zone over the whole frame and none; the time from the PUT's answer to
the camera's pipeline having swapped the revision in (``CameraPipeline.zone_revision``, set when
it logs ``zones updated (rev N)``) is measured, polled every 10 ms.

Expected: up to the watcher's poll interval (2 s), plus the wait for the camera's next analysed
frame (0.5 s at 2 frames/s, longer when inference lags on busy cores), plus the poll's query.
Measured on the 2-core development machine shared with other jobs: 8 saves, median 2.09 s,
min 0.68 s, max 3.03 s.

    .venv/bin/python benchmarks/zone_pickup.py --saves 8
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import httpx  # noqa: E402
from livehelpers import free_port  # noqa: E402

from vigil.api.accounts import Accounts  # noqa: E402
from vigil.config import SiteConfig  # noqa: E402
from vigil.run import SiteRunner  # noqa: E402
from vigil.service_cli import serve_beside  # noqa: E402

VIDEOS = ROOT.parent / "shared" / "data" / "videos"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--saves", type=int, default=8, help="zone saves to time")
    parser.add_argument("--video", default="people_walking_01.mp4")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="zone-pickup-"))
    site = SiteConfig.model_validate(
        {
            "cameras": [
                {"id": "yard", "source": str(VIDEOS / args.video), "loop": True, "fps": 2,
                 "rules": {"fall": {}}}
            ],
            "storage": {"data_dir": str(data)},
            "api": {"host": "127.0.0.1", "port": free_port()},
        }
    )  # fmt: skip
    runner = SiteRunner(site)
    accounts = Accounts(runner.store.engine)
    accounts.add_user("root", "a long passphrase", "admin")
    token = accounts.create_token("root", "bench").secret
    stop = threading.Event()
    thread = threading.Thread(target=runner.run, args=(stop,), daemon=True)
    thread.start()
    api = serve_beside(site, data)
    pipeline = None
    while pipeline is None or runner.analysed_counts().get("yard", 0) < 4:
        time.sleep(0.1)
        pipeline = next((c.pipeline for c in runner._cameras if c.id == "yard"), None)
    whole = [[0, 0], [4000, 0], [4000, 4000], [0, 4000]]
    delays = []
    with httpx.Client(
        base_url=api.server.url, headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for i in range(args.saves):
            time.sleep(random.uniform(1.0, 3.0))  # saves fall anywhere in the poll cycle
            zones = [{"name": "all", "kind": "restricted", "polygon": whole}] if i % 2 == 0 else []
            r = client.put("/api/v1/cameras/yard/zones", json={"zones": zones}, timeout=30)
            answered = time.monotonic()
            r.raise_for_status()
            revision = r.json()["revision"]
            while pipeline.zone_revision < revision:
                time.sleep(0.01)
                if time.monotonic() - answered > 30:
                    sys.exit(f"revision {revision} not applied within 30 s")
            delays.append(time.monotonic() - answered)
            print(f"rev {revision}: applied {delays[-1]:.2f} s after the PUT answered")
    stop.set()
    thread.join(120)
    api.stop()
    print(
        f"{len(delays)} saves: median {statistics.median(delays):.2f} s, "
        f"min {min(delays):.2f} s, max {max(delays):.2f} s"
    )


if __name__ == "__main__":
    main()
