"""Vigil's configuration: one YAML file, validated by pydantic (extra keys are errors).

Example ``detect.yaml``::

    fps: 2
    rules:
      no_helmet: {}
      restricted_zone:
        dwell: 2
        zones:
          - name: tank-farm
            polygon: [[0, 300], [400, 300], [400, 540], [0, 540]]
    evidence: {pre_seconds: 3, post_seconds: 3}

>>> VigilConfig.model_validate({"fps": 2}).evidence.pre_seconds
3.0
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from vigil.detector.cards import ModelCard, load_cards
from vigil.events.alerts.config import AlertsConfig
from vigil.events.rules.params import RulesConfig
from vigil.events.zones import Zone
from vigil.streams.file import SourceError
from vigil.streams.sources import SourceSpec, parse_source


class ConfigError(ValueError):
    """A configuration that cannot be used; the message is one line naming the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EvidenceConfig(_Strict):
    pre_seconds: float = Field(3.0, ge=0, le=60, description="clip starts this long before")
    post_seconds: float = Field(3.0, ge=0, le=60, description="clip ends this long after")


class StorageConfig(_Strict):
    data_dir: Path = Field(Path("vigil-data"), description="database file and media live here")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default SQLite file in data_dir"
    )


class ModelsConfig(_Strict):
    card_dirs: list[Path] = Field(
        default_factory=list, description="extra folders of model cards (*.yaml)"
    )
    disabled: list[str] = Field(
        default_factory=list,
        description="cards never to run, by name: e.g. [fire_smoke] puts the fire card back for "
        "smoke and fire (wide outdoor views, where it measured better)",
    )

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


class VigilConfig(_Strict):
    camera: str | None = Field(None, description="camera id; `vigil detect` defaults to the stem")
    fps: float = Field(2.0, gt=0, le=30, description="frames analysed per second of video")
    rules: RulesConfig = Field(default_factory=RulesConfig.defaults)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)


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
    own polygons. ``evidence`` and ``reconnect`` default to the site's.
    """

    id: str = Field(description="camera id: letters, digits, '.', '_', '-' (at most 64)")
    name: str | None = Field(None, max_length=256, description="human-readable name")
    source: str = Field(description="rtsp://…, http(s)://…, a video file, image folder, webcam:N")
    transport: Literal["tcp", "udp"] = Field("tcp", description="RTSP transport")
    loop: bool = Field(False, description="files and folders: loop forever, paced as a camera")
    enabled: bool = Field(True, description="run this camera")
    fps: float = Field(2.0, gt=0, le=30, description="frames analysed per second")
    zones: list[Zone] = Field(default_factory=list, description="named zones rules refer to")
    rules: RulesConfig = Field(default_factory=RulesConfig.defaults)
    evidence: EvidenceConfig | None = None
    reconnect: ReconnectConfig | None = None
    _spec: SourceSpec | None = PrivateAttr(None)

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
    def _parse_source(self) -> CameraConfig:
        self._spec = parse_source(self.source, transport=self.transport, loop=self.loop)
        return self

    @property
    def spec(self) -> SourceSpec:
        assert self._spec is not None
        return self._spec


class InferenceConfig(_Strict):
    """The inference service that every camera of a worker shares."""

    threads: int = Field(1, ge=1, le=64, description="torch intra-op threads")
    max_batch: int = Field(
        1, ge=1, le=32, description="frames of the same size run in one model call"
    )


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
    storage: StorageConfig = Field(default_factory=StorageConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)
    alerts: AlertsConfig | None = Field(None, description="alert channels (DESIGN.md, Alerts)")

    @model_validator(mode="after")
    def _unique_ids(self) -> SiteConfig:
        seen: set[str] = set()
        for camera in self.cameras:
            if camera.id in seen:
                raise ValueError(f"camera id {camera.id!r} is used twice")
            seen.add(camera.id)
        return self

    @property
    def enabled_cameras(self) -> list[CameraConfig]:
        return [c for c in self.cameras if c.enabled]

    def evidence_of(self, camera: CameraConfig) -> EvidenceConfig:
        return camera.evidence or self.evidence

    def reconnect_of(self, camera: CameraConfig) -> ReconnectConfig:
        return camera.reconnect or self.reconnect


def describe_validation_error(exc: ValidationError) -> str:
    """All of pydantic's complaints on one line, each naming its field."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _read_yaml(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config {path}: no such file") from None
    except (OSError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(f"config {path}: not readable YAML ({reason})") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"config {path}: expected a mapping at the top level")
    return raw


def load_config(path: Path | None) -> VigilConfig:
    """Read and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return VigilConfig()
    raw = _read_yaml(path)
    try:
        config = VigilConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"config {path}: {describe_validation_error(exc)}") from None
    return config


def load_site_config(path: Path) -> SiteConfig:
    """Read and validate a site file for `vigil run`; errors name the camera by its id.

    Sources are checked for form (and files and folders for existence), not contacted.
    """
    raw = _read_yaml(path)
    try:
        return SiteConfig.model_validate(raw)
    except ValidationError as exc:
        message = describe_validation_error(exc)
        cameras = raw.get("cameras")
        if isinstance(cameras, list):
            for i, camera in enumerate(cameras):
                ident = camera.get("id") if isinstance(camera, dict) else None
                if isinstance(ident, str) and _CAMERA_ID.fullmatch(ident):
                    message = message.replace(f"cameras.{i}.", f"cameras.{ident}.")
                    message = message.replace(f"cameras.{i}:", f"cameras.{ident}:")
        raise ConfigError(f"config {path}: {message}") from None
    except SourceError as exc:  # pydantic passes ValueError subclasses through as errors
        raise ConfigError(f"config {path}: {exc}") from None
