"""Passwords, API tokens and session cookies: the pieces of auth that need no database.

>>> hashed = hash_password("correct horse battery")
>>> verify_password(hashed, "correct horse battery"), verify_password(hashed, "wrong")
(True, False)
>>> secret = new_token_secret()
>>> secret.startswith(TOKEN_PREFIX), len(token_digest(secret))
(True, 64)
>>> sessions = SessionSigner("k" * 32, hours=1)
>>> claims = sessions.decode(sessions.encode(user_id=7, csrf="abc"))
>>> claims.user_id, claims.csrf
(7, 'abc')
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "vgl_"
SESSION_COOKIE = "vigil_session"
CSRF_COOKIE = "vigil_csrf"
CSRF_HEADER = "X-CSRF-Token"

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified against when the user does not exist, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(StrEnum):
    """What a user may do (DESIGN.md, API): admin manages users; the others act on events."""

    ADMIN = "admin"
    OPERATOR = "operator"  # control room: acknowledge, dismiss, assign
    RECTIFIER = "rectifier"  # acts on items assigned to them or their group
    VERIFIER = "verifier"  # verifies and closes
    VIEWER = "viewer"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(hashed: str | None, password: str) -> bool:
    """Whether ``password`` matches ``hashed`` (None: no such user, checked all the same)."""
    try:
        return _hasher.verify(hashed or _DUMMY_HASH, password) and hashed is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token_secret() -> str:
    """A fresh API token: ``vgl_`` and 43 URL-safe characters (256 random bits)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    """What the store keeps of a token: its sha256, hex (tokens are random, so no salt)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_csrf_token() -> str:
    return secrets.token_urlsafe(24)


def same_secret(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two optional strings (False when either is missing)."""
    return bool(a and b) and hmac.compare_digest(a.encode(), b.encode())  # type: ignore[union-attr]


class InvalidSession(ValueError):
    """A session cookie that is missing, forged, malformed or expired."""


@dataclass(frozen=True, slots=True)
class SessionClaims:
    user_id: int
    csrf: str
    expires_at: float


class SessionSigner:
    """Signs and checks session cookies: an HS256 JWT with the user id, the session's CSRF
    token and an expiry."""

    def __init__(self, secret: str, hours: float) -> None:
        self._secret = secret
        self.seconds = int(hours * 3600)

    def encode(self, user_id: int, csrf: str, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims = {
            "sub": str(user_id),
            "csrf": csrf,
            "iat": int(now),
            "exp": int(now) + self.seconds,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def decode(self, cookie: str) -> SessionClaims:
        try:
            claims = jwt.decode(
                cookie, self._secret, algorithms=["HS256"], options={"require": ["exp", "sub"]}
            )
            return SessionClaims(int(claims["sub"]), str(claims["csrf"]), float(claims["exp"]))
        except (jwt.PyJWTError, KeyError, ValueError, TypeError) as exc:
            raise InvalidSession(str(exc)) from None

    def __repr__(self) -> str:  # never show the key
        return f"SessionSigner(hours={self.seconds / 3600:g})"
