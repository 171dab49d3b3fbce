"""Tokens through the Python API: random, stored only as hashes, resolved to a principal with its scope,
revocable, and `last_used` written at most once per interval."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text

from appliance.audit.log import Actor, AuditLog
from appliance.auth.errors import (
    AuthenticationError,
    PermissionDeniedError,
    TokenConflictError,
    TokenNotFoundError,
    TokenScopeError,
)
from appliance.auth.tokens import TokenStore, hash_secret
from appliance.state.config import StateSettings
from appliance.state.db import Database
from appliance.state.models import ApiToken, User
from appliance.users.groups import Groups


@pytest.fixture
def db(tmp_path: Path) -> Database:
    return Database.open(StateSettings(), tmp_path)


def test_secret_is_random_and_only_its_hash_is_stored(db: Database) -> None:
    store = TokenStore(db)
    one, two = store.create("one"), store.create("two")
    assert one.token != two.token and one.token.startswith("cm_") and len(one.token) == 46
    with db.engine.connect() as connection:
        dump = "\n".join(str(row) for row in connection.execute(text("SELECT * FROM tokens")))
    assert one.token not in dump and two.token not in dump
    assert hash_secret(one.token) in dump
    assert one.info.prefix == one.token[:11]


def test_authenticate_returns_the_principal_with_its_scope(db: Database) -> None:
    store = TokenStore(db)
    admin = store.create("root", admin=True)
    store.create("alice")
    Groups(db, AuditLog(db)).create(
        "devs", members=["alice"], repos=["web", "api", "docs"], actor=Actor("tests")
    )
    with pytest.raises(TokenScopeError) as outside:
        store.create("ci", user="alice", repos=["web", "api", "secret"])
    assert "may not read secret" in str(outside.value) and outside.value.param == "repos"
    scoped = store.create("ci", user="alice", repos=["web", "api", "web"])
    p = store.authenticate(admin.token)
    assert (p.user_name, p.role, p.is_admin, p.repos) == ("root", "admin", True, None)
    # The token narrows what the user's groups grant ("docs" is granted, not in the token).
    q = store.authenticate(scoped.token)
    assert (q.user_name, q.token_name, q.is_admin, q.repos) == ("alice", "ci", False, ("api", "web"))
    assert q.may_read("web") and not q.may_read("secret")
    assert q.scope(None) == ("api", "web")
    assert q.scope(["api"]) == ("api",)
    with pytest.raises(PermissionDeniedError) as denied:
        q.scope(["secret"])
    assert denied.value.param == "repo"


def test_unknown_and_malformed_secrets_are_refused(db: Database) -> None:
    store = TokenStore(db)
    store.create("one")
    for secret in ("cm_" + "A" * 43, "sk-not-ours", "", "cm_" + "x" * 500):
        with pytest.raises(AuthenticationError, match="invalid API token"):
            store.authenticate(secret)


def test_revoked_token_and_disabled_user_are_denied(db: Database) -> None:
    store = TokenStore(db)
    issued = store.create("laptop", user="bob")
    store.revoke("laptop")
    with pytest.raises(PermissionDeniedError, match="revoked"):
        store.authenticate(issued.token)
    again = store.create("laptop", user="bob")  # the name is free again once revoked
    with db.session() as session:
        session.scalar(select(User).where(User.name == "bob")).disabled = True
    with pytest.raises(PermissionDeniedError, match="disabled"):
        store.authenticate(again.token)


def test_revoke_by_id_is_idempotent_and_unknown_names_fail(db: Database) -> None:
    store = TokenStore(db)
    issued = store.create("one")
    first = store.revoke(str(issued.info.id))
    second = store.revoke(str(issued.info.id))
    assert first.revoked is not None and second.revoked == first.revoked
    with pytest.raises(TokenNotFoundError):
        store.revoke("one")
    with pytest.raises(TokenNotFoundError):
        store.revoke("999")


def test_names_and_roles_conflicts(db: Database) -> None:
    store = TokenStore(db)
    store.create("one")
    with pytest.raises(TokenConflictError, match="already exists"):
        store.create("one")
    with pytest.raises(TokenConflictError, match="not an administrator"):
        store.create("two", user="one", admin=True)
    with pytest.raises(TokenConflictError, match="invalid token name"):
        store.create("has space")
    with pytest.raises(TokenConflictError, match="invalid repository"):
        store.create("three", repos=["a b"])


def test_last_used_is_touched_at_most_once_per_interval(db: Database) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = TokenStore(db, clock=lambda: now[0], touch_interval=timedelta(seconds=60))
    issued = store.create("one")

    def last_used() -> datetime | None:
        with db.session() as session:
            return session.get(ApiToken, issued.info.id).last_used

    store.authenticate(issued.token)
    assert last_used() == now[0]
    first = now[0]
    now[0] = first + timedelta(seconds=30)
    store.authenticate(issued.token)
    assert last_used() == first
    now[0] = first + timedelta(seconds=61)
    store.authenticate(issued.token)
    assert last_used() == now[0]
    assert [t.last_used for t in store.list_tokens()] == [now[0]]
