"""Vigil's configuration: one schema, :class:`SiteConfig`, read from one YAML file and validated
by pydantic (extra keys are errors that name the field).

`vigil run` reads a site (cameras, evidence, storage, models). `vigil detect` analyses one
recording as a one-camera site: its config file may be a site with one camera (or several and
``--camera``), or the short form below, which is the same thing written flat::

    camera: gate-3        # the camera id; default: the video file's stem
    fps: 2
    rules:
      no_helmet: {}
      restricted_zone:
        dwell: 2
        zones:
          - name: tank-farm
            polygon: [[0, 300], [400, 300], [400, 540], [0, 540]]
    evidence: {pre_seconds: 3, post_seconds: 3}
    input_size: {site_ppe: 640}   # a wide view: this camera's small people need more pixels

Relative paths written in a file (``storage.data_dir``, ``models.card_dirs``, a camera's file or
folder source) are taken from the file's folder. ``${NAME}`` in any string is replaced by the
environment variable NAME (``$${`` for a literal ``${``), so secrets need not be in the file.

>>> site = detect_site({"fps": 2, "rules": {"fall": {}}}, default_id="clip")
>>> site.camera.id, site.camera.fps, sorted(site.camera.rules.enabled())
('clip', 2.0, ['fall'])
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from vigil import VigilError
from vigil.api.config import ApiConfig
from vigil.detector.cards import ModelCard, load_cards
from vigil.events.alerts.config import AlertsConfig
from vigil.events.loop.config import (
    DispatchRule,
    EscalationStep,
    LoopPolicy,
    check_escalation,
)
from vigil.events.objectstore import ObjectStoreSettings, parse_media_url
from vigil.events.rules import RULES
from vigil.events.rules.params import RulesConfig
from vigil.events.segments import RecordSettings
from vigil.events.zones import CameraZone, Zone
from vigil.gating import GatingSettings
from vigil.streams.reader import ReaderOptions
from vigil.streams.sources import SourceSpec, parse_source


class ConfigError(VigilError, ValueError):
    """A configuration that cannot be used; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _from_file_folder(path: Path, info: ValidationInfo) -> Path:
    """A relative path written in a config file, taken from that file's folder (the ``base``
    in the validation context); as given when there is no file."""
    base = (info.context or {}).get("base")
    path = path.expanduser()
    return base / path if base is not None and not path.is_absolute() else path


class EvidenceConfig(_Strict):
    pre_seconds: float = Field(3.0, ge=0, le=60, description="clip starts this long before")
    post_seconds: float = Field(3.0, ge=0, le=60, description="clip ends this long after")


class RecordConfig(_Strict):
    """Continuous recording of a camera (segments of its stream, kept for a while)."""

    enabled: bool = Field(False, description="record this camera continuously")
    segment_seconds: float = Field(
        60.0, ge=2, le=3600, description="segment length (cut at the next keyframe)"
    )
    retain_days: float = Field(7.0, gt=0, le=3650, description="segments older than this go")
    keep_event_days: float = Field(
        30.0, ge=0, le=3650, description="recordings around events this recent are kept"
    )
    crf: int = Field(23, ge=0, le=51, description="quality of sources that are not H.264")

    def settings(self, picture_fps: float = 10.0) -> RecordSettings:
        return RecordSettings(
            segment_seconds=self.segment_seconds,
            retain_days=self.retain_days,
            keep_event_days=self.keep_event_days,
            crf=self.crf,
            picture_fps=picture_fps,
        )


