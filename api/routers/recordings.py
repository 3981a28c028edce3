"""Continuous recordings: what exists per camera, HLS replay, export jobs, and search over
what the models saw (the core lives in :mod:`vigil.events.replay`, :mod:`vigil.events.seen`
and :mod:`vigil.events.exports`; this is only HTTP).

Replay: ``GET /cameras/{id}/recordings/playlist.m3u8?start&end`` is an HLS VOD playlist whose
segments (``segments/{segment}.ts``, relative to it) are the recorded MP4 segments remuxed to
MPEG-TS on the fly, not re-encoded: hls.js and Safari play it, with each segment's
``#EXT-X-PROGRAM-DATE-TIME`` so a player can jump to a wall time.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response, status
from fastapi import Path as PathParam
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from vigil.events.evidence import EvidenceError
from vigil.events.exports import ExportJob, ExportJobs
from vigil.events.replay import hls_playlist, recorded_spans, segment_ts
from vigil.events.seen import search_seen
from vigil.events.store.recordings import RecordingIndex

from ..accounts import CAMERA_ID_PATTERN
from ..deps import Authenticated, Principal, Svc
from ..schemas import Problem

router = APIRouter(tags=["recordings"])

MAX_RANGE_S = 31 * 86_400.0  # a listing or search covers at most a month
MAX_EXPORT_S = 6 * 3_600.0  # an export at most six hours
DEFAULT_RANGE_S = 86_400.0
HLS_TYPE = "application/vnd.apple.mpegurl"

CameraId = Annotated[str, PathParam(pattern=CAMERA_ID_PATTERN, description="camera id")]
Start = Annotated[
    datetime | None,
    Query(
        description="from this time (ISO 8601 or epoch seconds; no zone: UTC); default: "
        "a day before end"
    ),
]
End = Annotated[
    datetime | None, Query(description="until this time (ISO 8601 or epoch seconds); default: now")
]
NOT_FOUND = {404: {"model": Problem, "description": "no such camera or recording (or not yours)"}}
BAD_RANGE = {422: {"model": Problem, "description": "end not after start, or a range too long"}}


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class SpanOut(_Out):
    start: datetime = Field(description="the span's start")
    end: datetime = Field(description="the span's end")


class SegmentOut(_Out):
    id: int = Field(description="segment id (its TS is segments/{id}.ts beside the playlist)")
    start: datetime = Field(description="the segment's first frame")
    end: datetime = Field(description="the end of its last frame")
    bytes: int = Field(description="size of the MP4 on disk")
    keyframes: int = Field(description="keyframes in the segment (where a cut can start)")


class RecordingsOut(_Out):
    camera: str = Field(description="camera id")
    start: datetime = Field(description="the range asked for: from")
    end: datetime = Field(description="the range asked for: until")
    spans: list[SpanOut] = Field(description="recorded spans; the time between them was not")
    segments: list[SegmentOut] = Field(description="the segments, oldest first")
    playlist: str = Field(description="the HLS playlist of this range (URL path)")


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    camera: str = Field(pattern=CAMERA_ID_PATTERN, description="camera id")
    start: datetime = Field(description="from (ISO 8601; no zone: UTC)")
    end: datetime = Field(description="until (ISO 8601; no zone: UTC)")
    exact: bool = Field(
        False, description="re-encode to cut exactly at start and end; else cut at keyframes"
    )


class ExportOut(_Out):
    id: str = Field(description="the export job's id")
    camera: str = Field(description="camera id")
    start: datetime = Field(description="the range asked for: from")
    end: datetime = Field(description="the range asked for: until")
    exact: bool = Field(description="whether the ends are re-encoded to cut exactly")
    state: str = Field(description="queued, running, done or failed")
    error: str | None = Field(description="why the export failed")
    file_start: datetime | None = Field(description="the time the file's first frame shows")
    file_end: datetime | None = Field(description="the end of the file's last frame")
    bytes: int | None = Field(description="the file's size once done")
    note: str | None = Field(description="what the file lacks: gaps in the recording")
    download: str | None = Field(description="where to get the MP4 once done (URL path)")

    @classmethod
    def of(cls, job: ExportJob, base: str) -> ExportOut:
        r = job.result
        return cls(
            id=job.id,
            camera=job.camera,
            start=_at(job.start),
            end=_at(job.end),
            exact=job.exact,
            state=job.state,
            error=job.error,
            file_start=None if r is None else _at(r.start_wall),
            file_end=None if r is None else _at(r.end_wall),
            bytes=None if r is None else r.path.stat().st_size,
            note=None if r is None else r.note,
            download=None if r is None else f"{base}/exports/{job.id}/download",
        )


class SeenSpanOut(_Out):
    start: datetime = Field(description="the first frame that showed it")
    end: datetime = Field(description="the end of the last frame that showed it")
    frames: int = Field(description="analysed frames that showed it")
    best_confidence: float = Field(description="the highest confidence among them")
    replay: str = Field(description="the HLS playlist of this span (URL path)")


class SearchOut(_Out):
    camera: str = Field(description="camera id")
    label: str = Field(description="what was searched for")
    zone: str | None = Field(description="only inside this zone, if given")
    spans: list[SeenSpanOut] = Field(description="when the models saw it, oldest first")


# --- the recording parts of an app -------------------------------------------------------------

_parts_lock = threading.Lock()


def _parts(request: Request, svc: Svc) -> tuple[RecordingIndex, ExportJobs, Path]:
    """The app's recording index, export jobs and data folder (made on first use)."""
    with _parts_lock:
        parts = getattr(request.app.state, "recordings", None)
        if parts is None:
            data_dir = Path(svc.media_root).parent
            index = RecordingIndex(svc.store)
            parts = (index, ExportJobs(index, data_dir), data_dir)
            request.app.state.recordings = parts
        return parts


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _epoch(moment: datetime) -> float:
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _range(start: datetime | None, end: datetime | None, longest: float) -> tuple[float, float]:
    last = time.time() if end is None else _epoch(end)
    first = last - DEFAULT_RANGE_S if start is None else _epoch(start)
    if not last > first:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "end is not after start")
    if last - first > longest:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"range too long: at most {longest / 3600:g} hours",
        )
    return first, last


