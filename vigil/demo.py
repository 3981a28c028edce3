"""`vigil demo`: a sample video made from real photos that ultralytics ships.

bus.jpg and zidane.jpg show people without helmets; each is held for a few seconds with a slow
zoom, so the tracker sees motion and the rules see persistence.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import cv2
import numpy as np

from vigil.events.evidence import ClipEncoder

SIZE = (960, 540)  # width, height: the sample config's zone is drawn in these pixels
FPS = 10
SECONDS_PER_PHOTO = 5.0
PHOTOS = ("bus.jpg", "zidane.jpg")


def sample_config_path() -> Path:
    return Path(str(files("vigil") / "samples" / "demo.yaml"))


def _photo(name: str) -> np.ndarray:
    from ultralytics.utils import ASSETS

    image = cv2.imread(str(ASSETS / name))
    if image is None:
        raise FileNotFoundError(f"ultralytics' sample photo {name} is missing from {ASSETS}")
    return image


def _fit(image: np.ndarray, zoom: float) -> np.ndarray:
    """The photo scaled by ``zoom`` around its centre, letterboxed onto the canvas."""
    width, height = SIZE
    scale = min(width / image.shape[1], height / image.shape[0]) * zoom
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    canvas = np.zeros((height, width, 3), np.uint8)
    rh, rw = resized.shape[:2]
    # Crop what overflows, centre what does not.
    sy, sx = max(0, (rh - height) // 2), max(0, (rw - width) // 2)
    crop = resized[sy : sy + height, sx : sx + width]
    oy, ox = (height - crop.shape[0]) // 2, (width - crop.shape[1]) // 2
    canvas[oy : oy + crop.shape[0], ox : ox + crop.shape[1]] = crop
    return canvas


def make_sample_video(out: Path) -> Path:
    """Write the sample video to ``out`` (H.264 MP4) unless it is already there."""
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    steps = int(SECONDS_PER_PHOTO * FPS)
    with ClipEncoder(out, FPS) as encoder:
        for n, name in enumerate(PHOTOS):
            photo = _photo(name)
            for i in range(steps):
                encoder.write(_fit(photo, 1.0 + 0.08 * i / steps), (n * steps + i) / FPS)
    return out
