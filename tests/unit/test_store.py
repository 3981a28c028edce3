"""The event store on SQLite and PostgreSQL: migrations, lifecycle writes, workflow audit."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from vigil.events.evidence import Evidence
from vigil.events.store.models import Base
from vigil.events.store.records import LifecycleState
from vigil.events.store.store import EventNotFound, EventStore, StaleStatus, alembic_config
from vigil.events.store.workflow import (
    InvalidTransition,
    WorkflowStatus,
    allowed_transitions,
    check_transition,
)
from vigil.events.violation import TimelinePoint, Violation

TABLES = {
    "events",
    "camera_leases",
    "workers",
    "event_timeline",
    "event_audit",
    "camera_health",
    "camera_gaps",
    "outbox",
    "leases",
    "alert_cursor",
    "alert_routed",
    "deliveries",
    "push_subscriptions",
    "users",
    "api_tokens",
    "alembic_version",
}


@pytest.fixture
def store(url: str) -> Iterator[EventStore]:
    with EventStore(url) as s:
        yield s


def violation(**changes: object) -> Violation:
    fields: dict[str, object] = dict(
        camera="cam-3",
        rule="no_helmet",
        label="head_bare",
        subject="track:7",
        severity="high",
        start_pts=12.5,
        start_wall=1_760_000_000.25,
        end_pts=12.5,
        end_wall=1_760_000_000.25,
        peak_confidence=0.61,
        peak_pts=12.5,
        bbox=(10.0, 20.0, 110.0, 220.0),
        track_id=7,
        zone="tank-farm",
    )
    fields.update(changes)
    return Violation(**fields)  # type: ignore[arg-type]


def open_event(store: EventStore, **changes: object) -> Violation:
    v = violation(**changes)
    with store.unit_of_work() as w:
        w.opened(v, source="rtsp://cam-3/stream")
    return v


def test_migrate_from_empty(url: str) -> None:
    with EventStore(url, auto_migrate=False) as store:
        assert not TABLES & set(inspect(store.engine).get_table_names())
        store.migrate()
        store.migrate()  # idempotent
        assert set(inspect(store.engine).get_table_names()) >= TABLES
        with store.engine.connect() as conn:
            head = ScriptDirectory.from_config(alembic_config()).get_current_head()
            assert MigrationContext.configure(conn).get_current_revision() == head
            # The hand-written revision and the models describe the same schema.
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert store.list_events() == []


def test_round_trip_opened_updated_ended(store: EventStore) -> None:
    v = open_event(store)
    rec = store.get_event(v.id)
    assert rec is not None
    assert (rec.state, rec.status) == (LifecycleState.OPEN, WorkflowStatus.NEW)
    assert (rec.camera, rec.rule, rec.track_id, rec.zone) == ("cam-3", "no_helmet", 7, "tank-farm")
    assert rec.start_wall == v.start_wall and rec.source == "rtsp://cam-3/stream"
    assert rec.clip_path is None and store.timeline(v.id) == []

    v.peak_confidence, v.peak_pts, v.bbox = 0.93, 14.0, (12.0, 22.0, 112.0, 222.0)
    v.end_pts, v.end_wall = 15.0, v.start_wall + 2.5
    with store.unit_of_work() as w:
        w.updated(v)
    rec = store.get_event(v.id)
    assert rec is not None and rec.state is LifecycleState.OPEN
    assert (rec.peak_confidence, rec.peak_pts, rec.bbox) == (0.93, 14.0, v.bbox)
    assert (rec.end_pts, rec.end_wall) == (15.0, v.start_wall + 2.5)

    v.timeline = [
        TimelinePoint(12.5, 0.61, (10.0, 20.0, 110.0, 220.0)),
        TimelinePoint(14.0, 0.93, (12.0, 22.0, 112.0, 222.0)),
        TimelinePoint(15.0, 0.7, (13.0, 23.0, 113.0, 223.0)),
    ]
    v.ended = True
    evidence = Evidence(Path("media/a.jpg"), Path("media/a.mp4"), "ab" * 32, 7.5, 20.0)
    with store.unit_of_work() as w:
        w.ended(v, evidence)
        w.ended(v, evidence)  # repeating it does not duplicate the timeline
    rec = store.get_event(v.id)
    assert rec is not None and rec.state is LifecycleState.ENDED
    assert (rec.snapshot_path, rec.clip_path) == (Path("media/a.jpg"), Path("media/a.mp4"))
    assert (rec.clip_sha256, rec.clip_start_pts, rec.clip_end_pts) == ("ab" * 32, 7.5, 20.0)
    assert store.timeline(v.id) == v.timeline

    data = json.loads(json.dumps(rec.to_dict()))
    assert data["state"] == "ended" and data["status"] == "new"
    assert data["bbox"] == list(v.bbox) and data["clip_path"] == "media/a.mp4"


def test_ended_without_evidence_and_missing_event(store: EventStore) -> None:
    v = open_event(store)
    with store.unit_of_work() as w:
        w.ended(v, None)
    rec = store.get_event(v.id)
    assert rec is not None and rec.state is LifecycleState.ENDED and rec.snapshot_path is None
    with pytest.raises(EventNotFound), store.unit_of_work() as w:
        w.updated(violation())


def test_rollback_on_exception_leaves_no_row(store: EventStore) -> None:
    v = violation()
    with pytest.raises(RuntimeError, match="boom"), store.unit_of_work() as w:
        w.opened(v)
        raise RuntimeError("boom")
    assert store.get_event(v.id) is None
    assert store.list_events() == []


def test_list_events_filters_and_order(store: EventStore) -> None:
    a = open_event(store, start_wall=100.0)
    b = open_event(store, start_wall=200.0)
    c = open_event(store, camera="cam-9", rule="fall", start_wall=300.0)
    assert [r.id for r in store.list_events()] == [c.id, b.id, a.id]
    assert [r.id for r in store.list_events(camera="cam-3")] == [b.id, a.id]
    assert [r.id for r in store.list_events(rule="fall")] == [c.id]
    assert store.list_events(camera="cam-9", rule="no_helmet") == []
    assert [r.id for r in store.list_events(limit=1)] == [c.id]


def test_workflow_transitions_are_audited(store: EventStore) -> None:
    v = open_event(store)
    path = ["new", "acknowledged", "assigned", "rectified", "verified", "closed"]
    for before, after in zip(path, path[1:], strict=False):
        with store.unit_of_work() as w:
            w.record_transition(v.id, before, after, actor="ana", note=f"to {after}")
    rec = store.get_event(v.id)
    assert rec is not None and rec.status is WorkflowStatus.CLOSED
    audit = store.audit(v.id)
    assert [(a.from_status.value, a.to_status.value) for a in audit] == list(
        zip(path, path[1:], strict=False)
    )
    assert {a.actor for a in audit} == {"ana"} and audit[-1].note == "to closed"
    assert all(x.at <= y.at for x, y in zip(audit, audit[1:], strict=False))


def test_invalid_transition_is_rejected(store: EventStore) -> None:
    v = open_event(store)
    with pytest.raises(InvalidTransition), store.unit_of_work() as w:
        w.record_transition(v.id, "new", "closed", actor="ana", note=None)
    with pytest.raises(InvalidTransition, match="reason"), store.unit_of_work() as w:
        w.record_transition(v.id, "new", "dismissed", actor="ana", note="  ")
    with pytest.raises(StaleStatus), store.unit_of_work() as w:
        w.record_transition(v.id, "acknowledged", "assigned", actor="ana", note=None)
    with pytest.raises(EventNotFound), store.unit_of_work() as w:
        w.record_transition("0" * 32, "new", "acknowledged", actor="ana", note=None)
    rec = store.get_event(v.id)
    assert rec is not None and rec.status is WorkflowStatus.NEW
    assert store.audit(v.id) == []

    with store.unit_of_work() as w:
        w.record_transition(v.id, "new", "dismissed", actor="ana", note="reflection on glass")
    rec = store.get_event(v.id)
    assert rec is not None and rec.status is WorkflowStatus.DISMISSED


def test_check_transition_is_pure() -> None:
    check_transition("new", "acknowledged")
    check_transition(WorkflowStatus.VERIFIED, WorkflowStatus.CLOSED)
    check_transition("rectified", "dismissed", note="not a hazard after all")
    for bad in [("new", "assigned"), ("closed", "new"), ("dismissed", "new"), ("new", "new")]:
        with pytest.raises(InvalidTransition):
            check_transition(*bad)
    with pytest.raises(InvalidTransition, match="unknown"):
        check_transition("new", "done")
    assert allowed_transitions("closed") == frozenset()
    assert allowed_transitions("new") == {WorkflowStatus.ACKNOWLEDGED, WorkflowStatus.DISMISSED}


def test_for_data_dir_creates_sqlite_file(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / "vigil-data"
    with EventStore.for_data_dir(data_dir) as store:
        v = open_event(store)
        assert store.get_event(v.id) is not None
    assert (data_dir / "vigil.db").is_file()


def test_camera_health_is_overwritten_per_camera_and_gaps_recorded(store: EventStore) -> None:
    from vigil.streams.health import CameraState, HealthSnapshot

    def snap(state: CameraState, at: float, error: str | None = None) -> HealthSnapshot:
        return HealthSnapshot(
            camera="gate-3",
            name="Gate 3",
            source="rtsp://u:***@cam/1",
            state=state,
            state_since=at,
            fps_in=25.0,
            fps_analysed=2.0,
            last_frame_wall=at,
            reconnects=1,
            skipped=0,
            last_error=error,
            updated_at=at,
        )

    store.put_camera_health([snap(CameraState.LIVE, 1.0)], worker="host:1")
    store.put_camera_health([snap(CameraState.FAILED, 2.0, "401 Unauthorized")], worker="host:1")
    (row,) = store.camera_health()
    assert (row.state, row.last_error, row.worker) == (
        CameraState.FAILED,
        "401 Unauthorized",
        "host:1",
    )
    store.add_gap("gate-3", 10.0, 12.5, "stream ended")
    assert [(g.start_wall, g.end_wall, g.reason) for g in store.gaps("gate-3")] == [
        (10.0, 12.5, "stream ended")
    ]
    v = open_event(store, camera="gate-3")
    assert store.end_abandoned(["gate-3"]) == 1
    assert store.get_event(v.id).state is LifecycleState.ENDED


def test_every_event_change_writes_one_outbox_row_in_its_transaction(store: EventStore) -> None:
    v = violation()
    with store.unit_of_work() as w:
        w.opened(v, source="rtsp://cam-3/s")
    with store.unit_of_work() as w:
        w.updated(dataclasses.replace(v, peak_confidence=0.9, end_pts=14.0))
    with store.unit_of_work() as w:
        w.ended(dataclasses.replace(v, peak_confidence=0.9, end_pts=15.0), None)
    with store.unit_of_work() as w:
        w.record_transition(v.id, "new", "acknowledged", "op-1", "seen")
    with pytest.raises(RuntimeError), store.unit_of_work() as w:  # rolled back: no row
        w.record_transition(v.id, "acknowledged", "assigned", "op-1")
        raise RuntimeError("boom")

    rows = store.outbox_since(0)
    assert [r.type for r in rows] == ["new", "update", "end", "status"]
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    new, update, end, status = (r.payload for r in rows)
    assert new["before"] is None and new["after"]["state"] == "open"
    assert (update["before"]["peak_confidence"], update["after"]["peak_confidence"]) == (0.61, 0.9)
    assert end["before"]["state"] == "open" and end["after"]["state"] == "ended"
    assert (status["before"]["status"], status["after"]["status"]) == ("new", "acknowledged")
    assert status["actor"] == "op-1" and status["note"] == "seen"
    assert all(r.camera == "cam-3" and r.zone == "tank-farm" for r in rows)
    assert store.outbox_since(rows[1].id) == rows[2:]
    json.dumps([r.payload for r in rows])  # JSON-ready
