"""What continuous recording costs: CPU per camera, bytes per camera-hour, time to export.

1. **CPU**: a camera reader on a looped real video served over RTSP (GStreamer,
   streams/gst/rtsp_server.py) for ``--seconds``, once without and once with the recorder
   (:class:`~vigil.events.continuous.ContinuousRecorder`, 60 s segments); the process CPU time
   of both runs, and the recorder thread's own CPU time. No models run: the reader's decoding
   is the same in both, so the difference is the recording.
2. **Bytes per camera-hour**: the segments written in run 1, scaled to an hour; and the frame
   log (what the models saw) for an hour at 2 analysed frames per second with 3 boxes each, as
   SQLite pages.
3. **Export**: 10 minutes of segments built by remuxing the looped footage (no RTSP), then
   exported as one MP4 cut at keyframes, and with ``--exact`` (only the ends re-encoded).

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/recording_cost.py --seconds 60
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import numpy as np  # noqa: E402
import supervision as sv  # noqa: E402
from livehelpers import RtspServer  # noqa: E402
from recordhelpers import looped_packets  # noqa: E402

from vigil.events.continuous import ContinuousRecorder  # noqa: E402
from vigil.events.replay import export_range  # noqa: E402
from vigil.events.segments import RecordSettings, SegmentWriter  # noqa: E402
from vigil.events.store.recordings import RecordingIndex  # noqa: E402
from vigil.events.store.store import EventStore  # noqa: E402
from vigil.events.zones import Zone  # noqa: E402
from vigil.streams.reader import CameraReader, ReaderOptions  # noqa: E402
from vigil.streams.ring import RingBuffer  # noqa: E402
from vigil.streams.sources import parse_source  # noqa: E402

VIDEO = ROOT.parent / "shared" / "data" / "videos" / "workers_helmets_01.mp4"


def reader_cpu(url: str, seconds: float, data: Path | None) -> tuple[float, float, int, float]:
    """Process CPU seconds of a reader (plus a recorder when ``data``) over ``seconds``;
    the recorder thread's CPU, segment bytes and recorded seconds."""
    reader = CameraReader("cam", parse_source(url), ReaderOptions(ring_seconds=10))
    recorder = store = None
    if data is not None:
        store = EventStore.for_data_dir(data)
        recorder = ContinuousRecorder(RecordingIndex(store), data)
        recorder.add_camera(
            "cam", reader.ring, RecordSettings(segment_seconds=60), lambda t: reader.wall_origin + t
        )
    stop = threading.Event()

    def take_frames() -> None:  # as the analysis would, at 2 fps
        while not stop.wait(0.5):
            reader.take()

    taker = threading.Thread(target=take_frames)
    reader.start()
    if recorder:
        recorder.start()
    taker.start()
    time.sleep(3)  # connected and streaming
    began = time.process_time()
    time.sleep(seconds)
    cpu = time.process_time() - began
    stop.set()
    reader.stop()
    reader.join(10)
    taker.join(10)
    recorded_bytes, recorded_s, thread_cpu = 0, 0.0, 0.0
    if recorder is not None and store is not None:
        recorder.close()
        thread_cpu = recorder.cpu_seconds
        segments = RecordingIndex(store).segments("cam")
        recorded_bytes = sum(s.bytes for s in segments)
        recorded_s = sum(s.duration for s in segments)
        store.dispose()
    return cpu, thread_cpu, recorded_bytes, recorded_s


def frame_log_bytes_per_hour(data: Path, fps: float = 2.0, boxes: int = 3) -> int:
    store = EventStore(f"sqlite:///{data / 'log.db'}")
    index = RecordingIndex(store)
    recorder = ContinuousRecorder(index, data)
    zone = Zone(name="tank-farm", polygon=[(0, 0), (320, 0), (320, 640), (0, 640)])
    recorder.add_camera("cam", RingBuffer(1, 1), RecordSettings(), lambda t: t, [zone])
    recorder.start()
    rng = np.random.default_rng(0)
    db = data / "log.db"
    before = db.stat().st_size
    for i in range(int(3600 * fps)):
        xyxy = rng.uniform(0, 300, (boxes, 4)).astype(np.float32)
        xyxy[:, 2:] += xyxy[:, :2]
        d = sv.Detections(
            xyxy=xyxy,
            confidence=rng.uniform(0.3, 1, boxes).astype(np.float32),
            tracker_id=np.arange(boxes) + i // 50,
        )
        d.data["label"] = np.array(["person", "head_helmet", "head_bare"][:boxes], dtype=object)
        recorder.seen("cam", 1_800_000_000 + i / fps, d)
        if i % 2000 == 0:
            time.sleep(0.3)  # let the recorder drain its queue as a real run would
    recorder.close()
    store.dispose()
    return db.stat().st_size - before


def export_times(work: Path, minutes: float) -> tuple[float, float, float, int]:
    store = EventStore.for_data_dir(work)
    index = RecordingIndex(store)
    t0 = 1_800_000_000.0
    ring = RingBuffer(30, 64 << 20)
    writer = SegmentWriter("cam", ring, work, index, RecordSettings(), lambda t: t0 + t)
    began = time.perf_counter()
    for i, packet in enumerate(looped_packets(VIDEO, minutes * 60)):
        ring.append(packet)
        if i % 60 == 0:
            writer.pump()
    writer.close()
    build = time.perf_counter() - began
    began = time.perf_counter()
    result = export_range(index, work, "cam", t0 + 1, t0 + minutes * 60 - 1, work / "copy.mp4")
    copy = time.perf_counter() - began
    began = time.perf_counter()
    export_range(index, work, "cam", t0 + 1, t0 + minutes * 60 - 1, work / "x.mp4", exact=True)
    exact = time.perf_counter() - began
    store.dispose()
    return build, copy, exact, result.frames


def report_export(work: Path, minutes: float) -> None:
    build, copy, exact, frames = export_times(work / "export", minutes)
    print(f"{minutes:g} minutes of segments built by remuxing in {build:.1f} s")
    print(f"  export cut at keyframes: {copy:.2f} s ({frames} frames)")
    print(f"  export --exact (the ends re-encoded, the middle copied): {exact:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="per CPU run")
    parser.add_argument("--minutes", type=float, default=10.0, help="export length")
    parser.add_argument("--export-only", action="store_true", help="only part 3")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vigil-rec-bench-"))
    try:
        if args.export_only:
            report_export(work, args.minutes)
            return
        with RtspServer({"cam": VIDEO}) as server:
            off, _, _, _ = reader_cpu(server.url("cam"), args.seconds, None)
            on, thread, size, recorded = reader_cpu(server.url("cam"), args.seconds, work / "rec")
        print(f"CPU over {args.seconds:.0f} s of a looped RTSP camera ({VIDEO.name}):")
        print(f"  reader alone:          {off:6.2f} s ({100 * off / args.seconds:.1f} % of a core)")
        print(f"  reader + recording:    {on:6.2f} s ({100 * on / args.seconds:.1f} % of a core)")
        share = 100 * thread / args.seconds
        print(f"  recorder thread:       {thread:6.2f} s ({share:.2f} % of a core)")
        per_hour = size / recorded * 3600 / 1e9
        print(f"  recorded {recorded:.1f} s in {size / 1e6:.2f} MB: {per_hour:.2f} GB/camera-hour")
        log = frame_log_bytes_per_hour(work)
        print(f"  frame log (2 fps, 3 boxes): {log / 1e6:.1f} MB per camera-hour (SQLite)")
        report_export(work, args.minutes)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
