"""Console sessions (on SQLite and PostgreSQL): only a hash of the cookie is stored, sessions expire (absolute
lifetime and idle timeout), end when the user is disabled or the token they were opened with is revoked, and
resolve the user's current access on every request."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from appliance.audit.log import AuditLog
from appliance.auth.tokens import TokenStore
from appliance.console.sessions import SessionStore
from appliance.state.db import Database
from appliance.state.models import ConsoleSession
from appliance.users.accounts import Accounts
from appliance.users.groups import Groups

from .conftest import ADMIN


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def store(database: Database, clock: Clock) -> SessionStore:
    return SessionStore(database, lifetime=timedelta(hours=8), idle=timedelta(minutes=30), clock=clock)


def test_a_session_resolves_to_the_users_current_access(database: Database, audit: AuditLog) -> None:
    clock = Clock()
    sessions = store(database, clock)
    accounts, groups = Accounts(database, audit), Groups(database, audit)
    user = accounts.create("ann", actor=ADMIN).user
    groups.create("g", members=["ann"], repos=["alpha"], actor=ADMIN)
    secret, csrf = sessions.create(user.id, source="10.0.0.1")
    with database.session() as session:
        stored = session.scalars(select(ConsoleSession.id)).all()
    assert stored == [hashlib.sha256(secret.encode()).hexdigest()]  # the cookie itself is never stored
    context = sessions.resolve(secret)
    assert context is not None and context.csrf == csrf and context.principal.repos == ("alpha",)
    assert context.principal.token_id is None and not context.via_token
    groups.grant("g", "beta", actor=ADMIN)
    assert sessions.resolve(secret).principal.repos == ("alpha", "beta")  # type: ignore[union-attr]
    assert sessions.resolve("cm_not-a-session") is None and sessions.resolve(None) is None
    sessions.destroy(secret)
    assert sessions.resolve(secret) is None


def test_sessions_expire_when_idle_and_at_the_end_of_their_lifetime(
    database: Database, audit: AuditLog
) -> None:
    clock = Clock()
    sessions = store(database, clock)
    user = Accounts(database, audit).create("ann", actor=ADMIN).user
    secret, _ = sessions.create(user.id)
    for _ in range(20):  # used every 29 minutes: idle never runs out, but 8 hours do
        clock.now += timedelta(minutes=29)
        if clock.now - datetime(2026, 5, 1, 9, 0, tzinfo=UTC) >= timedelta(hours=8):
            assert sessions.resolve(secret) is None
            break
        assert sessions.resolve(secret) is not None
    else:
        raise AssertionError("the session outlived its lifetime")
    idle, _ = sessions.create(user.id)
    clock.now += timedelta(minutes=31)
    assert sessions.resolve(idle) is None


def test_sessions_end_with_their_user_or_token(database: Database, audit: AuditLog) -> None:
    clock = Clock()
    sessions = store(database, clock)
    accounts = Accounts(database, audit)
    tokens = TokenStore(database)
    accounts.create("root", role="admin", actor=ADMIN)
    user = accounts.create("ann", actor=ADMIN).user
    Groups(database, audit).create("g", members=["ann"], repos=["alpha"], actor=ADMIN)
    by_password, _ = sessions.create(user.id)
    issued = tokens.create("ann-laptop", user="ann", repos=["alpha"])
    by_token, _ = sessions.create(user.id, token_id=issued.info.id)
    context = sessions.resolve(by_token)
    assert context is not None and context.via_token and context.principal.token_name == "ann-laptop"
    tokens.revoke("ann-laptop")
    assert sessions.resolve(by_token) is None
    assert sessions.resolve(by_password) is not None
    accounts.set_disabled("ann", True, actor=ADMIN)
    assert sessions.resolve(by_password) is None
