"""Canonical labels: the only words rules speak (see DESIGN.md)."""

PERSON = "person"
HEAD_HELMET = "head_helmet"
HEAD_BARE = "head_bare"
HARNESS = "harness"
HARNESS_HOOKED = "harness_hooked"
HARNESS_UNHOOKED = "harness_unhooked"
PERSON_FALLEN = "person_fallen"
SMOKE = "smoke"
FIRE = "fire"
VEST = "vest"
NO_VEST = "no_vest"
VEHICLE = "vehicle"
MACHINERY = "machinery"

CANONICAL_LABELS: tuple[str, ...] = (
    PERSON,
    HEAD_HELMET,
    HEAD_BARE,
    HARNESS,
    HARNESS_HOOKED,
    HARNESS_UNHOOKED,
    PERSON_FALLEN,
    SMOKE,
    FIRE,
    VEST,
    NO_VEST,
    VEHICLE,
    MACHINERY,
)

# A model class mapped to this is dropped at the model's output.
IGNORE = "ignore"
