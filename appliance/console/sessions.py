"""Console sessions: a random secret in an HTTP-only, SameSite=Strict cookie (Secure, with the `__Host-`
prefix, over TLS); the database keeps only its SHA-256, the user, the CSRF token of the session, and when it
expires (absolute lifetime and idle timeout). A session opened with an API token keeps that token's scope and
ends when the token is revoked; a disabled user's sessions end at once.

The principal of a session is resolved on every request, so group changes apply to open sessions
immediately."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete

from appliance.auth.principal import Principal
from appliance.state.db import Database
from appliance.state.models import ApiToken, ConsoleSession, User, utcnow
from appliance.users.access import effective_scope

COOKIE = "codemoat_session"
SECURE_COOKIE = "__Host-codemoat_session"
LOGIN_CSRF_COOKIE = "codemoat_login_csrf"
SECURE_LOGIN_CSRF_COOKIE = "__Host-codemoat_login_csrf"
_TOUCH_EVERY = timedelta(seconds=60)


def cookie_names(secure: bool) -> tuple[str, str]:
    """(session cookie, sign-in CSRF cookie) names for a secure or a plain-HTTP console."""
    return (SECURE_COOKIE, SECURE_LOGIN_CSRF_COOKIE) if secure else (COOKIE, LOGIN_CSRF_COOKIE)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same_token(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(str(a).encode(), str(b).encode())


@dataclass(frozen=True, slots=True)
class SessionContext:
    """A signed-in browser: who, with what scope, and the CSRF token its state-changing requests must carry."""

    id: str
    principal: Principal
    csrf: str
    via_token: bool
    expires: datetime

    @property
    def is_admin(self) -> bool:
        return self.principal.is_admin


class SessionStore:
    def __init__(
        self, db: Database, *, lifetime: timedelta, idle: timedelta, clock: Callable[[], datetime] = utcnow
    ) -> None:
        self._db = db
        self.lifetime = lifetime
        self.idle = idle
        self._clock = clock

    def create(self, user_id: int, *, token_id: int | None = None, source: str = "") -> tuple[str, str]:
        """Open a session; returns (cookie secret, CSRF token). Expired sessions are swept on the way."""
        secret, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        now = self._clock()
        with self._db.session() as session:
            session.execute(delete(ConsoleSession).where(ConsoleSession.expires < now))
            session.add(
                ConsoleSession(
                    id=_digest(secret),
                    user_id=user_id,
                    token_id=token_id,
                    csrf=csrf,
                    created=now,
                    expires=now + self.lifetime,
                    last_seen=now,
                    source=source[:160],
                )
            )
        return secret, csrf

    def resolve(self, secret: str | None) -> SessionContext | None:
        """The live session behind a cookie, or None (unknown, expired, idle too long, user disabled, token
        revoked)."""
        if not secret or len(secret) > 128:
            return None
        now = self._clock()
        with self._db.session() as session:
            row = session.get(ConsoleSession, _digest(secret))
            if row is None:
                return None
            user = session.get(User, row.user_id)
            token = session.get(ApiToken, row.token_id) if row.token_id is not None else None
            dead = (
                row.expires <= now
                or now - row.last_seen > self.idle
                or user is None
                or user.disabled
                or (row.token_id is not None and (token is None or token.revoked is not None))
            )
            if dead:
                session.delete(row)
                return None
            assert user is not None
            if now - row.last_seen >= _TOUCH_EVERY:
                row.last_seen = now
            scope = effective_scope(session, user.id, user.role, token.repos if token is not None else None)
            principal = Principal(
                user_id=user.id,
                user_name=user.name,
                role=user.role,
                token_id=token.id if token is not None else None,
                token_name=token.name if token is not None else "console",
                repos=scope,
            )
            return SessionContext(row.id, principal, row.csrf, token is not None, row.expires)

    def destroy(self, secret: str | None) -> None:
        if secret:
            with self._db.session() as session:
                session.execute(delete(ConsoleSession).where(ConsoleSession.id == _digest(secret)))
