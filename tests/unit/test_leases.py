"""Camera leases (events/store/leases.py) on SQLite and PostgreSQL: shares, renewal, expiry,
release, crashed workers of this host, and workers claiming at the same moment."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from vigil.events.store.leases import (
    CameraLeases,
    WorkerInfo,
    camera_leases,
    share,
    workers,
)
from vigil.events.store.store import EventStore

CAMERAS = ["c1", "c2", "c3", "c4"]
TTL = 6.0
T0 = 1_000_000.0


@pytest.fixture
def store(url: str) -> Iterator[EventStore]:
    with EventStore(url) as s:
        yield s


def worker(store: EventStore, name: str, capacity: int | None = None, pid: int = 1) -> CameraLeases:
    leases = CameraLeases(store, WorkerInfo(name, "host-a", pid, capacity), TTL)
    leases.register(now=T0)
    return leases


def test_share_is_fair_within_capacities():
    assert share(4, None, []) == 4
    assert share(4, None, [None]) == 2
    assert share(5, None, [None, None]) == 2
    assert share(4, 3, [1]) == 3  # the other can take one: this one takes the rest
    assert share(10, 2, [None]) == 2


def test_two_workers_split_the_cameras_and_the_first_hands_back_its_excess(store: EventStore):
    a = worker(store, "a")
    held_a, _ = a.heartbeat(CAMERAS, now=T0)
    assert held_a == set(CAMERAS)  # alone: all of them
    b = worker(store, "b")
    held_b, target_b = b.heartbeat(CAMERAS, now=T0 + 1)
    assert (held_b, target_b) == (set(), 2)  # none free yet
    held_a, target_a = a.heartbeat(CAMERAS, now=T0 + 2)
    assert target_a == 2 and len(held_a) == 4  # a's runner now hands two over
    a.release(sorted(held_a)[2:])
    held_b, _ = b.heartbeat(CAMERAS, now=T0 + 3)
    assert held_b == {"c3", "c4"}
    assert {x.camera: x.holder(T0 + 3) for x in camera_leases(store)} == {
        "c1": "a",
        "c2": "a",
        "c3": "b",
        "c4": "b",
    }


def test_a_silent_workers_leases_expire_and_move(store: EventStore):
    a, b = worker(store, "a"), worker(store, "b")
    a.heartbeat(CAMERAS, now=T0)
    b.heartbeat(CAMERAS, now=T0)
    a.heartbeat(CAMERAS, now=T0 + 1)
    assert b.heartbeat(CAMERAS, now=T0 + 1 + TTL - 0.5)[0] == {"c3", "c4"}  # not yet expired
    assert b.heartbeat(CAMERAS, now=T0 + 1 + TTL + 0.1) == (set(CAMERAS), 4)
    assert a.heartbeat(CAMERAS, now=T0 + 1 + TTL + 0.2)[0] == set()  # a learns it lost them


def test_an_expired_lease_nobody_took_is_renewed_by_its_holder(store: EventStore):
    a = worker(store, "a")
    a.heartbeat(CAMERAS, now=T0)
    # The store was away for 3 TTLs; a is back first: its cameras are still its own.
    assert a.heartbeat(CAMERAS, now=T0 + 3 * TTL)[0] == set(CAMERAS)


def test_capacity_caps_what_a_worker_claims(store: EventStore):
    a = worker(store, "a", capacity=1)
    assert a.heartbeat(CAMERAS, now=T0) == ({"c1"}, 1)


def test_unregister_releases_at_once(store: EventStore):
    a, b = worker(store, "a"), worker(store, "b")
    a.heartbeat(CAMERAS, now=T0)
    a.unregister()
    assert [w.id for w in workers(store)] == ["b"]
    assert b.heartbeat(CAMERAS, now=T0 + 0.1)[0] == set(CAMERAS)


def test_a_crashed_worker_of_this_host_is_freed_by_the_next(store: EventStore):
    dead = worker(store, "dead", pid=111)
    dead.heartbeat(CAMERAS, now=T0)
    new = worker(store, "new", pid=222)
    assert new.free_dead_on_this_host(alive=lambda pid: pid != 111) == ["dead"]
    assert new.heartbeat(CAMERAS, now=T0 + 0.1)[0] == set(CAMERAS)


def test_workers_claiming_together_never_share_a_camera(store: EventStore):
    cameras = [f"cam{i:02d}" for i in range(24)]
    leases = [worker(store, f"w{i}") for i in range(4)]
    held: dict[str, set[str]] = {}
    start = threading.Barrier(len(leases))

    def claim(lease: CameraLeases) -> None:
        start.wait()
        for _ in range(5):
            held[lease.worker.id] = lease.heartbeat(cameras, now=T0 + 1)[0]

    threads = [threading.Thread(target=claim, args=(lease,)) for lease in leases]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    taken = [c for cams in held.values() for c in cams]
    assert len(taken) == len(set(taken)) == len(cameras)
    assert max(len(cams) for cams in held.values()) <= 6  # ceil(24 / 4)
