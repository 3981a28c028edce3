"""Media in an S3-compatible object store (MinIO, Ceph, AWS S3, …): where a file of the data
folder lies once uploaded, and the few calls Vigil makes.

A file's object key is its path under the data folder, behind the store's prefix:
``s3://vigil/site-a`` keeps ``media/gate-3/2026-01-02/ab12.mp4`` at
``site-a/media/gate-3/2026-01-02/ab12.mp4`` in bucket ``vigil``. So the paths the store's rows
hold name the object as well as the staged file, and no row changes when a file is uploaded.

Credentials come from the settings (``${VAR}`` in the site file) or, when not given, from
boto3's usual chain (environment, instance role). They never appear in a log line or an error.

>>> where = parse_media_url("s3://vigil/site-a/")
>>> where.bucket, where.key_for("media/gate-3/2026-01-02/ab12.mp4")
('vigil', 'site-a/media/gate-3/2026-01-02/ab12.mp4')
>>> parse_media_url("s3://vigil").key_for("recordings/c/1.mp4")
'recordings/c/1.mp4'
>>> parse_media_url("http://vigil/x")
Traceback (most recent call last):
...
vigil.events.objectstore.ObjectStoreError: storage.media_url must look like s3://bucket/prefix, got 'http://vigil/x'
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from vigil import VigilError
from vigil.streams.sources import redact

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
MULTIPART_BYTES = 64 * 2**20  # below this one PUT, its ETag the MD5 (checked); above, in parts


class ObjectStoreError(VigilError, ValueError):
    """A bad media URL or settings (one line)."""


class StoreUnavailable(OSError):
    """The object store did not answer, or refused the request: try again later."""


@dataclass(frozen=True, slots=True)
class MediaLocation:
    bucket: str
    prefix: str  # "" or "a/b" (no slash at either end)

    def key_for(self, relative: str | PurePosixPath) -> str:
        """The object key of a data-folder path such as ``media/<camera>/<day>/<file>``."""
        rel = PurePosixPath(relative).as_posix().lstrip("/")
        return f"{self.prefix}/{rel}" if self.prefix else rel


def parse_media_url(url: str) -> MediaLocation:
    """``s3://bucket[/prefix]`` → :class:`MediaLocation`; ObjectStoreError if malformed."""
    match = re.fullmatch(r"s3://([^/]+)(?:/(.*))?", url.strip())
    if not match or not _BUCKET.match(match.group(1)):
        raise ObjectStoreError(f"storage.media_url must look like s3://bucket/prefix, got {url!r}")
    prefix = (match.group(2) or "").strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ObjectStoreError(f"storage.media_url has an empty or relative part: {url!r}")
    return MediaLocation(match.group(1), prefix)


@dataclass(frozen=True, slots=True)
class ObjectStoreSettings:
    media_url: str
    endpoint_url: str | None = None  # None: AWS
    region: str | None = None
    access_key: str | None = None
    secret_key: str | None = None
    connect_timeout: float = 3.0
    read_timeout: float = 20.0

    def __repr__(self) -> str:  # the secret never reaches a log line through a repr
        endpoint = redact(self.endpoint_url) if self.endpoint_url else None
        return f"ObjectStoreSettings(media_url={self.media_url!r}, endpoint_url={endpoint!r})"


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    etag: str  # without quotes


