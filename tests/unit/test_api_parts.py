"""The API's parts that need no server: passwords, tokens, sessions, the session secret,
the outbox follower, cursors, media paths, accounts (on an in-memory SQLite store)."""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import jwt
import pytest
from argon2 import PasswordHasher, profiles
from sqlalchemy import select

from vigil.api import security
from vigil.api.accounts import AccountError, Accounts, LastAdmin, UnknownUser, UserExists
from vigil.api.config import SECRET_ENV, ApiConfig, SecretError, session_secret
from vigil.api.media import media_file
from vigil.api.outbox import GapFollower, OutboxHub
from vigil.api.queries import BadCursor, decode_cursor, encode_cursor
from vigil.api.security import (
    InvalidSession,
    Role,
    SessionSigner,
    hash_password,
    token_digest,
    verify_password,
)
from vigil.events.store import EventStore, OutboxRecord
from vigil.events.store.models import ApiTokenRow, UserRow
from vigil.events.violation import Violation

KEY = "k" * 40


@pytest.fixture(autouse=True)
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(security, "_hasher", PasswordHasher.from_parameters(profiles.CHEAPEST))


@pytest.fixture
def store():
    with EventStore("sqlite://") as s:
        yield s


def test_passwords_are_argon2id_hashes_that_verify_only_the_password() -> None:
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$") and "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "correct horsE")
    assert not verify_password(None, "correct horse")  # no such user
    assert not verify_password("not a hash", "correct horse")


def test_sessions_refuse_forged_tampered_and_expired_cookies() -> None:
    signer = SessionSigner(KEY, hours=1)
    cookie = signer.encode(7, "csrf-1", now=1000.0)
    with pytest.raises(InvalidSession):  # expired long ago
        signer.decode(cookie)
    fresh = signer.encode(7, "csrf-1")
    assert signer.decode(fresh).user_id == 7
    with pytest.raises(InvalidSession):
        SessionSigner("x" * 40, hours=1).decode(fresh)  # another key
    header, payload, sig = fresh.split(".")
    with pytest.raises(InvalidSession):
        signer.decode(f"{header}.{payload}.{sig[:-2]}AA")
    unsigned = jwt.encode({"sub": "1", "exp": 9e9, "csrf": "x"}, key=None, algorithm="none")
    with pytest.raises(InvalidSession):
        signer.decode(unsigned)
    assert KEY not in repr(signer)


def test_the_session_secret_comes_from_config_env_or_a_private_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(SECRET_ENV, raising=False)
    made = session_secret(ApiConfig(), tmp_path)
    key = tmp_path / "session.key"
    assert len(made) >= 32 and key.read_text() == made
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert session_secret(ApiConfig(), tmp_path) == made  # kept across restarts

    monkeypatch.setenv(SECRET_ENV, "e" * 32)
    assert session_secret(ApiConfig(), tmp_path) == "e" * 32
    monkeypatch.setenv("PLANT_KEY", "p" * 33)
    config = ApiConfig(session_secret="${PLANT_KEY}")
    assert session_secret(config, tmp_path) == "p" * 33
    assert "p" * 33 not in repr(config) and "PLANT_KEY" not in repr(config)
    with pytest.raises(SecretError, match="NOPE is not set"):
        session_secret(ApiConfig(session_secret="${NOPE}"), tmp_path)
    with pytest.raises(SecretError, match="at least 32") as short:
        session_secret(ApiConfig(session_secret="tiny-secret"), tmp_path)
    assert "tiny-secret" not in str(short.value)


def test_api_config_checks_its_values() -> None:
    with pytest.raises(ValueError, match="not a rate"):
        ApiConfig(login_rate="lots")
    with pytest.raises(ValueError, match="public_url"):
        ApiConfig(public_url="ftp://x")
    assert ApiConfig(public_url="https://vigil.plant").secure_cookies
    assert not ApiConfig(public_url="http://10.0.0.2:8080").secure_cookies
    assert ApiConfig(cookie_secure=True).secure_cookies


def test_accounts_keep_only_a_token_digest_and_refuse_dead_tokens(store: EventStore) -> None:
    accounts = Accounts(store.engine)
    accounts.add_user("ana", "a long passphrase", "operator", cameras=["b", "a", "b"])
    assert accounts.user("ana").cameras == ("a", "b")
    new = accounts.create_token("ana", "ci")
    with store.engine.connect() as conn:
        row = conn.execute(select(ApiTokenRow)).one()
        hashes = conn.execute(select(UserRow.password_hash)).scalars().all()
    assert row.token_sha256 == token_digest(new.secret) and new.secret not in str(row)
    assert all("a long passphrase" not in h for h in hashes)
    assert accounts.user_for_token(new.secret).name == "ana"
    assert accounts.user_for_token(new.secret + "x") is None
    assert accounts.user_for_token(new.secret, now=new.info.created_at + 1) is not None
    soon = accounts.create_token("ana", "short", expires_days=1)
    assert accounts.user_for_token(soon.secret, now=soon.info.expires_at + 1) is None
    accounts.update_user("ana", disabled=True)
    assert accounts.user_for_token(new.secret) is None
    assert accounts.authenticate("ana", "a long passphrase") is None


