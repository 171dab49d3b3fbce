"""Users, passwords, groups and grants, and the scope a token or a session resolves to: what the user's groups
grant (everything for an administrator), narrowed by the token's own list. On SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from appliance.audit.log import AuditLog
from appliance.auth.errors import PermissionDeniedError, TokenScopeError
from appliance.auth.tokens import TokenStore
from appliance.errors import ConflictError, InvalidInputError, NotFoundError
from appliance.state.db import Database
from appliance.users.accounts import Accounts
from appliance.users.errors import SignInError, SignInThrottledError
from appliance.users.groups import Groups
from appliance.users.passwords import hash_password, verify_password
from appliance.users.throttle import LoginThrottle, ThrottlePolicy, source_key, user_key

from .conftest import ADMIN


@pytest.fixture
def accounts(database: Database, audit: AuditLog) -> Accounts:
    return Accounts(database, audit)


@pytest.fixture
def groups(database: Database, audit: AuditLog) -> Groups:
    return Groups(database, audit)


def test_passwords_are_salted_scrypt_hashes() -> None:
    first, second = hash_password("correct horse battery"), hash_password("correct horse battery")
    assert first != second and first.startswith("scrypt$16384$8$1$")
    assert verify_password("correct horse battery", first)
    assert not verify_password("correct horse battery!", first)
    assert not verify_password("anything", None) and not verify_password("anything", "md5$abc")


def test_create_and_check_password(accounts: Accounts, audit: AuditLog) -> None:
    created = accounts.create("alice", password="alice-password-1", actor=ADMIN)
    assert created.password is None and created.user.has_password and created.user.role == "user"
    assert accounts.check_password("alice", "alice-password-1").name == "alice"
    with pytest.raises(SignInError, match="wrong user name or password"):
        accounts.check_password("alice", "alice-password-2")
    with pytest.raises(SignInError, match="wrong user name or password"):
        accounts.check_password("nobody", "alice-password-1")
    generated = accounts.create("bob", generate=True, actor=ADMIN).password
    assert generated and accounts.check_password("bob", generated).name == "bob"
    assert [e.action for e in audit.entries()] == ["user.create", "user.create"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": ""}, "name: a user name is 1-128 letters"),
        ({"name": "-dash"}, "name: a user name is 1-128 letters"),
        ({"name": "a b"}, "name: a user name is 1-128 letters"),
        ({"name": "x" * 129}, "name: a user name is 1-128 letters"),
        ({"name": "carol", "role": "root"}, "role: must be 'admin' or 'user'"),
        ({"name": "carol", "password": "short"}, "password: a password has 10 to 256 characters"),
        ({"name": "carol", "password": "aaaaaaaaaaaa"}, "password: the password is too simple"),
    ],
)
def test_bad_user_input_is_refused_with_the_field(accounts: Accounts, kwargs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError) as caught:
        accounts.create(actor=ADMIN, **kwargs)
    assert str(caught.value).startswith(message)
    assert caught.value.param == message.split(":")[0]


def test_duplicates_and_unknown_names(accounts: Accounts, groups: Groups) -> None:
    accounts.create("alice", actor=ADMIN)
    with pytest.raises(ConflictError, match="already exists"):
        accounts.create("alice", actor=ADMIN)
    with pytest.raises(NotFoundError, match="no user named 'zed'"):
        accounts.set_disabled("zed", True, actor=ADMIN)
    groups.create("eng", actor=ADMIN)
    with pytest.raises(ConflictError):
        groups.create("eng", actor=ADMIN)
    with pytest.raises(NotFoundError, match="user: no user named 'zed'"):
        groups.add_member("eng", "zed", actor=ADMIN)
    with pytest.raises(InvalidInputError, match="repo: a repository name"):
        groups.grant("eng", "../etc", actor=ADMIN)


def test_the_last_administrator_stays(accounts: Accounts) -> None:
    accounts.create("root", role="admin", actor=ADMIN)
    with pytest.raises(ConflictError, match="last enabled administrator"):
        accounts.set_disabled("root", True, actor=ADMIN)
    with pytest.raises(ConflictError, match="last enabled administrator"):
        accounts.set_role("root", "user", actor=ADMIN)
    accounts.create("second", role="admin", actor=ADMIN)
    assert accounts.set_role("root", "user", actor=ADMIN).role == "user"


def test_groups_grant_repositories_and_tokens_narrow_them(
    database: Database, accounts: Accounts, groups: Groups
) -> None:
    tokens = TokenStore(database)
    accounts.create("dev", actor=ADMIN)
    accounts.create("boss", role="admin", actor=ADMIN)
    accounts.create("loner", actor=ADMIN)
    groups.create("backend", members=["dev"], repos=["api", "db"], actor=ADMIN)
    groups.create("web", members=["dev"], repos=["site"], actor=ADMIN)
    assert accounts.get("dev").repos == ("api", "db", "site")
    assert accounts.get("loner").repos == ()
    assert accounts.get("boss").repos is None

    dev_all = tokens.authenticate(tokens.create("dev-all", user="dev").token)
    with pytest.raises(TokenScopeError):  # a token never names what its user may not read
        tokens.create("dev-narrow", user="dev", repos=["db", "secret"])
    dev_narrow = tokens.authenticate(tokens.create("dev-narrow", user="dev", repos=["db"]).token)
    boss_narrow = tokens.authenticate(tokens.create("boss-narrow", user="boss", repos=["secret"]).token)
    loner = tokens.authenticate(tokens.create("loner", user="loner").token)
    assert dev_all.repos == ("api", "db", "site")
    assert dev_narrow.repos == ("db",)
    assert boss_narrow.repos == ("secret",)
    assert loner.repos == ()
    with pytest.raises(PermissionDeniedError) as caught:
        dev_all.scope(["secret"])
    assert caught.value.param == "repo"

    # Changes apply to the next request: access is resolved at authentication, not stored in the token.
    secret = tokens.create("dev-later", user="dev").token
    groups.revoke("backend", "api", actor=ADMIN)
    groups.remove_member("web", "dev", actor=ADMIN)
    assert tokens.authenticate(secret).repos == ("db",)
    accounts.set_disabled("dev", True, actor=ADMIN)
    with pytest.raises(PermissionDeniedError, match="disabled"):
        tokens.authenticate(secret)


def test_every_change_is_audited(accounts: Accounts, groups: Groups, audit: AuditLog) -> None:
    accounts.create("dev", actor=ADMIN)
    groups.create("g", actor=ADMIN)
    groups.add_member("g", "dev", actor=ADMIN)
    groups.grant("g", "repo-a", actor=ADMIN)
    groups.revoke("g", "repo-a", actor=ADMIN)
    accounts.set_password("dev", None, actor=ADMIN)
    accounts.set_disabled("dev", True, actor=ADMIN)
    groups.delete("g", actor=ADMIN)
    actions = [e.action for e in reversed(audit.entries())]
    assert actions == [
        "user.create",
        "group.create",
        "group.member_add",
        "group.grant",
        "group.revoke",
        "user.password_reset",
        "user.disable",
        "group.delete",
    ]
    assert all(e.actor == "root-admin" and e.source == "test" for e in audit.entries())
    assert audit.verify().ok


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_sign_in_is_throttled_after_repeated_failures(database: Database) -> None:
    clock = Clock()
    throttle = LoginThrottle(
        database,
        ThrottlePolicy(max_failures=3, max_failures_per_source=10, lockout_s=60, max_lockout_s=300),
        clock=clock,
    )
    keys = [user_key("Alice"), source_key("10.1.1.1")]
    for _ in range(2):
        throttle.check(keys)
        throttle.failed(keys)
    throttle.check(keys)
    throttle.failed(keys)  # the third failure locks the user name for 60 s
    with pytest.raises(SignInThrottledError) as caught:
        throttle.check([user_key("alice"), source_key("10.9.9.9")])
    assert caught.value.retry_after == 60 and "try again in 60 seconds" in str(caught.value)
    clock.now += timedelta(seconds=61)
    throttle.check(keys)
    throttle.failed(keys)  # failing again doubles the lockout
    with pytest.raises(SignInThrottledError) as caught:
        throttle.check(keys)
    assert caught.value.retry_after == 120
    clock.now += timedelta(seconds=121)
    throttle.succeeded(keys[:1])
    throttle.check(keys)
