"""Photos uploaded to the hazard loop: size-limited, decoded to prove they are images, and
stored re-encoded as JPEG under ``media/photos/<id[:2]>/<id>.jpg``: by id, never by a client's
file name, and without the phone's metadata (a photo's EXIF can hold where it was taken).

>>> import tempfile, cv2, numpy as np
>>> root = Path(tempfile.mkdtemp())
>>> ok, jpeg = cv2.imencode(".jpg", np.zeros((48, 64, 3), np.uint8))
>>> saved = save_photo(root, jpeg.tobytes(), "ab" * 16)
>>> (saved.width, saved.height, saved.path.relative_to(root).as_posix())
(64, 48, 'photos/ab/abababababababababababababababab.jpg')
>>> save_photo(root, b"GIF89a...", "cd" * 16)
Traceback (most recent call last):
...
vigil.api.photos.NotAnImage: the photo must be a JPEG or PNG image
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
MAX_PIXELS = 50_000_000  # a decompression bomb stops here


class NotAnImage(ValueError):
    """The upload is not an image we take (status: 415 wrong type, 422 undecodable)."""

    def __init__(self, detail: str, status: int) -> None:
        super().__init__(detail)
        self.status = status


@dataclass(frozen=True, slots=True)
class SavedPhoto:
    path: Path
    width: int
    height: int
    size: int
    sha256: str


def save_photo(media_root: Path, data: bytes, photo_id: str) -> SavedPhoto:
    """Decode ``data`` (JPEG or PNG) and store it re-encoded; raises :class:`NotAnImage`."""
    if not data.startswith(_SIGNATURES):
        raise NotAnImage("the photo must be a JPEG or PNG image", 415)
    buffer = np.frombuffer(data, np.uint8)
    image = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise NotAnImage("the photo could not be decoded: a damaged or truncated image", 422)
    height, width = image.shape[:2]
    if width * height > MAX_PIXELS:
        raise NotAnImage(f"the photo is too large: {width}x{height} pixels", 422)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise NotAnImage("the photo could not be re-encoded", 422)
    blob = encoded.tobytes()
    path = media_root / "photos" / photo_id[:2] / f"{photo_id}.jpg"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part")
    partial.write_bytes(blob)
    os.replace(partial, path)  # never a half-written photo under its final name
    return SavedPhoto(path, width, height, len(blob), hashlib.sha256(blob).hexdigest())
