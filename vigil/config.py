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

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vigil.events.rules.params import RulesConfig


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


class VigilConfig(_Strict):
    camera: str | None = Field(None, description="camera id; `vigil detect` defaults to the stem")
    fps: float = Field(2.0, gt=0, le=30, description="frames analysed per second of video")
    rules: RulesConfig = Field(default_factory=RulesConfig.defaults)
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    storage: StorageConfig = Field(default_factory=StorageConfig)
    models: ModelsConfig = Field(default_factory=ModelsConfig)


def describe_validation_error(exc: ValidationError) -> str:
    """All of pydantic's complaints on one line, each naming its field."""
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def load_config(path: Path | None) -> VigilConfig:
    """Read and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return VigilConfig()
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
    try:
        config = VigilConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"config {path}: {describe_validation_error(exc)}") from None
    return config
