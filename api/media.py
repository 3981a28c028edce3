"""Where an event's media lies on disk: always from the store's row, and only inside the data
dir's media folder (a row pointing anywhere else is not served). With an object store
(``storage.media_url``), a file no longer staged on disk is served from the store: streamed
through the API (HTTP Range passed on, so a browser's video player seeks) or, with
``media_serve: redirect``, by a redirect to a short-lived signed URL.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp()) / "media"
>>> (root / "gate-3" / "2026-01-02").mkdir(parents=True)
>>> _ = (root / "gate-3" / "2026-01-02" / "ab.mp4").write_bytes(b"x")
>>> media_file(root, Path("/elsewhere/vigil-data/media/gate-3/2026-01-02/ab.mp4")).name
'ab.mp4'
>>> media_file(root, Path("/etc/passwd")) is None
True
>>> data_relative(Path("/x/vigil-data/media/gate-3/2026-01-02/ab.mp4"))
'media/gate-3/2026-01-02/ab.mp4'
>>> data_relative(Path("recordings/gate-3/2026-01-02/120000.mp4"))
'recordings/gate-3/2026-01-02/120000.mp4'
>>> data_relative(Path("/etc/passwd")) is None
True
>>> parse_range("bytes=100-199", 1000), parse_range("bytes=5-", 10), parse_range("bytes=-5", 10)
((100, 199), (5, 9), (5, 9))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from fastapi import HTTPException, Request, status
from fastapi.responses import FileResponse, RedirectResponse, Response, StreamingResponse

from vigil.events.objectstore import ObjectStore, StoreUnavailable
from vigil.events.uploads import MediaUploader

# media/<camera>/<day>/<file>: the layout events/evidence.py writes (photos: media/photos/ab/id,
# recordings: recordings/<camera>/<day>/<file>).
_LAYOUT_DEPTH = 4
_STAGED_ROOTS = ("media", "recordings")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
CACHE = "private, max-age=3600"


@dataclass(frozen=True, slots=True)
class MediaSource:
    """The object store an app serves media from once they are no longer staged."""

    store: ObjectStore
    serve: Literal["stream", "redirect"] = "stream"
    uploader: MediaUploader | None = None  # uploads what the API itself stages (photos)


def data_relative(stored: Path) -> str | None:
    """The data-folder path (and so the object key's tail) of a stored media path."""
    parts = stored.parts
    if len(parts) >= _LAYOUT_DEPTH and parts[-_LAYOUT_DEPTH] in _STAGED_ROOTS:
        tail = parts[-_LAYOUT_DEPTH:]
        if all(p not in ("", ".", "..") for p in tail):
            return "/".join(tail)
    return None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte span of a single ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` range
    of an object of ``size`` bytes (the end clipped to the object); None for no header.
    ValueError for a header we do not serve (another unit, several ranges); an empty span
    ``(start, start - 1)`` when the range starts past the end (416)."""
    if header is None:
        return None
    match = _RANGE.fullmatch(header.strip())
    if not match or not (match.group(1) or match.group(2)):
        raise ValueError(header)
    first, last = match.group(1), match.group(2)
    if not first:  # the last n bytes
        return max(0, size - int(last)), size - 1
    start = int(first)
    if start >= size:
        return start, start - 1
    end = size - 1 if not last else min(int(last), size - 1)
    if end < start:
        raise ValueError(header)
    return start, end


def serve_media(
    request: Request,
    media_root: Path,
    objects: MediaSource | None,
    stored: Path | None,
    media_type: str,
    missing: str,
) -> Response:
    """The response for a stored media path: the staged file while it is on disk, else the
    object (see the module); 404 with ``missing`` when neither has it, 503 when the store
    does not answer."""
    path = media_file(media_root, stored)
    if path is not None:
        return FileResponse(
            path,
            media_type=media_type,
            headers={"Cache-Control": CACHE},
            content_disposition_type="inline",
        )
    relative = None if stored is None else data_relative(stored)
    if objects is None or relative is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, missing)
    key = objects.store.key_for(relative)
    try:
        if objects.serve == "redirect":
            if objects.store.head(key) is None:
                raise HTTPException(status.HTTP_404_NOT_FOUND, missing)
            return RedirectResponse(
                objects.store.presigned_url(key), status.HTTP_307_TEMPORARY_REDIRECT
            )
        return _stream(request, objects.store, key, media_type, missing)
    except StoreUnavailable:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE, "the media store does not answer; try again"
        ) from None


def _stream(
    request: Request, store: ObjectStore, key: str, media_type: str, missing: str
) -> Response:
    info = store.head(key)
    if info is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, missing)
    headers = {"Accept-Ranges": "bytes", "Cache-Control": CACHE, "ETag": f'"{info.etag}"'}
    try:
        wanted = parse_range(request.headers.get("range"), info.size)
    except ValueError:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "a single bytes range only") from None
    start, end, code = 0, info.size - 1, status.HTTP_200_OK
    if wanted is not None:
        start, end = wanted
        if end < start:
            headers["Content-Range"] = f"bytes */{info.size}"
            return Response(status_code=status.HTTP_416_RANGE_NOT_SATISFIABLE, headers=headers)
        code = status.HTTP_206_PARTIAL_CONTENT
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    headers["Content-Length"] = str(end - start + 1)
    if request.method == "HEAD" or info.size == 0:
        return Response(status_code=code, headers=headers, media_type=media_type)
    chunks, _ = store.open_range(key, start, end)
    return StreamingResponse(chunks, status_code=code, headers=headers, media_type=media_type)


def media_file(media_root: Path, stored: Path | None) -> Path | None:
    """The file the stored path names, if it is a regular file inside ``media_root``.

    The stored path is tried as written (relative to the working directory when relative) and,
    when the data dir has moved or was named relative to another directory, by its
    ``media/<camera>/<day>/<file>`` tail under ``media_root``. Symbolic links are resolved
    before the check, so a link out of the folder is refused as well.
    """
    if stored is None:
        return None
    root = media_root.resolve()
    candidates = [stored]
    parts = stored.parts
    if len(parts) >= _LAYOUT_DEPTH and parts[-_LAYOUT_DEPTH] == "media":
        candidates.append(root.joinpath(*parts[-_LAYOUT_DEPTH + 1 :]))
    for candidate in candidates:
        try:
            path = candidate.resolve(strict=True)
        except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL byte
            continue
        if path.is_relative_to(root) and path.is_file():
            return path
    return None