def test_accounts_refuse_bad_values_duplicates_and_losing_the_last_admin(
    store: EventStore,
) -> None:
    accounts = Accounts(store.engine)
    accounts.add_user("root", "a long passphrase", Role.ADMIN)
    with pytest.raises(UserExists):
        accounts.add_user("root", "a long passphrase", "viewer")
    for name, password, role, cameras in [
        ("bad name", "a long passphrase", "viewer", None),
        ("ok", "short", "viewer", None),
        ("ok", "a long passphrase", "owner", None),
        ("ok", "a long passphrase", "viewer", ["../etc"]),
    ]:
        with pytest.raises(AccountError):
            accounts.add_user(name, password, role, cameras=cameras)
    with pytest.raises(UnknownUser):
        accounts.update_user("nobody", role="viewer")
    with pytest.raises(LastAdmin):
        accounts.update_user("root", disabled=True)
    with pytest.raises(LastAdmin):
        accounts.update_user("root", role="viewer")
    assert accounts.user("root").role is Role.ADMIN and not accounts.user("root").disabled
    accounts.add_user("deputy", "a long passphrase", "admin")
    assert accounts.update_user("root", role="viewer").role is Role.VIEWER  # one admin left


def row(i: int) -> OutboxRecord:
    return OutboxRecord(i, "e", "new", "cam", "fall", None, "high", {"id": i}, 0.0)


def test_the_follower_waits_at_a_hole_then_gives_up_on_it() -> None:
    f = GapFollower(position=10, hold_s=0.5)
    assert f.take([row(11), row(12)], now=0.0) == [row(11), row(12)]
    assert f.take([row(14)], now=1.0) == []  # 13 may still commit
    assert f.take([row(14)], now=1.4) == []
    assert f.take([row(13), row(14)], now=1.45) == [row(13), row(14)]  # it did, in order
    assert f.take([row(16), row(17)], now=2.0) == []
    assert f.take([row(16), row(17)], now=2.6) == [row(16), row(17)]  # 15 rolled back
    assert f.position == 17


def test_the_hub_serves_recent_rows_from_memory_and_older_ones_from_the_store(
    tmp_path: Path,
) -> None:
    store = EventStore.for_data_dir(tmp_path)  # a file: the hub reads from worker threads

    def write(n: int) -> None:
        for _ in range(n):
            v = Violation(
                "cam", "fall", "person_fallen", "track:1", "high", 0, 0, 0, 0, 0.9, 0, (0, 0, 1, 1)
            )
            with store.unit_of_work() as w:
                w.opened(v)

    async def scenario() -> tuple[list[int], list[int], list[int]]:
        write(3)
        hub = OutboxHub(store, poll_s=0.01, keep=4)
        await hub.start()
        assert hub.position == 3  # starts at the newest row: no replay
        write(6)
        while hub.position < 9:
            await hub.wait(hub.position, 1.0)
        recent = [r.id for r in await hub.after(7)]  # in the ring
        older = [r.id for r in await hub.after(1)]  # before the ring: read from the store
        waited = asyncio.create_task(hub.wait(9, 5.0))
        write(1)
        await waited
        newest = [r.id for r in await hub.after(9)]
        await hub.close()
        return recent, older, newest

    try:
        recent, older, newest = asyncio.run(scenario())
    finally:
        store.dispose()
    assert recent == [8, 9]
    assert older == [2, 3, 4, 5, 6, 7, 8, 9]
    assert newest == [10]


def test_cursors_round_trip_and_foreign_ones_are_refused() -> None:
    assert decode_cursor(encode_cursor(1767000000.123456, "ab_12")) == (1767000000.123456, "ab_12")
    for garbage in (
        "",
        "!!!",
        "bm90IGpzb24",
        encode_cursor(float("inf"), "x")[:-1] + "A",
        "WzEsICJhXHUwMDAwYiJd",
        "WyJ4IiwgImEiXQ",
        "W3RydWUsICJhIl0",
    ):
        with pytest.raises(BadCursor):
            decode_cursor(garbage)


def test_media_is_only_what_lies_inside_the_media_folder(tmp_path: Path) -> None:
    root = tmp_path / "data" / "media"
    day = root / "gate-3" / "2026-01-02"
    day.mkdir(parents=True)
    clip = day / "e1.mp4"
    clip.write_bytes(b"clip")
    outside = tmp_path / "secret.txt"
    outside.write_text("secret")
    (day / "link.mp4").symlink_to(outside)
    os.symlink(day, root / "loop")
    assert media_file(root, clip) == clip.resolve()
    assert media_file(root, Path("old-data/media/gate-3/2026-01-02/e1.mp4")) == clip.resolve()
    for bad in (
        outside,
        day / "link.mp4",
        day / ".." / ".." / ".." / "secret.txt",
        Path("media/../../secret.txt"),
        root,
        day,
        Path("/etc/passwd"),
        Path("media/gate-3/x/\x00.mp4"),
        None,
    ):
        assert media_file(root, bad) is None, bad