class GatingConfig(_Strict):
    """Which frames each model runs on (:mod:`vigil.gating`): motion gating with a periodic
    full pass, and slower analysis rates for some rules.

    >>> GatingConfig.model_validate({"rule_fps": {"smok": 1}})
    Traceback (most recent call last):
    ...
    pydantic_core._pydantic_core.ValidationError: 1 validation error for GatingConfig
    rule_fps
      Value error, unknown rule 'smok' (rules: ...) ...
    """

    motion: bool = Field(
        True, description="skip a model on frames where nothing moved since it last ran"
    )
    full_pass_seconds: float = Field(
        5.0, gt=0, le=600, description="every model runs at least this often, moving or not"
    )
    motion_threshold: int = Field(
        25, ge=1, le=255, description="grey-level change (0-255) for a pixel to count as moved"
    )
    motion_min_area: float = Field(
        0.002, gt=0, le=1, description="share of the frame that must move to count as motion"
    )
    crop: bool = Field(
        False,
        description="when only part of the frame moved, run a due model on regions around the "
        "moving parts (and carry its boxes elsewhere) instead of the whole frame",
    )
    crop_max_area: float = Field(
        0.5, gt=0, le=1, description="regions covering more of the frame than this: full pass"
    )
    rule_fps: dict[str, float] = Field(
        default_factory=lambda: {"smoke": 1.0, "fire": 1.0, "fall": 1.0},
        description="analysis rate per rule (at most the camera's fps); a model runs at the "
        "highest rate of the rules it serves",
    )

    @field_validator("rule_fps")
    @classmethod
    def _known_rules(cls, value: dict[str, float]) -> dict[str, float]:
        for rule, fps in value.items():
            if rule not in RULES:
                raise ValueError(f"unknown rule {rule!r} (rules: {', '.join(sorted(RULES))})")
            if not 0 < fps <= 30:
                raise ValueError(f"rule_fps.{rule}: {fps:g} is not in (0, 30]")
        return value

    def settings(self) -> GatingSettings:
        return GatingSettings(
            motion=self.motion,
            full_pass_seconds=self.full_pass_seconds,
            motion_threshold=self.motion_threshold,
            motion_min_area=self.motion_min_area,
            crop=self.crop,
            crop_max_area=self.crop_max_area,
            rule_fps=dict(self.rule_fps),
        )


class StorageConfig(_Strict):
    data_dir: Path = Field(Path("vigil-data"), description="database file and media live here")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite file in data_dir"
    )
    min_free_gb: float | None = Field(
        None, ge=0, description="recordings: the oldest go while less than this is free"
    )
    min_free_percent: float | None = Field(
        None, ge=0, le=100, description="recordings: the same floor, as a share of the disk"
    )

    media_url: str | None = Field(
        None, description="s3://bucket/prefix: media go to this object store (staged locally)"
    )
    endpoint_url: str | None = Field(
        None, description="the S3-compatible server (MinIO, Ceph); default: AWS"
    )
    region: str | None = Field(None, description="the store's region")
    access_key: SecretStr | None = Field(None, description="default: boto3's credential chain")
    secret_key: SecretStr | None = Field(None, description="write it as ${VAR}, never inline")
    keep_local_hours: float = Field(
        0.0, ge=0, le=24 * 3650, description="keep uploaded media on local disk this long"
    )
    media_serve: Literal["stream", "redirect"] = Field(
        "stream", description="API: stream media from the store, or redirect to a signed URL"
    )

    @field_validator("data_dir")
    @classmethod
    def _relative_to_file(cls, value: Path, info: ValidationInfo) -> Path:
        return _from_file_folder(value, info)

    @field_validator("media_url")
    @classmethod
    def _media_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_media_url(value)  # ObjectStoreError is a ValueError: a validation error
        return value

    def object_store(self) -> ObjectStoreSettings | None:
        """The object store's settings; None when media stay on local disk."""
        if self.media_url is None:
            return None
        return ObjectStoreSettings(
            media_url=self.media_url,
            endpoint_url=self.endpoint_url,
            region=self.region,
            access_key=None if self.access_key is None else self.access_key.get_secret_value(),
            secret_key=None if self.secret_key is None else self.secret_key.get_secret_value(),
        )


