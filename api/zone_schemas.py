"""What the zones routes read and write. The zones themselves are the config's own model
(:class:`~vigil.events.zones.CameraZone`), so the API accepts exactly what a site file does."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from vigil.events.store.zones import ZoneRevision
from vigil.events.zones import KIND_RULES, CameraZone, CameraZones

from .schemas import at


class ZonesIn(CameraZones):
    """A camera's zones as a whole: they replace every zone it had (an empty list: none)."""

    base_revision: int | None = Field(
        None,
        ge=0,
        description="the revision these edits start from (0: the site file's zones); a save "
        "over a newer one is refused with 409. Leave out to overwrite whatever is there",
    )


class ZonesOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    camera: str = Field(description="camera id")
    revision: int = Field(description="the revision in force; 0: none saved, the site file's")
    source: Literal["saved", "site"] = Field(
        description="saved: edited through the API; site: the site file's (the default)"
    )
    saved_at: datetime | None = Field(description="when the revision was saved")
    saved_by: str | None = Field(description="who saved it")
    zones: list[CameraZone] = Field(description="the zones in force on the camera")
    kinds: dict[str, list[str]] = Field(
        default_factory=lambda: {kind: list(rules) for kind, rules in KIND_RULES.items()},
        description="each kind of zone and the rules that apply in it",
    )

    @classmethod
    def of(cls, camera: str, saved: ZoneRevision | None, site: list[CameraZone]) -> ZonesOut:
        if saved is None:
            return cls(
                camera=camera, revision=0, source="site", saved_at=None, saved_by=None, zones=site
            )
        return cls(
            camera=camera,
            revision=saved.revision,
            source="saved",
            saved_at=at(saved.saved_at),
            saved_by=saved.saved_by,
            zones=[CameraZone.model_validate(z) for z in saved.zones],
        )
