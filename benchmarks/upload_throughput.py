"""How fast the media upload queue empties into an S3-compatible store on loopback (moto's
server, tests/s3server.py): recording segments (``--segment-mb``, 3.5 MB is a 60 s segment at
0.21 GB per camera-hour) and snapshots (``--snapshot-kb``), each PUT with its MD5, checked by a
HEAD (size and ETag) and the staged copy removed, one at a time as the uploader does. Also the
backlog a 15 s outage leaves and how long it takes to drain.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/upload_throughput.py --segments 40 --snapshots 200
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from s3server import S3Server  # noqa: E402

from vigil.events.objectstore import ObjectStore  # noqa: E402
from vigil.events.uploads import MediaUploader  # noqa: E402


def stage(data: Path, count: int, size: int, kind: str) -> list[Path]:
    paths = []
    for i in range(count):
        suffix = "mp4" if kind == "recordings" else "jpg"
        path = data / kind / "cam" / "2026-11-30" / f"{i:05d}.{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
        paths.append(path)
    return paths


def drain(uploader: MediaUploader, paths: list[Path]) -> float:
    target = uploader.uploaded + len(paths)
    began = time.monotonic()
    for path in paths:
        uploader.enqueue(path)
    while uploader.uploaded < target:
        time.sleep(0.01)
    return time.monotonic() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, default=40)
    parser.add_argument("--segment-mb", type=float, default=3.5)
    parser.add_argument("--snapshots", type=int, default=200)
    parser.add_argument("--snapshot-kb", type=float, default=60)
    args = parser.parse_args()
    with S3Server() as s3, tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        uploader = MediaUploader(ObjectStore(s3.settings()), data, sweep_on_start=False)
        uploader.start()
        drain(uploader, stage(data, 2, 1000, "media"))  # bucket made, connection warm
        segment_bytes = int(args.segment_mb * 1e6)
        seconds = drain(uploader, stage(data, args.segments, segment_bytes, "recordings"))
        mb = args.segments * segment_bytes / 1e6
        print(
            f"segments: {args.segments} x {args.segment_mb} MB in {seconds:.1f} s: "
            f"{mb / seconds:.1f} MB/s, {args.segments / seconds:.1f} files/s"
        )
        snap_bytes = int(args.snapshot_kb * 1e3)
        seconds = drain(uploader, stage(data, args.snapshots, snap_bytes, "media"))
        print(
            f"snapshots: {args.snapshots} x {args.snapshot_kb:g} kB in {seconds:.1f} s: "
            f"{args.snapshots / seconds:.0f} files/s"
        )
        s3.stop()
        backlog = stage(data, 20, segment_bytes, "recordings")
        for path in backlog:
            uploader.enqueue(path)
        time.sleep(15)
        waiting = uploader.pending
        s3.resume()
        began = time.monotonic()
        while uploader.pending:
            time.sleep(0.01)
        print(
            f"outage 15 s: {waiting} files waited ({uploader.failures} failed attempts); "
            f"drained {time.monotonic() - began:.1f} s after the store came back "
            f"(backoff capped at {uploader.backoff.cap:g} s)"
        )
        uploader.close(5)


if __name__ == "__main__":
    main()