class ModelsConfig(_Strict):
    card_dirs: list[Path] = Field(
        default_factory=list, description="extra folders of model cards (*.yaml)"
    )
    disabled: list[str] = Field(
        default_factory=list,
        description="cards never to run, by name: e.g. [fire] runs the fire_smoke fine-tune for "
        "smoke and fire instead of the fire card (it measured better on Abonia1's sources only)",
    )

    @field_validator("card_dirs")
    @classmethod
    def _relative_to_file(cls, value: list[Path], info: ValidationInfo) -> list[Path]:
        return [_from_file_folder(path, info) for path in value]

    def cards(self) -> dict[str, ModelCard]:
        """The installed cards plus those in ``card_dirs``, less the ``disabled`` ones.

        Raises CardError for a bad card file, ConfigError for a disabled name no card has.
        """
        cards = load_cards(self.card_dirs)
        unknown = sorted(set(self.disabled) - set(cards))
        if unknown:
            raise ConfigError(
                f"models.disabled: no model card named {', '.join(unknown)} "
                f"(cards: {', '.join(sorted(cards))})"
            )
        return {name: card for name, card in cards.items() if name not in self.disabled}


class ReconnectConfig(_Strict):
    """How a live camera is watched and reopened (seconds)."""

    open_timeout: float = Field(10.0, gt=0, le=300, description="time allowed to open a stream")
    stall_seconds: float = Field(
        5.0, gt=0, le=300, description="no frame for this long: the stream is stalled, reopen it"
    )
    backoff_initial: float = Field(0.5, gt=0, le=60, description="first wait before a retry")
    backoff_max: float = Field(30.0, gt=0, le=3600, description="longest wait between retries")
    fail_after: int = Field(
        3, ge=1, le=100, description="failed attempts in a row before the camera shows failed"
    )

    @model_validator(mode="after")
    def _initial_below_max(self) -> ReconnectConfig:
        if self.backoff_initial > self.backoff_max:
            raise ValueError(
                f"backoff_initial ({self.backoff_initial:g}) exceeds backoff_max "
                f"({self.backoff_max:g})"
            )
        return self


