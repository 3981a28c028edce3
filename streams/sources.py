"""Where a camera's frames come from: a source string parsed into a :class:`SourceSpec`.

Accepted sources:

- ``rtsp://[user:password@]host[:port]/path`` (and ``rtsps://``): TCP by default, UDP on request;
- ``http(s)://…``: anything FFmpeg reads over HTTP (MJPEG, HLS playlists, MPEG-TS, …);
- a local video file (a path, or ``file:///path``): read in order, or looped to simulate a camera;
- a folder of images (jpg, png, bmp, webp), in name order;
- a webcam: ``webcam:0``, ``0`` (an index) or ``/dev/video0``.

>>> parse_source("rtsp://admin:s3cret@10.0.0.7:554/stream1").kind
'rtsp'
>>> parse_source("rtsp://admin:s3cret@10.0.0.7:554/stream1?token=T").display
'rtsp://admin:***@10.0.0.7:554/stream1?token=***'
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
from urllib.parse import urlsplit

from vigil.streams.file import SourceError, local_url

SourceKind = Literal["rtsp", "http", "file", "images", "webcam"]
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp"})
_WEBCAM = re.compile(r"^(?:webcam:)?(\d{1,3})$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# Parameter names whose values are credentials: token, access_token, apikey, api_key, auth,
# password, passwd, pwd, secret, signature, sig, X-Amz-Credential, session, jwt, …
_SECRET_NAME = re.compile(r"token|key|auth|pass|pwd|secret|sig|credential|session|jwt|cookie", re.I)
_PARAM = re.compile(r"([^=&;/?#]+)=([^&;#]*)")
_PATH_PARAM = re.compile(r"([^=&;/?#]+)=([^&;/?#]*)")


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
    def ffmpeg_url(self) -> str:
        """What FFmpeg opens: a local file through the ``file:`` protocol (a file named
        ``concat:a|b`` is that file), anything else as given."""
        return local_url(self.url) if self.kind == "file" else self.url

    @property
    def live(self) -> bool:
        """Live sources run on the wall clock and keep only the newest frame; recorded
        files and folders are read in order unless looped (a simulated camera)."""
        return self.kind in ("rtsp", "http", "webcam") or self.loop


def redact(url: str) -> str:
    """``url`` as it may be shown and stored: credentials replaced by ``***``.

    Masked: the password of ``user:password@`` (the user name stays), a user-only
    ``key@`` whole, and the value of every query or path parameter whose name looks like a
    credential (token, key, auth, password, signature, …). The URL need not be valid: an
    unparseable one is masked by the same reading.

    >>> redact("rtsp://viewer:PASS@host/s?token=T&channel=1")
    'rtsp://viewer:***@host/s?token=***&channel=1'
    >>> redact("rtsp://APIKEY@host/s")
    'rtsp://***@host/s'
    >>> redact("http://cam/user=admin&password=pw/video.cgi")
    'http://cam/user=admin&password=***/video.cgi'
    """
    scheme = _SCHEME.match(url)
    if not scheme:
        return url
    rest = url[scheme.end() :]
    # The userinfo ends at the last '@' before the query: a password with an unescaped '/'
    # or '@' is still masked whole.
    at = rest.rfind("@", 0, rest.find("?") if "?" in rest else len(rest))
    if at >= 0:
        user, colon, _ = rest[:at].partition(":")
        masked = f"{user}:***" if colon and "/" not in user else "***"
        rest = masked + rest[at:]
    path, question, query = rest.partition("?")
    path = _PATH_PARAM.sub(_mask_param, path)
    query = _PARAM.sub(_mask_param, query)
    return scheme.group(0) + path + question + query


def _mask_param(match: re.Match[str]) -> str:
    name = match.group(1)
    return f"{name}=***" if _SECRET_NAME.search(name) else match.group(0)


def parse_source(
    text: str,
    *,
    transport: Literal["tcp", "udp"] = "tcp",
    loop: bool = False,
    base: Path | None = None,
    field: str = "source",
) -> SourceSpec:
    """Check a source string and say what kind it is; :class:`SourceError` (one line, naming
    ``field``) if it cannot be a source. Files and folders must exist (a relative path is taken
    from ``base``, the site file's folder, when given); network sources are not contacted.

    >>> parse_source("rtsp://cam/x y", field="detect_source")
    Traceback (most recent call last):
    ...
    vigil.streams.file.SourceError: detect_source 'rtsp://cam/x y': URL contains whitespace
    """
    text = str(text).strip()
    shown = redact(text)
    if not text:
        raise SourceError(f"{field} is empty")
    webcam = _WEBCAM.match(text)
    if webcam:
        url = f"/dev/video{int(webcam.group(1))}"
        return SourceSpec("webcam", url, url)
    if text.startswith("/dev/video"):
        return SourceSpec("webcam", text, text)
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in ("rtsp", "rtsps", "http", "https"):
        _check_url(text, shown, field)
        kind: SourceKind = "rtsp" if scheme.startswith("rtsp") else "http"
        if transport != "tcp" and kind != "rtsp":
            raise SourceError(f"{field} {shown!r}: transport {transport!r} applies to rtsp only")
        return SourceSpec(kind, text, shown, transport=transport, loop=False)
    if scheme == "file":
        text = urlsplit(text).path
    elif scheme:
        raise SourceError(
            f"{field} {shown!r}: unsupported scheme {scheme!r} (use rtsp://, http(s)://, "
            "a video file, a folder of images or webcam:N)"
        )
    path = Path(text).expanduser()
    if base is not None and not path.is_absolute():
        path = base / path
    if not path.exists():
        looked = f" (looked for {path})" if str(path) != text else ""
        raise SourceError(f"{field} {shown!r}: no such file or folder{looked}")
    if path.is_dir():
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir()):
            raise SourceError(f"{field} {shown!r}: folder holds no images (jpg, png, bmp, webp)")
        return SourceSpec("images", str(path), str(path), loop=loop)
    return SourceSpec("file", str(path), str(path), loop=loop)


def _check_url(text: str, shown: str, field: str = "source") -> None:
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        reason = str(exc).replace(text, shown)
        raise SourceError(f"{field} {shown!r}: not a valid URL ({reason})") from None
    if not parts.hostname:
        raise SourceError(f"{field} {shown!r}: URL has no host")
    if port == 0:
        raise SourceError(f"{field} {shown!r}: port 0 is not a valid port")
    if any(c.isspace() for c in text):
        raise SourceError(f"{field} {shown!r}: URL contains whitespace")
