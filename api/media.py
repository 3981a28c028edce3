"""Where an event's media lies on disk: always from the store's row, and only inside the data
dir's media folder (a row pointing anywhere else is not served).

>>> import tempfile
>>> root = Path(tempfile.mkdtemp()) / "media"
>>> (root / "gate-3" / "2026-01-02").mkdir(parents=True)
>>> _ = (root / "gate-3" / "2026-01-02" / "ab.mp4").write_bytes(b"x")
>>> media_file(root, Path("/elsewhere/vigil-data/media/gate-3/2026-01-02/ab.mp4")).name
'ab.mp4'
>>> media_file(root, Path("/etc/passwd")) is None
True
"""

from __future__ import annotations

from pathlib import Path

# media/<camera>/<day>/<file>: the layout events/evidence.py writes.
_LAYOUT_DEPTH = 4


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