_CAMERA_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class CameraConfig(_Strict):
    """One camera of a site: where its frames come from and what is checked on them.

    Rules refer to the camera's ``zones`` by name (``zones: [tank-farm]``) or define their
    own polygons. ``evidence`` and ``reconnect`` default to the site's. ``source`` is required
    in a site for `vigil run`; `vigil detect` and `vigil eval` take the recording from the
    command line instead.
    """

    id: str = Field(description="camera id: letters, digits, '.', '_', '-' (at most 64)")
    name: str | None = Field(None, max_length=256, description="human-readable name")
    source: str | None = Field(
        None,
        validate_default=True,
        description="rtsp://…, http(s)://…, a video file, image folder, webcam:N",
    )
    detect_source: str | None = Field(
        None,
        description="a low-resolution substream of the same camera (rtsp://…, http(s)://…) "
        "that detection decodes instead of ``source``; ``source`` is then only recorded",
    )
    transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP transport")
    loop: bool = Field(False, description="files and folders: loop forever, paced as a camera")
    enabled: bool = Field(True, description="run this camera")
    fps: float = Field(2.0, gt=0, le=30, description="frames analysed per second")
    zones: list[Zone] = Field(default_factory=list, description="named zones rules refer to")
    rules: RulesConfig = Field(default_factory=RulesConfig.defaults)
    evidence: EvidenceConfig | None = None
    reconnect: ReconnectConfig | None = None
    record: RecordConfig | None = None
    gating: GatingConfig | None = Field(None, description="the site's gating, for this camera")
    input_size: dict[str, int] = Field(
        default_factory=dict,
        description="model card -> its input size on this camera (the long side in pixels, a "
        "multiple of 32) instead of the card's imgsz: e.g. {site_ppe: 640} for a wide overhead "
        "view whose people are small; costs about (size / imgsz)² that model's work, on this "
        "camera only",
    )
    _spec: SourceSpec | None = PrivateAttr(None)
    _detect_spec: SourceSpec | None = PrivateAttr(None)

    @field_validator("source")
    @classmethod
    def _source_given(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and (info.context or {}).get("sources_required", True):
            raise ValueError(
                "Field required (rtsp://…, http(s)://…, a video file, an image folder, webcam:N)"
            )
        return value

    @field_validator("input_size")
    @classmethod
    def _input_sizes(cls, value: dict[str, int]) -> dict[str, int]:
        for model, size in value.items():
            if size % 32 or not 64 <= size <= 1920:
                raise ValueError(
                    f"{model}: {size} is not an input size (a multiple of 32, 64 to 1920)"
                )
        return value

    @field_validator("id")
    @classmethod
    def _safe_id(cls, value: str) -> str:
        if not _CAMERA_ID.fullmatch(value):
            raise ValueError(
                f"camera id {value!r}: use 1 to 64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        return value

    @model_validator(mode="before")
    @classmethod
    def _resolve_zone_names(cls, raw: Any) -> Any:
        """Replace zone names in rules with the camera's zone of that name."""
        if not isinstance(raw, dict) or not isinstance(raw.get("rules"), dict):
            return raw
        zones = raw.get("zones") or []
        named = {z.get("name"): z for z in zones if isinstance(z, dict)}
        rules = dict(raw["rules"])
        for rule, params in rules.items():
            if not isinstance(params, dict) or not isinstance(params.get("zones"), list):
                continue
            resolved = []
            for zone in params["zones"]:
                if isinstance(zone, str):
                    if zone not in named:
                        known = ", ".join(sorted(map(str, named))) or "none defined"
                        raise ValueError(
                            f"rules.{rule}.zones: no camera zone named {zone!r} "
                            f"(camera zones: {known})"
                        )
                    zone = named[zone]
                resolved.append(zone)
            rules[rule] = {**params, "zones": resolved}
        return {**raw, "rules": rules}

    @model_validator(mode="after")
    def _parse_source(self, info: ValidationInfo) -> CameraConfig:
        if self.source is not None:
            base = (info.context or {}).get("base")
            self._spec = parse_source(
                self.source, transport=self.transport, loop=self.loop, base=base
            )
        if self.detect_source is not None:
            self._detect_spec = _detect_spec(self.detect_source, self._spec, self.transport)
        return self

    @property
    def detect_spec(self) -> SourceSpec | None:
        """The substream detection decodes (``detect_source``), or None: ``source`` is then
        decoded for detection as well as recorded."""
        return self._detect_spec

    @property
    def spec(self) -> SourceSpec:
        """The parsed source (a camera of a `vigil run` site always has one)."""
        if self._spec is None:
            raise ConfigError(f"camera {self.id}: no source")
        return self._spec


def _detect_spec(text: str, main: SourceSpec | None, transport: str) -> SourceSpec:
    """``detect_source`` parsed like ``source``; both must be network streams (a camera's
    main and sub streams), for the main stream is then only demuxed, never decoded, and only
    a sender paces what is not decoded."""
    spec = parse_source(text, transport=transport, field="detect_source")  # type: ignore[arg-type]
    if spec.kind not in _NETWORK:
        raise ValueError(
            f"detect_source {spec.display!r}: must be a network stream (rtsp://, http(s)://)"
        )
    if main is not None and main.kind not in _NETWORK:
        raise ValueError(
            f"detect_source needs a network source (rtsp://, http(s)://), not "
            f"{main.kind} {main.display!r}"
        )
    if main is not None and main.url == spec.url:
        raise ValueError("detect_source is the same stream as source: leave it out")
    return spec


_NETWORK = ("rtsp", "http")


class InferenceConfig(_Strict):
    """The inference service that every camera of a worker shares."""

    threads: int = Field(
        1, ge=1, le=64, description="threads of one model call (PyTorch or OpenVINO)"
    )
    max_batch: int = Field(
        1, ge=1, le=32, description="frames of the same size run in one model call"
    )
    model_threads: int = Field(
        2,
        ge=1,
        le=16,
        description="the models due on a frame run side by side on this many threads",
    )


class WorkerConfig(_Strict):
    """How the `vigil run` workers of one site share its cameras (DESIGN.md, Past one machine):
    each runs the cameras it holds a lease on, renewed every ``heartbeat_s``; a worker silent
    for ``lease_ttl_s`` loses them to the others."""

    max_cameras: int | None = Field(
        None, ge=1, le=10_000, description="most cameras this worker runs (default: no limit)"
    )
    lease_ttl_s: float = Field(
        6.0, ge=1, le=300, description="a camera lease not renewed for this long is free"
    )
    heartbeat_s: float = Field(2.0, gt=0, le=60, description="how often leases are renewed")

    @model_validator(mode="after")
    def _renewed_in_time(self) -> WorkerConfig:
        if self.heartbeat_s * 2 > self.lease_ttl_s:
            raise ValueError(
                f"worker.heartbeat_s ({self.heartbeat_s:g}) must be at most half of "
                f"worker.lease_ttl_s ({self.lease_ttl_s:g}), or a slow beat loses the leases"
            )
        return self


class SiteConfig(_Strict):
    """A site for `vigil run`: its cameras, where events go, which models.

    >>> site = SiteConfig.model_validate(
    ...     {"cameras": [{"id": "gate-3", "source": "rtsp://10.0.0.7/s1", "rules": {"fall": {}}}]})
    >>> site.cameras[0].spec.kind, sorted(site.cameras[0].rules.enabled())
    ('rtsp', ['fall'])
    """

    cameras: list[CameraConfig] = Field(min_length=1, description="the cameras to watch")
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    reconnect: ReconnectConfig = Field(default_factory=ReconnectConfig)
    inference: InferenceConfig = Field(default_factory=InferenceConfig)
    worker: WorkerConfig = Field(
        default_factory=WorkerConfig, description="camera leases among workers of the site"
    )
    storage: StorageConfig = Field(default_factory=StorageConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    record: RecordConfig = Field(default_factory=RecordConfig)
    gating: GatingConfig = Field(
        default_factory=GatingConfig, description="motion gating and per-rule analysis rates"
    )
    alerts: AlertsConfig | None = Field(None, description="alert channels (DESIGN.md, Alerts)")
    api: ApiConfig = Field(default_factory=ApiConfig, description="`vigil serve`, `run --serve`")
    dispatch: list[DispatchRule] = Field(
        default_factory=list,
        description="auto-dispatch: the first rule whose match takes a new event assigns it "
        "(DESIGN.md, Events)",
    )
    escalation: dict[str, list[EscalationStep]] = Field(
        default_factory=dict,
        description="per severity, whom to notify once an item is overdue, step by step",
    )

    @field_validator("escalation")
    @classmethod
    def _ladders(cls, value: dict[str, list[EscalationStep]]) -> dict[str, list[EscalationStep]]:
        return check_escalation(value)

    def loop_policy(self) -> LoopPolicy:
        """The hazard-loop policy the API shows (GET /api/v1/dispatch-policy)."""
        return LoopPolicy(dispatch=self.dispatch, escalation=self.escalation)

    @model_validator(mode="after")
    def _unique_ids(self) -> SiteConfig:
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.id in seen:
                raise ValueError(f"camera id {camera.id!r} is used twice")
            seen.add(camera.id)
        return self

    @model_validator(mode="after")
    def _one_public_url(self) -> SiteConfig:
        """``api.public_url`` is where people reach the API, and so where alert links point;
        ``alerts.public_url`` (the older place) may say it instead, not differently."""
        alerts = self.alerts
        given = alerts.public_url if alerts is not None else None
        if given is not None and self.api.public_url is not None:
            if given != self.api.public_url.rstrip("/"):
                raise ValueError(
                    "public_url differs in api: and alerts:; set it once, in api: "
                    "(alert links point at the API)"
                )
        elif given is not None:
            self.api.public_url = given
        if alerts is not None:
            alerts.public_url = self.api.public_url and self.api.public_url.rstrip("/")
        return self

    def site_zones(self) -> dict[str, list[CameraZone]]:
        """Each camera's zones by kind as this file gives them: the default that zones saved
        through the API replace, camera by camera."""
        return {camera.id: camera.rules.camera_zones() for camera in self.cameras}

    @property
    def enabled_cameras(self) -> list[CameraConfig]:
        return [c for c in self.cameras if c.enabled]

    def evidence_of(self, camera: CameraConfig) -> EvidenceConfig:
        return camera.evidence or self.evidence

    def reconnect_of(self, camera: CameraConfig) -> ReconnectConfig:
        return camera.reconnect or self.reconnect

    def record_of(self, camera: CameraConfig) -> RecordConfig:
        return camera.record or self.record

    def gating_of(self, camera: CameraConfig) -> GatingConfig:
        return camera.gating or self.gating

    def reader_options(self, camera: CameraConfig, ring_seconds: float) -> ReaderOptions:
        """How ``camera``'s reader connects, reconnects and samples, from this site's config;
        ``ring_seconds`` of pre-roll depend on its rules, which the caller knows."""
        reconnect = self.reconnect_of(camera)
        return ReaderOptions(
            analysis_fps=camera.fps,
            open_timeout=reconnect.open_timeout,
            stall_seconds=reconnect.stall_seconds,
            backoff_initial=reconnect.backoff_initial,
            backoff_max=reconnect.backoff_max,
            fail_after=reconnect.fail_after,
            ring_seconds=ring_seconds,
        )

    @property
    def camera(self) -> CameraConfig:
        """The camera of a one-camera site (what `vigil detect` and `vigil eval` analyse)."""
        if len(self.cameras) != 1:
            raise ConfigError(f"expected a site with one camera, got {len(self.cameras)}")
        return self.cameras[0]


def describe_validation_error(exc: ValidationError) -> str:
    """All of pydantic's complaints on one line, each naming its field."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


_ENV = re.compile(r"\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SHORT_FORM_CAMERA_KEYS = ("camera", "fps", "rules", "zones", "input_size")


def expand_env(raw: Any, where: str = "") -> Any:
    """``raw`` with ``${NAME}`` in every string replaced by the environment variable NAME
    (``$${NAME}`` stays a literal ``${NAME}``). An unset variable is a ConfigError naming it
    and the field, never a value.

    >>> os.environ["VIGIL_DOC_PASS"] = "s3cret"
    >>> expand_env({"source": "rtsp://viewer:${VIGIL_DOC_PASS}@cam/s", "note": "$${HOME}"})
    {'source': 'rtsp://viewer:s3cret@cam/s', 'note': '${HOME}'}
    """
    memo: dict[int, Any] = {}  # YAML aliases share nodes: expand each once, keep the sharing

    def expand(node: Any, where: str) -> Any:
        if isinstance(node, str):
            return _ENV.sub(lambda m: _env_value(m, where), node)
        if id(node) in memo:
            return memo[id(node)]
        if isinstance(node, dict):
            out: Any = {}
            memo[id(node)] = out
            out.update({k: expand(v, _join(where, str(k))) for k, v in node.items()})
        elif isinstance(node, list):
            out = []
            memo[id(node)] = out
            out.extend(expand(v, _join(where, _item_name(i, v))) for i, v in enumerate(node))
        else:
            return node
        return out

    return expand(raw, where)


def _env_value(match: re.Match[str], where: str) -> str:
    escaped, name = match.groups()
    if escaped:
        return "${" + name + "}"
    if name not in os.environ:
        raise ConfigError(f"{where or 'config'}: environment variable {name} is not set")
    return os.environ[name]


def _join(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _item_name(index: int, value: Any) -> str:
    """A list item named as errors name it: a camera by its id, anything else by index."""
    ident = value.get("id") if isinstance(value, dict) else None
    return ident if isinstance(ident, str) and _CAMERA_ID.fullmatch(ident) else str(index)


def _read_yaml(path: Path) -> dict:
    """The file's top-level mapping, environment variables expanded; ConfigError (one line)
    for anything else."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config {path}: no such file") from None
    except RecursionError:
        raise ConfigError(f"config {path}: not readable YAML (nested too deeply)") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        reason = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"config {path}: not readable YAML ({reason})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level")
    try:
        return expand_env(raw)
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None


def _validate_site(
    raw: dict, *, base: Path | None, sources_required: bool, short_form: bool = False
) -> SiteConfig:
    """Validate ``raw`` as a site; errors name cameras by id (by nothing in the short form)."""
    try:
        return SiteConfig.model_validate(
            raw, context={"base": base, "sources_required": sources_required}
        )
    except ValidationError as exc:
        message = describe_validation_error(exc)
        if short_form:  # the camera's fields are the file's top-level keys
            message = message.replace("cameras.0.id:", "camera:")
            message = message.replace("cameras.0.", "").replace("cameras.0:", "config:")
        else:
            cameras = raw.get("cameras")
            cameras = cameras if isinstance(cameras, list) else []

            def by_id(m: re.Match[str]) -> str:
                i = int(m.group(1))
                return f"cameras.{_item_name(i, cameras[i]) if i < len(cameras) else i}"

            message = re.sub(r"cameras\.(\d+)(?=[.:])", by_id, message)
        raise ConfigError(message) from None


def load_site_config(path: Path) -> SiteConfig:
    """Read and validate a site file for `vigil run`; errors name the camera by its id.

    Sources are checked for form (and files and folders for existence), not contacted.
    """
    raw = _read_yaml(path)
    try:
        return _validate_site(raw, base=path.parent, sources_required=True)
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None


def camera_id_for(stem: str) -> str:
    """A valid camera id made from a file name's stem: other characters become '-'.

    >>> camera_id_for("Gate 3 (night)")
    'Gate-3-night'
    """
    ident = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip("-._")[:64]
    return ident or "video"


def detect_site(
    raw: dict | None = None,
    *,
    camera: str | None = None,
    default_id: str = "video",
    base: Path | None = None,
) -> SiteConfig:
    """The one-camera site that `vigil detect` (or `vigil eval`) analyses a recording as.

    ``raw`` is a site (its camera chosen by id with ``camera`` when it has several) or the
    short form (module docstring); the camera's own source is not used: the recording comes
    from the command line.

    >>> site = detect_site({"cameras": [{"id": "a", "source": "rtsp://h/x"}, {"id": "b"}]},
    ...                    camera="b")
    >>> site.camera.id, site.camera.source
    ('b', None)
    """
    raw = dict(raw or {})
    short_form = "cameras" not in raw
    if short_form:
        one = {key: raw.pop(key) for key in _SHORT_FORM_CAMERA_KEYS if key in raw}
        one["id"] = one.pop("camera", None) or camera or default_id
        raw["cameras"] = [one]
    else:
        raw["cameras"] = [_choose_camera(raw["cameras"], camera)]
    if isinstance(raw["cameras"][0], dict):
        raw["cameras"][0] = {k: v for k, v in raw["cameras"][0].items() if k != "source"}
    return _validate_site(raw, base=base, sources_required=False, short_form=short_form)


def _choose_camera(cameras: Any, wanted: str | None) -> Any:
    if not isinstance(cameras, list) or not cameras:
        return cameras  # the schema says what is wrong
    ids = [c.get("id") if isinstance(c, dict) else None for c in cameras]
    if wanted is None:
        if len(cameras) == 1:
            return cameras[0]
        raise ConfigError(
            f"cameras: the site has {len(cameras)} cameras; choose one with --camera "
            f"({', '.join(map(str, ids))})"
        )
    if wanted not in ids:
        raise ConfigError(f"cameras: no camera {wanted!r} ({', '.join(map(str, ids))})")
    return cameras[ids.index(wanted)]


def load_detect_site(
    path: Path | None, *, camera: str | None = None, default_id: str = "video"
) -> SiteConfig:
    """Read a config file for `vigil detect` or `vigil eval` (see :func:`detect_site`);
    ``None`` gives the defaults: the zone-free rules on one camera named ``default_id``."""
    if path is None:
        return detect_site(camera=camera, default_id=default_id)
    raw = _read_yaml(path)
    try:
        return detect_site(raw, camera=camera, default_id=default_id, base=path.parent)
    except ConfigError as exc:
        raise ConfigError(f"config {path}: {exc}") from None
