"""Build the no_vest slideshow clips from medoju's valid split (no real footage shows workers
without hi-vis vests; the issue allows slideshows of the shared data where real clips lack).

Two clips of 640x640 stills, 2 s each, 10 fps, H.264: ``site_no_vest_slideshow_01.mp4`` holds
six stills of workers without a vest (every person on them is boxed ``NO-Safety Vest`` by the
source, or is hidden), ``site_vest_slideshow_01.mp4`` eleven of workers who all wear one, so
that its seconds are clean footage (a slide's track can outlive a hard cut by the rule's
``end_after``, so mixing the two would hide false alarms on the vest slides). Every still is
from the test half of medoju valid (``--part 1/2``, never trained on; the same source as the
training images). Checked by eye; the ground truth is ``datasets/ground_truth/composite/``. The
clips are written outside the repository (the shared data is never copied in)::

    python datasets/recipes/vest_slideshow.py ~/.cache/vigil/clips
    vigil eval videos --gt datasets/ground_truth/composite --videos ~/.cache/vigil/clips ...
"""

from __future__ import annotations

import argparse
from fractions import Fraction
from pathlib import Path

import av
import cv2

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
VALID = SHARED / "helmet" / "construction_site_safety_v28_medoju" / "valid" / "images"
FPS, SECONDS, SIZE = 10, 2, 640
# clip name -> (image name prefix, what it shows), in slide order; prefixes are unique in
# medoju valid.
CLIPS = {
    "site_no_vest_slideshow_01.mp4": (
        ("-1429-_png_jpg.rf.78a7", "building site, three workers in hard hats, no vests"),
        ("-1989-_png_jpg.rf.8cb3", "visitors in red hard hats, dark coats"),
        ("-3154-_png_jpg.rf.f118", "framer in a white shirt and yellow hard hat"),
        ("004424_jpg.rf.0470", "climber in camouflage on a pole"),
        ("00596_jpg.rf.d030", "three men in hard hats, shirts and jackets"),
        ("class1_206_jpg.rf.3988", "two workers on a stepladder"),
    ),
    "site_vest_slideshow_01.mp4": (
        ("ppe_1228_jpg.rf.29b7", "engineer in a red hard hat and reflective jacket"),
        ("youtube-179_jpg.rf.bab3", "worker in a striped hi-vis vest beside a car"),
        ("youtube-226_jpg.rf.e6dc", "worker in a yellow hi-vis vest, from behind"),
        ("youtube-391_jpg.rf.2744", "worker in a yellow vest at a framed wall"),
        ("youtube-455_jpg.rf.35ac", "two roofers in vests and harnesses"),
        ("youtube-617_jpg.rf.309e", "two workers in vests, indoor framing"),
        ("youtube-200_jpg.rf.2c8a", "worker in a hard hat and vest, from behind"),
        ("youtube-287_jpg.rf.c9a7", "small worker in a vest between wall studs"),
        ("youtube-504_jpg.rf.2377", "worker in a vest and harness on a scaffold"),
        ("youtube-697_jpg.rf.950b", "worker in a vest beside a trench and an excavator"),
        ("youtube-836_jpg.rf.df6f", "worker in a vest beside a pickup"),
    ),
}


def slide_image(prefix: str) -> Path:
    """The one valid image whose name starts with ``prefix``."""
    found = sorted(VALID.glob(f"{prefix}*"))
    if len(found) != 1:
        raise SystemExit(f"{prefix}: {len(found)} images in {VALID}, expected 1")
    return found[0]


def build(out_dir: Path) -> list[Path]:
    """Write every clip into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return [build_clip(out_dir / name, slides) for name, slides in CLIPS.items()]


def build_clip(path: Path, slides: tuple[tuple[str, str], ...]) -> Path:
    """One clip of ``slides``, written whole or not at all."""
    partial = path.with_suffix(".part.mp4")
    try:
        with av.open(str(partial), "w", format="mp4", options={"movflags": "faststart"}) as clip:
            stream = clip.add_stream("libx264", rate=Fraction(FPS), options={"crf": "23"})
            stream.width = stream.height = SIZE
            stream.pix_fmt = "yuv420p"
            for prefix, _ in slides:
                image = cv2.resize(cv2.imread(str(slide_image(prefix))), (SIZE, SIZE))
                frame = av.VideoFrame.from_ndarray(
                    cv2.cvtColor(image, cv2.COLOR_BGR2RGB), format="rgb24"
                )
                for _ in range(FPS * SECONDS):
                    clip.mux(stream.encode(frame))
            clip.mux(stream.encode())
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="folder for the clips (outside the repository)")
    for path in build(parser.parse_args().out_dir):
        print(path)


if __name__ == "__main__":
    main()
