"""The API's settings (``api:`` in a site file) and where its session secret comes from.

>>> ApiConfig().port
8080
>>> ApiConfig.model_validate({"login_rate": "often"})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for ApiConfig
login_rate
  Value error, 'often' is not a rate such as '5/minute' or '10 per hour' ...
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from limits import parse
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from vigil import VigilError

SECRET_ENV = "VIGIL_SESSION_SECRET"
SECRET_FILE = "session.key"  # in the data dir, 0600, made on first start
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class ApiConfig(BaseModel):
    """How `vigil serve` (and `vigil run --serve`) listens and keeps people signed in."""

    model_config = ConfigDict(extra="forbid")

    host: str = Field("127.0.0.1", description="address to listen on; 0.0.0.0 for every one")
    port: int = Field(8080, ge=1, le=65535, description="TCP port to listen on")
    public_url: str | None = Field(
        None,
        pattern=r"^https?://[^\s]+$",
        description="the URL people reach the API at (links in alerts); https makes cookies Secure",
    )
    session_secret: SecretStr | None = Field(
        None,
        description="key that signs session cookies, at least 32 characters; `${VAR}` reads it "
        f"from the environment; default: ${SECRET_ENV}, else a key generated once and kept in "
        f"the data dir ({SECRET_FILE})",
    )
    session_hours: float = Field(12.0, gt=0, le=24 * 30, description="a sign-in lasts this long")
    cookie_secure: bool | None = Field(
        None, description="send cookies over HTTPS only; default: when public_url is https"
    )
    login_rate: str = Field(
        "5/minute", description="login attempts allowed per client address, e.g. '5/minute'"
    )
    max_body_bytes: int = Field(
        1 << 20, ge=1024, le=1 << 30, description="largest request body (JSON) accepted"
    )
    max_upload_bytes: int = Field(
        20 << 20, ge=1024, le=1 << 32, description="largest upload (hazard photos) accepted"
    )
    sse_poll_seconds: float = Field(
        0.2, gt=0, le=5, description="how often the event stream looks for new changes"
    )

    @field_validator("login_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not a rate such as '5/minute' or '10 per hour'"
            ) from None
        return value

    @property
    def secure_cookies(self) -> bool:
        if self.cookie_secure is not None:
            return self.cookie_secure
        return bool(self.public_url and self.public_url.startswith("https://"))


class SecretError(VigilError, ValueError):
    """The session secret cannot be had: one line, never the secret itself."""


def session_secret(config: ApiConfig, data_dir: Path) -> str:
    """The key that signs sessions: the configured one (``${VAR}`` expanded), else
    ``$VIGIL_SESSION_SECRET``, else the data dir's ``session.key`` (made once, mode 0600).

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> session_secret(ApiConfig(), d) == session_secret(ApiConfig(), d)
    True
    """
    if config.session_secret is not None:
        return _checked(_expand(config.session_secret.get_secret_value()), "api.session_secret")
    if os.environ.get(SECRET_ENV):
        return _checked(os.environ[SECRET_ENV], SECRET_ENV)
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
    return _checked(path.read_text().strip(), str(path))


def _expand(value: str) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise SecretError(f"api.session_secret: environment variable {name} is not set")
        return os.environ[name]

    return _ENV_REF.sub(replace, value)


def _checked(secret: str, where: str) -> str:
    if len(secret) < 32:
        raise SecretError(f"{where}: the session secret needs at least 32 characters")
    return secret
