"""`vigil run` with its media in an object store that goes away for 15 s (issue 19): real
footage, real models, moto's S3 server on loopback behind a relay that refuses connections
during the outage (tests/s3server.py).

workers_no_hardhat_slideshow_01.mp4 is looped as a camera (bare heads: a no_helmet event every
few seconds) that is also recorded continuously in 4 s segments. Once the first file is in the
bucket the store goes away for ``OUTAGE_S``; analysis must go on meanwhile, and events that end
then wait in the upload queue. After the run: every event's snapshot and clip, and every indexed
segment, is in the bucket, byte for byte (the clip's stored sha256), served by the API from
there, and no staged copy or queue entry is left behind.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path

import pytest
from apihelpers import running_api
from livehelpers import wait_for
from s3server import S3Server, moto_server

from vigil.api.media import MediaSource
from vigil.config import SiteConfig
from vigil.events.evidence import latest_frame_path
from vigil.events.objectstore import ObjectStore
from vigil.events.replay import export_range, read_uploaded_from
from vigil.events.store.recordings import RecordingIndex
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventStore
from vigil.run import SiteRunner

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(moto_server() is None, reason="moto[server] not installed"),
]

OUTAGE_S = 15.0
MAX_OUTAGE_S = 40.0
AFTER_OUTAGE_S = 10.0


def test_no_media_is_lost_when_the_object_store_stops_for_15_s(videos: Path, tmp_path: Path):
    data = tmp_path / "data"
    with S3Server() as s3:
        settings = s3.settings()
        config = SiteConfig.model_validate(
            {
                "cameras": [
                    {
                        "id": "yard",
                        "source": str(videos / "workers_no_hardhat_slideshow_01.mp4"),
                        "loop": True,
                        "fps": 2,
                        "rules": {"no_helmet": {}},
                        "record": {"enabled": True, "segment_seconds": 4},
                    }
                ],
                "evidence": {"pre_seconds": 1, "post_seconds": 1},
                "storage": {
                    "data_dir": str(data),
                    "media_url": settings.media_url,
                    "endpoint_url": settings.endpoint_url,
                    "region": "us-east-1",
                    "access_key": "testing",
                    "secret_key": "testing",
                },
            }
        )
        runner = SiteRunner(config)
        stop, outcome = threading.Event(), {}
        thread = threading.Thread(target=lambda: outcome.update(summary=runner.run(stop)))
        thread.start()
        try:
            wait_for(lambda: runner.uploader and runner.uploader.uploaded, 90, "a first upload")
            uploader = runner.uploader
            s3.stop()
            analysed_before = sum(runner.analysed_counts().values())
            time.sleep(OUTAGE_S)
            # On a busy machine the analysis may lag: stay down (bounded) until a file waits.
            deadline = time.monotonic() + MAX_OUTAGE_S - OUTAGE_S
            while not uploader.pending and time.monotonic() < deadline:
                time.sleep(0.2)
            waiting_in_outage = uploader.pending
            analysed_in_outage = sum(runner.analysed_counts().values()) - analysed_before
            failures_in_outage = uploader.failures
            s3.resume()
            time.sleep(AFTER_OUTAGE_S)
        finally:
            stop.set()
            thread.join(180)
        assert not thread.is_alive(), "vigil run did not stop"
        summary = outcome["summary"]

        objects = ObjectStore(settings)
        keys = set(objects.keys())
        with EventStore.for_data_dir(data, auto_migrate=False) as store:
            events = store.list_events(camera="yard")
            segments = RecordingIndex(store).segments("yard")
        media = [p for e in events for p in (e.snapshot_path, e.clip_path) if p is not None]
        found = [p for p in media if p.relative_to(data).as_posix() in keys]
        seg_found = [s for s in segments if s.path in keys]
        served = 0
        url = f"sqlite:///{(data / 'vigil.db').resolve()}"
        with running_api(url, data, media=MediaSource(objects)) as api, api.client("viewer") as c:
            for event in events:
                clip = c.get(f"/api/v1/events/{event.id}/clip")
                snap = c.get(f"/api/v1/events/{event.id}/snapshot")
                ok = clip.status_code == snap.status_code == 200
                served += ok and hashlib.sha256(clip.content).hexdigest() == event.clip_sha256
        # Replay from the bucket: the segments are no longer on disk.
        read_uploaded_from(data, objects)
        with EventStore.for_data_dir(data, auto_migrate=False) as store:
            exported = export_range(
                RecordingIndex(store),
                data,
                "yard",
                segments[0].start_wall,
                segments[-1].end_wall,
                tmp_path / "export.mp4",
            )
    # The camera's newest frame (for the zone editor) is a local working file, not evidence.
    newest = latest_frame_path(data, "yard")
    staged = [p for p in (data / "media").rglob("*") if p.is_file() and p != newest]
    staged += [p for p in (data / "recordings").rglob("*") if p.is_file()]
    print(
        f"\nevents {len(events)}; media files expected {len(media)}, in the bucket "
        f"{len(found)}; segments expected {len(segments)}, in the bucket {len(seg_found)}; "
        f"events served from the bucket {served}/{len(events)}; during the {OUTAGE_S:g} s "
        f"outage: {analysed_in_outage} frames analysed, {failures_in_outage} failed upload "
        f"attempts, {waiting_in_outage} files waiting; uploaded {summary.media_uploaded} files; "
        f"exported {exported.frames} frames of {exported.segments} segments from the bucket"
    )
    assert failures_in_outage > 0 and waiting_in_outage > 0, "the outage hit no upload"
    assert analysed_in_outage > 0, "analysis stalled while the store was away"
    assert len(events) >= 2 and all(e.state is LifecycleState.ENDED for e in events)
    assert all(e.snapshot_path is not None and e.clip_path is not None for e in events)
    assert len(found) == len(media) == 2 * len(events)
    assert len(seg_found) == len(segments) >= 2
    assert served == len(events)
    assert (summary.media_pending, summary.media_dropped) == (0, 0)
    assert staged == []  # every staged copy went once verified in the bucket
    assert exported.segments == len(segments) and exported.frames > 0
    assert not list((data / "uploads").glob("*.jsonl"))