class ObjectStore:
    """The object store of one site's media (see the module). Thread-safe (boto3 clients are).

    Each call tries once, with short timeouts: retrying is the caller's (the uploader backs
    off; the API answers 503). Failures of the store raise :class:`StoreUnavailable`.
    """

    def __init__(self, settings: ObjectStoreSettings, client: Any = None) -> None:
        self.settings = settings
        self.location = parse_media_url(settings.media_url)
        self.client = client if client is not None else _client(settings)
        self.multipart_bytes = MULTIPART_BYTES

    def describe(self) -> str:
        endpoint = redact(self.settings.endpoint_url or "AWS")
        return f"{self.settings.media_url} at {endpoint}"

    def key_for(self, relative: str | PurePosixPath) -> str:
        return self.location.key_for(relative)

    def ensure_bucket(self) -> None:
        """Create the bucket if it does not exist (a fresh MinIO, a test server)."""
        with _unavailable("bucket check"):
            try:
                self.client.head_bucket(Bucket=self.location.bucket)
                return
            except self._client_error() as exc:
                if _status(exc) not in (404, 403):
                    raise
            self.client.create_bucket(Bucket=self.location.bucket)

    def put_file(self, path: Path, key: str) -> ObjectInfo:
        """Upload ``path`` to ``key`` and check the stored object: its size, and for a single
        PUT (files under ``multipart_bytes``) its ETag against the file's MD5. Raises
        StoreUnavailable when the store fails or the check does not hold (tried again)."""
        size = path.stat().st_size
        if size >= self.multipart_bytes:
            return self._put_multipart(path, key, size)
        with open(path, "rb") as f:
            data = f.read()
        md5 = hashlib.md5(data, usedforsecurity=False)
        with _unavailable(f"upload of {key}"):
            self.client.put_object(
                Bucket=self.location.bucket,
                Key=key,
                Body=data,
                ContentMD5=base64.b64encode(md5.digest()).decode(),
                ContentType=_content_type(path.name),
            )
        info = self.head(key)
        if info is None or info.size != size or info.etag != md5.hexdigest():
            raise StoreUnavailable(f"{key}: the stored object does not match the file")
        return info

    def _put_multipart(self, path: Path, key: str, size: int) -> ObjectInfo:
        """A large file (a long clip) in parts; its ETag is not an MD5, so the size is checked."""
        from boto3.s3.transfer import TransferConfig

        part = max(5 * 2**20, self.multipart_bytes // 4)  # S3's smallest part is 5 MiB
        config = TransferConfig(
            multipart_threshold=self.multipart_bytes, multipart_chunksize=part, use_threads=False
        )
        with _unavailable(f"upload of {key}"):
            self.client.upload_file(
                str(path),
                self.location.bucket,
                key,
                ExtraArgs={"ContentType": _content_type(path.name)},
                Config=config,
            )
        info = self.head(key)
        if info is None or info.size != size:
            raise StoreUnavailable(f"{key}: the stored object does not match the file")
        return info

    def head(self, key: str) -> ObjectInfo | None:
        """Size and ETag of ``key``; None when there is no such object."""
        with _unavailable(f"head of {key}"):
            try:
                reply = self.client.head_object(Bucket=self.location.bucket, Key=key)
            except self._client_error() as exc:
                if _status(exc) == 404:
                    return None
                raise
        return ObjectInfo(int(reply["ContentLength"]), str(reply["ETag"]).strip('"'))

    def open_range(self, key: str, start: int, end: int | None) -> tuple[Iterator[bytes], int]:
        """Bytes ``start``..``end`` (inclusive; None: to the end) of ``key``, as chunks, and
        the object's total size."""
        wanted = f"bytes={start}-{'' if end is None else end}"
        with _unavailable(f"read of {key}"):
            reply = self.client.get_object(Bucket=self.location.bucket, Key=key, Range=wanted)
        total = int(str(reply.get("ContentRange", "")).rpartition("/")[2] or 0)
        return reply["Body"].iter_chunks(256 * 1024), total

    def presigned_url(self, key: str, expires: int = 300) -> str:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.location.bucket, "Key": key}, ExpiresIn=expires
        )

    def delete(self, key: str) -> None:
        with _unavailable(f"delete of {key}"):
            self.client.delete_object(Bucket=self.location.bucket, Key=key)

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under the store's prefix (and ``prefix`` below it), without the store's."""
        root = self.key_for(prefix) if prefix else (self.location.prefix + "/").lstrip("/")
        found = []
        with _unavailable("listing"):
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.location.bucket, Prefix=root
            )
            for page in pages:
                found += [o["Key"] for o in page.get("Contents", [])]
        cut = len(self.location.prefix) + 1 if self.location.prefix else 0
        return [k[cut:] for k in found]

    def _client_error(self) -> type[Exception]:
        return self.client.exceptions.ClientError


def _client(settings: ObjectStoreSettings) -> Any:
    import boto3  # only a site with object storage pays for the import
    from botocore.config import Config

    config = Config(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        retries={"max_attempts": 1, "mode": "standard"},
        s3={"addressing_style": "path"},
        signature_version="s3v4",
    )
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region or "us-east-1",
        aws_access_key_id=settings.access_key,
        aws_secret_access_key=settings.secret_key,
        config=config,
    )


class _unavailable:
    """Turns the store's and the network's errors into :class:`StoreUnavailable` (one line,
    no credentials: botocore's messages name the operation, never the keys)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: object) -> bool:
        if exc is None or isinstance(exc, StoreUnavailable):
            return False
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, BotoCoreError | ClientError | OSError):
            line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise StoreUnavailable(f"{self.what}: {line}") from None
        return False


def _status(exc: Exception) -> int | None:
    meta = getattr(exc, "response", {}).get("ResponseMetadata", {})
    return meta.get("HTTPStatusCode")


def _content_type(name: str) -> str:
    return {".jpg": "image/jpeg", ".mp4": "video/mp4", ".png": "image/png"}.get(
        Path(name).suffix.lower(), "application/octet-stream"
    )
