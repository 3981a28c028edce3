"""Model CPU with motion gating, with and without motion regions (gating ``crop``, issue 16).

Every clip of ``--videos`` is sampled at the camera's fps (2) and analysed by the real pipeline
(the default rules' models: fall, site_ppe, fire_smoke; trackers, rules) with the site's gating,
once with ``crop`` off and once on (``--naive`` adds the stack without gating). Each model's
process CPU is measured around every call, whole frame or crop, so the figure is model time
only (decoding, motion and tracking are not in it). Event recall is `vigil eval videos
--gating` (with ``-c datasets/configs/gating_crop.yaml`` for the regions), not this script.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python benchmarks/motion_regions.py --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import supervision as sv

from vigil.config import load_detect_site
from vigil.detector.detector import Detector, set_inference_threads
from vigil.gating import GatingSettings
from vigil.pipeline import CameraPipeline, build_rules, cards_for_rules, load_detectors
from vigil.regions import Region, input_scale
from vigil.streams.file import FileSource, Sampler
from vigil.streams.frame import Frame

ROOT = Path(__file__).resolve().parents[1]


class Timed:
    """A detector that adds up its process CPU, calls and input pixels, whole frame or crop."""

    def __init__(self, detector: Detector) -> None:
        self.inner, self.card, self.name = detector, detector.card, detector.name
        self.cpu = {"full": 0.0, "crop": 0.0}
        self.calls = {"full": 0, "crop": 0}

    def _timed(self, kind: str, run):
        began = time.process_time()
        found = run()
        self.cpu[kind] += time.process_time() - began
        self.calls[kind] += 1
        return found

    def __call__(self, image: np.ndarray) -> sv.Detections:
        return self._timed("full", lambda: self.inner(image))

    def at_size(self, image: np.ndarray, imgsz: int) -> sv.Detections:
        return self._timed("crop", lambda: self.inner.at_size(image, imgsz))  # type: ignore[attr-defined]

    def batch(self, images: list[np.ndarray]) -> list[sv.Detections]:
        return [self(image) for image in images]


def clip_frames(video: Path, fps: float) -> list[Frame]:
    sampler = Sampler(fps)
    return [f for f in FileSource(video) if sampler.take(f.pts)]


def run(videos: list[Path], gating: GatingSettings | None, fps: float) -> dict:
    site = load_detect_site(None)
    rules = build_rules(site.camera.rules)
    cards = cards_for_rules(rules, site.models.cards())
    models = [Timed(d) for d in load_detectors(cards)]
    frames = regions = 0
    for video in videos:
        pipeline = CameraPipeline(video.stem, rules, models, fps=fps, gating=gating)  # type: ignore[arg-type]
        for frame in clip_frames(video, fps):
            pipeline.analyse(frame)
            frames += 1
        if pipeline.gate is not None:
            regions += sum(pipeline.gate.cropped.values())
    per_model = {
        m.name: {
            "cpu_s": round(m.cpu["full"] + m.cpu["crop"], 2),
            "full_calls": m.calls["full"],
            "crop_calls": m.calls["crop"],
            "full_cpu_s": round(m.cpu["full"], 2),
            "crop_cpu_s": round(m.cpu["crop"], 2),
        }
        for m in models
    }
    total = sum(m["cpu_s"] for m in per_model.values())
    return {
        "frames": frames,
        "model_cpu_s": round(total, 2),
        "model_cpu_ms_per_frame": round(1000 * total / max(frames, 1), 1),
        "frames_on_regions": regions,
        "models": per_model,
    }


def crop_cost(video: Path, sides: tuple[int, ...] = (160, 256, 352), reps: int = 5) -> dict:
    """Per model: median process CPU of a full pass on ``video``'s first sampled frame and of
    square crops of it (frame pixels), each at the full pass's scale: what a region costs."""
    site = load_detect_site(None)
    cards = cards_for_rules(build_rules(site.camera.rules), site.models.cards())
    image = clip_frames(video, 2.0)[0].image
    shape = image.shape[:2]
    out: dict[str, dict[str, float]] = {}
    for detector in load_detectors(cards):
        scale = input_scale(shape, detector.card.imgsz)
        runs = {"full": lambda d=detector: d(image)}
        for side in sides:
            region = Region(0, 0, side, side, max(32, -(-round(side * scale) // 32) * 32))
            runs[f"crop{side}"] = lambda d=detector, r=region: d.at_size(r.crop(image), r.imgsz)
        row = {}
        for name, call in runs.items():
            call()  # warm-up
            cpu = []
            for _ in range(reps):
                began = time.process_time()
                call()
                cpu.append(time.process_time() - began)
            row[name] = round(1000 * float(np.median(cpu)), 1)
        out[detector.name] = row
    return out


def freeze(video: Path, out_dir: Path, pad: float = 0.25) -> Path:
    """A fixed-camera version of ``video``: every frame is its first frame, but for the
    padded boxes of the people the fall model finds in it (conf 0.25), taken from the frame
    itself. The clip's ground truth still holds (the people do what they did); only the scene
    around them stops moving. Written as MPEG-4 at the clip's frame rate."""
    import cv2

    from vigil.detector.cards import load_cards
    from vigil.detector.detector import load_detector

    detector = load_detector(load_cards()["fall"])
    source = list(FileSource(video))
    background = source[0].image
    h, w = background.shape[:2]
    rate = (len(source) - 1) / max(source[-1].pts - source[0].pts, 1e-6)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / video.name
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), rate, (w, h))
    for frame in source:
        image = background.copy()
        for x1, y1, x2, y2 in detector(frame.image).xyxy:
            dx, dy = pad * (x2 - x1), pad * (y2 - y1)
            a, b = int(max(0, x1 - dx)), int(max(0, y1 - dy))
            c, d = int(min(w, x2 + dx)), int(min(h, y2 + dy))
            image[b:d, a:c] = frame.image[b:d, a:c]
        writer.write(image)
    writer.release()
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=Path, default=ROOT.parent / "shared/data/videos")
    ap.add_argument("--fps", type=float, default=2.0)
    ap.add_argument("--crop-max-area", type=float, default=0.5)
    ap.add_argument("--naive", action="store_true", help="also every model on every frame")
    ap.add_argument("--json", type=Path, help="write the figures here too")
    ap.add_argument("--cost-only", action="store_true", help="only the per-call crop costs")
    ap.add_argument(
        "--freeze", type=Path, help="write fixed-camera versions of the clips here, then stop"
    )
    args = ap.parse_args()
    set_inference_threads(1)
    videos = sorted(args.videos.glob("*.mp4"))
    if args.freeze:
        for video in videos:
            print(freeze(video, args.freeze))
        return
    site_gating = load_detect_site(None).gating_of(load_detect_site(None).camera).settings()
    report: dict = {"crop_cost_ms": crop_cost(videos[0])}
    if args.cost_only:
        print(json.dumps(report, indent=2))
        return
    variants: dict[str, GatingSettings | None] = {
        "gated": dataclasses.replace(site_gating, crop=False),
        "gated_crop": dataclasses.replace(site_gating, crop=True, crop_max_area=args.crop_max_area),
    }
    if args.naive:
        variants["naive"] = None
    report |= {name: run(videos, gating, args.fps) for name, gating in variants.items()}
    gated, crop = report["gated"]["model_cpu_s"], report["gated_crop"]["model_cpu_s"]
    report["crop_saves"] = round(1 - crop / gated, 3) if gated else None
    text = json.dumps(report, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