def _visible(principal: Principal, camera: str) -> None:
    if not principal.can_see(camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no camera {camera}")


def _playlist_path(base: str, camera: str, first: float, last: float) -> str:
    return (
        f"{base}/cameras/{camera}/recordings/playlist.m3u8"
        f"?start={_at(first).isoformat()}&end={_at(last).isoformat()}".replace("+00:00", "Z")
    )


# --- routes ------------------------------------------------------------------------------------


@router.get(
    "/cameras/{camera_id}/recordings",
    summary="What is recorded of a camera in a range",
    response_model=RecordingsOut,
    responses={**NOT_FOUND, **BAD_RANGE},
)
def list_recordings(
    camera_id: CameraId,
    request: Request,
    svc: Svc,
    principal: Authenticated,
    start: Start = None,
    end: End = None,
) -> RecordingsOut:
    """Recorded spans and segments of the camera between start and end."""
    _visible(principal, camera_id)
    first, last = _range(start, end, MAX_RANGE_S)
    index, _, _ = _parts(request, svc)
    segments = index.segments(camera_id, first, last)
    return RecordingsOut(
        camera=camera_id,
        start=_at(first),
        end=_at(last),
        spans=[SpanOut(start=_at(s.start), end=_at(s.end)) for s in recorded_spans(segments)],
        segments=[
            SegmentOut(
                id=s.id,
                start=_at(s.start_wall),
                end=_at(s.end_wall),
                bytes=s.bytes,
                keyframes=len(s.keyframes),
            )
            for s in segments
        ],
        playlist=_playlist_path(svc.base_url, camera_id, first, last),
    )


@router.get(
    "/cameras/{camera_id}/recordings/playlist.m3u8",
    summary="HLS playlist of a camera's recording",
    response_class=Response,
    responses={
        200: {"content": {HLS_TYPE: {}}, "description": "an HLS VOD playlist (m3u8)"},
        **NOT_FOUND,
        **BAD_RANGE,
    },
)
def playlist(
    camera_id: CameraId,
    request: Request,
    svc: Svc,
    principal: Authenticated,
    start: Start = None,
    end: End = None,
) -> Response:
    """The segments of the range as an HLS VOD playlist (404 when nothing is recorded)."""
    _visible(principal, camera_id)
    first, last = _range(start, end, MAX_RANGE_S)
    index, _, _ = _parts(request, svc)
    segments = index.segments(camera_id, first, last)
    if not segments:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"nothing recorded of {camera_id} then")
    text = hls_playlist(segments, lambda s: f"segments/{s.id}.ts")
    return Response(text, media_type=HLS_TYPE, headers={"Cache-Control": "private, no-cache"})


