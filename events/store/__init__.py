"""The event store: SQLAlchemy models, Alembic migrations, and the read/write API.

>>> from vigil.events.store import EventStore          # doctest: +SKIP
>>> store = EventStore.for_data_dir(Path("vigil-data"))  # doctest: +SKIP
"""

from .records import AuditRecord, EventRecord, LifecycleState, OutboxRecord
from .store import EventNotFound, EventStore, EventWriter, StaleStatus, alembic_config
from .workflow import InvalidTransition, WorkflowStatus, allowed_transitions, check_transition

__all__ = [
    "AuditRecord",
    "EventNotFound",
    "EventRecord",
    "EventStore",
    "EventWriter",
    "InvalidTransition",
    "LifecycleState",
    "OutboxRecord",
    "StaleStatus",
    "WorkflowStatus",
    "alembic_config",
    "allowed_transitions",
    "check_transition",
]
