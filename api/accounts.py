"""Users and API tokens in the event store's database (tables ``users`` and ``api_tokens``).

>>> from vigil.events.store import EventStore
>>> store = EventStore("sqlite://")
>>> accounts = Accounts(store.engine)
>>> accounts.add_user("ana", "a long passphrase", Role.OPERATOR, cameras=["gate-3"]).cameras
('gate-3',)
>>> new = accounts.create_token("ana", "grafana")
>>> accounts.user_for_token(new.secret).name
'ana'
>>> accounts.revoke_token(new.info.id).revoked_at is not None
True
>>> accounts.user_for_token(new.secret) is None
True
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from vigil import VigilError
from vigil.events.store.models import ApiTokenRow, UserRow

from .security import Role, hash_password, new_token_secret, token_digest, verify_password

USER_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"
CAMERA_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"  # as a site file's camera ids
GROUP_PATTERN = r"^[^\x00-\x1f\x7f]{1,64}$"
PASSWORD_MIN, PASSWORD_MAX = 8, 1024
LAST_USED_EVERY_S = 60.0  # a token's last use is written at most this often


class AccountError(VigilError, ValueError):
    """A request about users or tokens that cannot be done; ``status`` is its HTTP status."""

    status = 422


class UserExists(AccountError):
    status = 409


class UnknownUser(AccountError):
    status = 404


class UnknownToken(AccountError):
    status = 404


class LastAdmin(AccountError):
    status = 409


@dataclass(frozen=True, slots=True)
class User:
    """A user as callers see it (no password hash). ``cameras`` None: every camera."""

    id: int
    name: str
    role: Role
    group: str | None
    cameras: tuple[str, ...] | None
    disabled: bool
    created_at: float
    updated_at: float

    def can_see(self, camera: str) -> bool:
        return self.cameras is None or camera in self.cameras


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """An API token without its secret; epoch seconds."""

    id: int
    name: str
    user: str
    prefix: str
    created_at: float
    expires_at: float | None
    revoked_at: float | None
    last_used_at: float | None


@dataclass(frozen=True, slots=True)
class NewToken:
    info: TokenInfo
    secret: str  # shown once, never stored


_UNSET: Any = object()


def check_user_name(name: str) -> str:
    if not re.fullmatch(USER_NAME_PATTERN, name):
        raise AccountError(
            f"user name {name!r}: use 1 to 64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    return name


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise AccountError(f"a password needs {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    return password


def check_cameras(cameras: Sequence[str] | None) -> list[str] | None:
    if cameras is None:
        return None
    for camera in cameras:
        if not re.fullmatch(CAMERA_ID_PATTERN, camera):
            raise AccountError(f"camera id {camera!r} is not valid")
    return sorted(set(cameras))


def check_group(group: str | None) -> str | None:
    if group is not None and not re.fullmatch(GROUP_PATTERN, group):
        raise AccountError("a group name needs 1 to 64 printable characters")
    return group


class Accounts:
    """Reads and writes users and tokens; each method is one transaction."""

    def __init__(self, engine: Engine) -> None:
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    # --- users ----------------------------------------------------------------------------

    def add_user(
        self,
        name: str,
        password: str,
        role: Role | str,
        *,
        group: str | None = None,
        cameras: Sequence[str] | None = None,
    ) -> User:
        """A new enabled user; UserExists if the name is taken, AccountError for bad values."""
        row = UserRow(
            name=check_user_name(name),
            password_hash=hash_password(check_password(password)),
            role=_role(role).value,
            group_name=check_group(group),
            cameras=check_cameras(cameras),
            disabled=False,
            created_at=(now := time.time()),
            updated_at=now,
        )
        try:
            with self._sessions.begin() as session:
                session.add(row)
                session.flush()
        except IntegrityError:
            raise UserExists(f"a user named {name!r} exists already") from None
        return _user(row)

    def users(self) -> list[User]:
        with self._sessions() as session:
            return [_user(r) for r in session.scalars(select(UserRow).order_by(UserRow.name))]

    def user(self, name: str) -> User:
        with self._sessions() as session:
            return _user(self._user_row(session, name))

    def user_by_id(self, user_id: int) -> User | None:
        with self._sessions() as session:
            row = session.get(UserRow, user_id)
            return None if row is None else _user(row)

    def update_user(
        self,
        name: str,
        *,
        role: Role | str = _UNSET,
        group: str | None = _UNSET,
        cameras: Sequence[str] | None = _UNSET,
        disabled: bool = _UNSET,
        password: str = _UNSET,
    ) -> User:
        """Change what is given; LastAdmin if no enabled admin would be left."""
        with self._sessions.begin() as session:
            row = self._user_row(session, name)
            was_admin = _enabled_admin(row)
            if role is not _UNSET:
                row.role = _role(role).value
            if group is not _UNSET:
                row.group_name = check_group(group)
            if cameras is not _UNSET:
                row.cameras = check_cameras(cameras)
            if disabled is not _UNSET:
                row.disabled = bool(disabled)
            if password is not _UNSET:
                row.password_hash = hash_password(check_password(password))
            row.updated_at = time.time()
            session.flush()
            if was_admin and not _enabled_admin(row):
                admins = session.scalar(
                    select(func.count())
                    .select_from(UserRow)
                    .where(UserRow.role == Role.ADMIN.value, UserRow.disabled.is_(False))
                )
                if not admins:  # rolled back with the exception
                    raise LastAdmin("this would leave no enabled admin; make another admin first")
            return _user(row)

    def authenticate(self, name: str, password: str) -> User | None:
        """The enabled user with this name and password, else None (same cost either way)."""
        with self._sessions() as session:
            row = session.scalar(select(UserRow).where(UserRow.name == name))
        ok = verify_password(None if row is None else row.password_hash, password)
        if row is None or not ok or row.disabled:
            return None
        return _user(row)

    # --- tokens ---------------------------------------------------------------------------

    def create_token(self, user: str, name: str, *, expires_days: float | None = None) -> NewToken:
        """A new token for ``user``; its secret is in the result and nowhere else."""
        secret = new_token_secret()
        now = time.time()
        with self._sessions.begin() as session:
            owner = self._user_row(session, user)
            row = ApiTokenRow(
                user_id=owner.id,
                name=name,
                prefix=secret[:8],
                token_sha256=token_digest(secret),
                created_at=now,
                expires_at=None if expires_days is None else now + expires_days * 86400,
            )
            session.add(row)
            session.flush()
            return NewToken(_token(row, owner.name), secret)

    def tokens(self, user: str | None = None) -> list[TokenInfo]:
        query = select(ApiTokenRow, UserRow.name).join(UserRow, ApiTokenRow.user_id == UserRow.id)
        if user is not None:
            query = query.where(UserRow.name == user)
        with self._sessions() as session:
            rows = session.execute(query.order_by(ApiTokenRow.id)).all()
            return [_token(token, owner) for token, owner in rows]

    def revoke_token(self, token_id: int) -> TokenInfo:
        """Revoke the token (again: no change); UnknownToken if there is none."""
        with self._sessions.begin() as session:
            row = session.get(ApiTokenRow, token_id)
            if row is None:
                raise UnknownToken(f"no token with id {token_id}")
            if row.revoked_at is None:
                row.revoked_at = time.time()
            owner = session.get(UserRow, row.user_id)
            assert owner is not None
            return _token(row, owner.name)

    def user_for_token(self, secret: str, now: float | None = None) -> User | None:
        """The enabled user of a live (not revoked, not expired) token, else None."""
        now = time.time() if now is None else now
        with self._sessions() as session:
            found = session.execute(
                select(ApiTokenRow, UserRow)
                .join(UserRow, ApiTokenRow.user_id == UserRow.id)
                .where(ApiTokenRow.token_sha256 == token_digest(secret))
            ).first()
        if found is None:
            return None
        token, owner = found
        if token.revoked_at is not None or owner.disabled:
            return None
        if token.expires_at is not None and token.expires_at <= now:
            return None
        if token.last_used_at is None or now - token.last_used_at >= LAST_USED_EVERY_S:
            self._touch(token.id, now)
        return _user(owner)

    def still_allowed(
        self, user_id: int, token_sha256: str | None, now: float | None = None
    ) -> User | None:
        """The user as stored now, if still enabled (and, for a token, the token still live):
        what a long-lived request (the event stream) re-checks from time to time."""
        now = time.time() if now is None else now
        with self._sessions() as session:
            user = session.get(UserRow, user_id)
            if user is None or user.disabled:
                return None
            if token_sha256 is not None:
                token = session.scalar(
                    select(ApiTokenRow).where(ApiTokenRow.token_sha256 == token_sha256)
                )
                if token is None or token.revoked_at is not None or token.user_id != user_id:
                    return None
                if token.expires_at is not None and token.expires_at <= now:
                    return None
            return _user(user)

    def _touch(self, token_id: int, now: float) -> None:
        try:
            with self._sessions.begin() as session:
                session.execute(
                    update(ApiTokenRow).where(ApiTokenRow.id == token_id).values(last_used_at=now)
                )
        except OperationalError:
            pass  # a busy database: the last use is a hint, the request goes on

    @staticmethod
    def _user_row(session: Session, name: str) -> UserRow:
        row = session.scalar(select(UserRow).where(UserRow.name == name))
        if row is None:
            raise UnknownUser(f"no user named {name!r}")
        return row


def _enabled_admin(row: UserRow) -> bool:
    return row.role == Role.ADMIN.value and not row.disabled


def _role(role: Role | str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise AccountError(
            f"unknown role {role!r}; use one of {', '.join(r.value for r in Role)}"
        ) from None


def _user(row: UserRow) -> User:
    return User(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        group=row.group_name,
        cameras=None if row.cameras is None else tuple(row.cameras),
        disabled=row.disabled,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def _token(row: ApiTokenRow, owner: str) -> TokenInfo:
    return TokenInfo(
        id=row.id,
        name=row.name,
        user=owner,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