@router.get(
    "/cameras/{camera_id}/recordings/segments/{segment_id}.ts",
    summary="One recorded segment as MPEG-TS",
    response_class=Response,
    responses={200: {"content": {"video/mp2t": {}}, "description": "MPEG-TS"}, **NOT_FOUND},
)
def segment(
    camera_id: CameraId,
    segment_id: Annotated[int, PathParam(ge=1, description="segment id")],
    request: Request,
    svc: Svc,
    principal: Authenticated,
) -> Response:
    """The segment's H.264 remuxed to MPEG-TS (not re-encoded), for HLS players."""
    _visible(principal, camera_id)
    index, _, data_dir = _parts(request, svc)
    found = index.segment(segment_id)
    if found is None or found.camera != camera_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no segment {segment_id} of {camera_id}")
    try:
        body = segment_ts(data_dir, found)
    except EvidenceError:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"segment {segment_id} is no longer on disk"
        ) from None
    return Response(
        body, media_type="video/mp2t", headers={"Cache-Control": "private, max-age=3600"}
    )


@router.post(
    "/exports",
    summary="Export a range of a camera's recording as one MP4 (a job)",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ExportOut,
    responses={**NOT_FOUND, **BAD_RANGE},
)
def create_export(
    body: ExportIn, request: Request, svc: Svc, principal: Authenticated
) -> ExportOut:
    """Queue the export; poll ``GET /exports/{id}`` until its state is done or failed."""
    _visible(principal, body.camera)
    first, last = _range(body.start, body.end, MAX_EXPORT_S)
    _, jobs, _ = _parts(request, svc)
    job = jobs.submit(body.camera, first, last, exact=body.exact, owner=principal.user.name)
    return ExportOut.of(job, svc.base_url)


def _job(request: Request, svc: Svc, principal: Principal, job_id: str) -> ExportJob:
    _, jobs, _ = _parts(request, svc)
    job = jobs.get(job_id)
    mine = job is not None and (
        job.owner == principal.user.name or principal.user.role.value == "admin"
    )
    if job is None or not mine or not principal.can_see(job.camera):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no export {job_id}")
    return job


JobId = Annotated[str, PathParam(pattern=r"^[0-9a-f]{32}$", description="export job id")]


@router.get(
    "/exports/{job_id}",
    summary="An export job's state",
    response_model=ExportOut,
    responses=NOT_FOUND,
)
def get_export(job_id: JobId, request: Request, svc: Svc, principal: Authenticated) -> ExportOut:
    """Queued, running, done (with its download link) or failed (with the reason)."""
    return ExportOut.of(_job(request, svc, principal, job_id), svc.base_url)


@router.get(
    "/exports/{job_id}/download",
    summary="The exported MP4",
    response_class=FileResponse,
    responses={
        200: {"content": {"video/mp4": {}}, "description": "the H.264 MP4"},
        409: {"model": Problem, "description": "the export is not done (yet)"},
        410: {"model": Problem, "description": "the export's file was removed (too old)"},
        **NOT_FOUND,
    },
)
def download_export(
    job_id: JobId, request: Request, svc: Svc, principal: Authenticated
) -> FileResponse:
    """The file, once the job is done (HTTP Range works)."""
    job = _job(request, svc, principal, job_id)
    if job.state != "done" or job.path is None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"export {job_id} is {job.state}")
    if not job.path.is_file():
        hours = _parts(request, svc)[1].keep_seconds / 3600
        raise HTTPException(
            status.HTTP_410_GONE, f"export {job_id} was removed: exports are kept {hours:g} h"
        )
    return FileResponse(
        job.path,
        media_type="video/mp4",
        filename=f"{job.camera}-{_at(job.start):%Y%m%dT%H%M%SZ}.mp4",
    )


@router.get(
    "/search",
    summary="When the models saw a label on a camera",
    response_model=SearchOut,
    responses={**NOT_FOUND, **BAD_RANGE},
)
def search(
    request: Request,
    svc: Svc,
    principal: Authenticated,
    camera: Annotated[str, Query(pattern=CAMERA_ID_PATTERN, description="camera id")],
    label: Annotated[
        str, Query(pattern=r"^[a-z][a-z0-9_]{0,63}$", description="a label, e.g. person")
    ],
    zone: Annotated[
        str | None, Query(max_length=128, description="only detections inside this zone")
    ] = None,
    min_confidence: Annotated[
        float, Query(ge=0, le=1, description="only detections at least this confident")
    ] = 0.0,
    start: Start = None,
    end: End = None,
) -> SearchOut:
    """Spans of time in which the analysed frames showed the label (in the zone), each with
    the playlist that replays it."""
    _visible(principal, camera)
    first, last = _range(start, end, MAX_RANGE_S)
    index, _, _ = _parts(request, svc)
    found = search_seen(index, camera, label, first, last, zone=zone, min_confidence=min_confidence)
    return SearchOut(
        camera=camera,
        label=label,
        zone=zone,
        spans=[
            SeenSpanOut(
                start=_at(s.start),
                end=_at(s.end),
                frames=s.frames,
                best_confidence=s.best_confidence,
                replay=_playlist_path(svc.base_url, camera, s.start, s.end),
            )
            for s in found
        ],
    )
