"""Detect and record roles with real streams (issue 16): a camera whose ``detect_source`` is a
downscaled substream served beside its main stream by GStreamer's RTSP server. Detection runs
on the substream (its frames, hence the snapshot and the boxes, are at the substream's size),
the clip and the continuous recording come from the main stream (its size), and either
stream missing shows the camera failed, naming the stream.

fall_01.mp4 (640x360) shows a worker falling at ~3.6 s; the substream is a 320x180 copy.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest
from livehelpers import RtspServer, rtsp_server_available, wait_for
from videocheck import probe

from vigil.config import SiteConfig
from vigil.events.store.recordings import RecordingIndex
from vigil.events.store.store import EventStore
from vigil.streams.health import CameraState
from vigil.streams.rtsp_loop import downscaled

pytestmark = [pytest.mark.slow, pytest.mark.needs_rtsp]

MAIN, SUB = (640, 360), (320, 180)


@pytest.fixture(scope="module", autouse=True)
def _needs_rtsp_server() -> None:
    reason = rtsp_server_available()
    if reason:
        pytest.skip(reason)


def test_detection_on_the_substream_evidence_from_the_main_stream(videos: Path, tmp_path: Path):
    from test_live import Running

    video = videos / "fall_01.mp4"
    sub = downscaled(video, SUB, tmp_path / "sub")
    with RtspServer({"main": video, "sub": sub}) as server:
        # The two cameras missing a stream are there to fail: at 0.5 fps, no-main (which
        # still detects on the substream) leaves the service to dock. Both at 2 fps starved
        # dock's fall on a CPU without BF16, where the fall model runs in float32.
        cameras = [  # id, fps, main stream, detect stream
            ("dock", 2, "main", "sub"),
            ("no-sub", 0.5, "main", "gone"),
            ("no-main", 0.5, "gone", "sub"),
        ]
        config = SiteConfig.model_validate(
            {
                "cameras": [
                    {
                        "id": camera,
                        "fps": fps,
                        "source": server.url(main),
                        "detect_source": server.url(detect),
                        "rules": {"fall": {}},
                    }
                    for camera, fps, main, detect in cameras
                ],
                "storage": {"data_dir": str(tmp_path / "data")},
                "evidence": {"pre_seconds": 2, "post_seconds": 1},
                "record": {"enabled": True, "segment_seconds": 4},
                "reconnect": {"stall_seconds": 3, "backoff_initial": 0.2, "backoff_max": 1},
            }
        )
        with Running(config) as run:
            store = run.runner.store
            wait_for(lambda: store.list_events(camera="dock"), 90, "a fall event", step=0.5)
            wait_for(
                lambda: (
                    run.state("no-sub") is CameraState.FAILED
                    and run.state("no-main") is CameraState.FAILED
                ),
                30,
                "the cameras missing a stream to fail",
            )
            health = {c.id: c.reader.health.snapshot() for c in run.runner._cameras}
            index = RecordingIndex(store)
            wait_for(lambda: index.segments("dock"), 30, "a recorded segment", step=0.5)
            run.finish()

    assert health["dock"].state is CameraState.LIVE
    assert health["dock"].source == (f"{server.url('main')} (detect: {server.url('sub')})")
    assert health["no-sub"].last_error.startswith("detect stream: 404")
    assert health["no-main"].last_error.startswith("main stream: 404")

    store = EventStore.for_data_dir(tmp_path / "data")
    event = store.list_events(camera="dock")[0]
    codec, _, frames, size = probe(event.clip_path)
    assert codec == "h264" and frames > 0 and size == MAIN  # the clip: the main stream
    # Both streams run on one camera clock: the main stream's clip shows the detection's time.
    assert event.clip_start_pts <= event.start_pts <= event.peak_pts <= event.clip_end_pts
    snapshot = cv2.imread(str(event.snapshot_path))
    assert snapshot.shape[:2] == (SUB[1], SUB[0])  # the detection frame: the substream
    x1, y1, x2, y2 = event.bbox
    assert 0 <= x1 < x2 <= SUB[0] and 0 <= y1 < y2 <= SUB[1]
    segments = RecordingIndex(store).segments("dock")
    assert segments and all((s.width, s.height) == MAIN for s in segments)
    assert not RecordingIndex(store).segments("no-main")  # nothing to record
    store.dispose()
