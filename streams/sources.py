"""Where a camera's frames come from: a source string parsed into a :class:`SourceSpec`.

Accepted sources:

- ``rtsp://[user:password@]host[:port]/path`` (and ``rtsps://``): TCP by default, UDP on request;
- ``http(s)://…``: anything FFmpeg reads over HTTP (MJPEG, HLS playlists, MPEG-TS, …);
- a local video file (a path, or ``file:///path``): read in order, or looped to simulate a camera;
- a folder of images (jpg, png, bmp, webp), in name order;
- a webcam: ``webcam:0``, ``0`` (an index) or ``/dev/video0``.

>>> parse_source("rtsp://admin:s3cret@10.0.0.7:554/stream1").kind
'rtsp'
>>> parse_source("rtsp://admin:s3cret@10.0.0.7:554/stream1").display
'rtsp://admin:***@10.0.0.7:554/stream1'
>>> parse_source("webcam:1").url
'/dev/video1'
>>> try:
...     parse_source("ftp://host/x")
... except SourceError as exc:
...     print(str(exc).split(" (")[0])
source 'ftp://host/x': unsupported scheme 'ftp'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from vigil.streams.file import SourceError

SourceKind = Literal["rtsp", "http", "file", "images", "webcam"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_WEBCAM = re.compile(r"^(?:webcam:)?(\d{1,3})$")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """A parsed source. ``url`` is what the reader opens (credentials included); ``display``
    is the same with the password masked, for logs, health and events."""

    kind: SourceKind
    url: str
    display: str
    transport: Literal["tcp", "udp"] = "tcp"
    loop: bool = False

    @property
    def live(self) -> bool:
        """Live sources run on the wall clock and keep only the newest frame; recorded
        files and folders are read in order unless looped (a simulated camera)."""
        return self.kind in ("rtsp", "http", "webcam") or self.loop


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``.

    >>> redact("http://u:p@h/x?token=1")
    'http://u:***@h/x?token=1'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if _port(parts) else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _port(parts) -> int | None:
    try:
        return parts.port
    except ValueError:
        return None


def parse_source(
    text: str, *, transport: Literal["tcp", "udp"] = "tcp", loop: bool = False
) -> SourceSpec:
    """Check a source string and say what kind it is; :class:`SourceError` (one line) if it
    cannot be a source. Files and folders must exist; network sources are not contacted."""
    text = str(text).strip()
    shown = redact(text)
    if not text:
        raise SourceError("source is empty")
    webcam = _WEBCAM.match(text)
    if webcam:
        url = f"/dev/video{int(webcam.group(1))}"
        return SourceSpec("webcam", url, url)
    if text.startswith("/dev/video"):
        return SourceSpec("webcam", text, text)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("rtsp", "rtsps", "http", "https"):
        _check_url(text, shown)
        kind: SourceKind = "rtsp" if scheme.startswith("rtsp") else "http"
        if transport != "tcp" and kind != "rtsp":
            raise SourceError(f"source {shown!r}: transport {transport!r} applies to rtsp only")
        return SourceSpec(kind, text, shown, transport=transport, loop=False)
    if scheme == "file":
        text = urlsplit(text).path
    elif scheme:
        raise SourceError(
            f"source {shown!r}: unsupported scheme {scheme!r} (use rtsp://, http(s)://, "
            "a video file, a folder of images or webcam:N)"
        )
    path = Path(text).expanduser()
    if not path.exists():
        raise SourceError(f"source {shown!r}: no such file or folder")
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise SourceError(f"source {shown!r}: folder holds no images (jpg, png, bmp, webp)")
        return SourceSpec("images", str(path), str(path), loop=loop)
    return SourceSpec("file", str(path), str(path), loop=loop)


def _check_url(text: str, shown: str) -> None:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise SourceError(f"source {shown!r}: not a valid URL ({exc})") from None
    if not parts.hostname:
        raise SourceError(f"source {shown!r}: URL has no host")
    if port == 0:
        raise SourceError(f"source {shown!r}: port 0 is not a valid port")
    if any(c.isspace() for c in text):
        raise SourceError(f"source {shown!r}: URL contains whitespace")
