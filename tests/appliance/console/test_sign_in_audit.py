"""Console sign-ins in the audit log, over real HTTP: a sign-in, a failed sign-in for an account and a lockout
are recorded with the client's address; failures with unknown names or tokens are not recorded one by one,
only the lockout of the address that sends them; attempts refused during a lockout are not recorded.

Each test signs in from its own address (`X-Forwarded-For`, which uvicorn honours from 127.0.0.1), so that
the per-address throttle of one test does not reach another. Failure entries are written after the answer
(see appliance.console.sign_in_audit): the tests wait for them, then for a later marker entry before they
check that nothing more was written."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from appliance.audit.log import AuditLog, AuditRecord
from appliance.state.db import Database
from appliance.users.accounts import Accounts

from .conftest import ADMIN
from .live import LiveServer, serve, settings_for

pytestmark = pytest.mark.slow

PASSWORDS = {
    "ann": "ann-password-1",
    "ben": "ben-password-1",
    "carl": "carl-password-1",
    "dora": "dora-password-1",
}
MARKERS = ("mark1", "mark2", "mark3")  # one account per marker: their own failures never lock them out
LOCKOUT_S = 600


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sign-in-audit") / "home"


@pytest.fixture(scope="module")
def live(home: Path, model_cache: Path) -> Iterator[LiveServer]:
    settings = settings_for(
        home, model_cache, max_failed_logins=3, max_failed_logins_per_source=5, lockout_s=LOCKOUT_S
    )
    db = Database.open(settings.state, home)
    accounts = Accounts(db, AuditLog(db))
    for name, password in PASSWORDS.items():
        accounts.create(name, password=password, actor=ADMIN)
    for name in MARKERS:
        accounts.create(name, password=f"{name}-password-1", actor=ADMIN)
    accounts.set_disabled("dora", True, actor=ADMIN)
    db.close()
    with serve(settings) as server:
        yield server


@pytest.fixture(scope="module")
def db(live: LiveServer, home: Path) -> Iterator[Database]:
    database = Database.open(live.settings.state, home)
    yield database
    database.close()


@pytest.fixture(scope="module")
def audit(db: Database) -> AuditLog:
    return AuditLog(db)


def client(live: LiveServer, address: str) -> httpx.Client:
    web = live.client(follow_redirects=False)
    web.headers["X-Forwarded-For"] = address
    return web


def attempt(web: httpx.Client, **fields: str) -> httpx.Response:
    form = web.get("/console/login").text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return web.post("/console/login", data={"csrf": form, **fields})


def sign_ins(audit: AuditLog, keep: Callable[[AuditRecord], bool], count: int) -> list[AuditRecord]:
    """The sign_in.* entries `keep` selects, oldest first, once there are at least `count` of them."""
    deadline = time.monotonic() + 30
    while True:
        found = [e for e in reversed(audit.entries(limit=1000, action="sign_in.")) if keep(e)]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def from_address(address: str) -> Callable[[AuditRecord], bool]:
    return lambda entry: entry.source == address


def marker(live: LiveServer, audit: AuditLog, address: str, account: str) -> None:
    """A failure for `account` from `address`, waited for: entries due earlier are written by then."""
    with client(live, address) as web:
        assert attempt(web, username=account, password="not-the-password").status_code == 401
    assert sign_ins(audit, from_address(address), 1)


def test_sign_ins_are_recorded_with_the_client_address(
    live: LiveServer, db: Database, audit: AuditLog
) -> None:
    with client(live, "10.0.0.1") as web:
        assert attempt(web, username="ann", password=PASSWORDS["ann"]).status_code == 303
        csrf = web.get("/api/me").json()["csrf"]
        issued = web.post("/api/tokens", json={"name": "ann-editor"}, headers={"X-CSRF-Token": csrf})
        assert issued.status_code == 201
    with client(live, "10.0.0.2") as web:
        assert attempt(web, method="token", token=issued.json()["token"]).status_code == 303
        assert web.get("/api/me").json()["name"] == "ann"

    password, token = sign_ins(audit, lambda e: e.source in ("10.0.0.1", "10.0.0.2"), 2)
    ann_id = Accounts(db, audit).get("ann").id
    assert (password.action, password.actor, password.actor_id, password.target, password.source) == (
        "sign_in.success",
        "ann",
        ann_id,
        "ann",
        "10.0.0.1",
    )
    assert password.detail == {"method": "password"}
    assert (token.action, token.actor, token.actor_id, token.source) == (
        "sign_in.success",
        "ann",
        ann_id,
        "10.0.0.2",
    )
    assert token.detail == {"method": "token", "token": "ann-editor"}


def test_failures_for_an_account_and_its_lockout(live: LiveServer, audit: AuditLog) -> None:
    with client(live, "10.0.1.1") as web:
        for typed in ("ben", "Ben", "ben"):  # the throttle counts names case-blind: all three are ben's
            assert attempt(web, username=typed, password="guess-guess").status_code == 401
        locked = attempt(web, username="ben", password=PASSWORDS["ben"])
        assert locked.status_code == 429
    first, second, third, lockout = sign_ins(audit, from_address("10.0.1.1"), 4)
    for failure in (first, second, third):
        assert (failure.action, failure.actor, failure.actor_id, failure.target) == (
            "sign_in.failure",
            "anonymous",
            None,
            "ben",
        )
        assert failure.detail["method"] == "password"
        assert failure.detail["reason"] == "wrong user name or password"
    assert "typed" not in first.detail and second.detail["typed"] == "Ben"
    assert (lockout.action, lockout.target, lockout.source) == ("sign_in.lockout", "ben", "10.0.1.1")
    assert lockout.detail["kind"] == "user" and lockout.detail["failures"] == 3
    assert lockout.detail["seconds"] == LOCKOUT_S

    with client(live, "10.0.1.1") as web:  # still locked out: refused, and not recorded again
        assert attempt(web, username="ben", password="guess-guess").status_code == 429
    marker(live, audit, "10.0.1.2", MARKERS[0])
    assert len(sign_ins(audit, from_address("10.0.1.1"), 5)) == 4


def test_unknown_names_and_tokens_are_recorded_only_as_the_address_lockout(
    live: LiveServer, audit: AuditLog
) -> None:
    address = "10.0.2.1"
    with client(live, address) as web:
        for name in ("ghost", "nobody", "admin", "ghost"):
            assert attempt(web, username=name, password="whatever-1").status_code == 401
        # the 5th failure from this address locks it out
        assert attempt(web, method="token", token="cm_not-a-real-token").status_code == 401
        refused = attempt(web, username="carl", password=PASSWORDS["carl"])
        assert refused.status_code == 429
    [lockout] = sign_ins(audit, from_address(address), 1)
    assert (lockout.action, lockout.actor, lockout.target) == ("sign_in.lockout", "anonymous", address)
    assert lockout.detail["kind"] == "address" and lockout.detail["failures"] == 5

    marker(live, audit, "10.0.2.2", MARKERS[1])
    everything = sign_ins(audit, lambda e: True, 0)
    assert [e for e in everything if e.source == address] == [lockout]
    assert not {"ghost", "nobody", "admin"} & {e.target for e in everything}


def test_a_disabled_account_and_a_revoked_token(live: LiveServer, audit: AuditLog) -> None:
    with client(live, "10.0.3.1") as web:
        assert attempt(web, username="carl", password=PASSWORDS["carl"]).status_code == 303
        csrf = web.get("/api/me").json()["csrf"]
        issued = web.post("/api/tokens", json={"name": "carl-old"}, headers={"X-CSRF-Token": csrf}).json()
        assert web.delete(f"/api/tokens/{issued['id']}", headers={"X-CSRF-Token": csrf}).status_code == 204
    with client(live, "10.0.3.2") as web:
        assert attempt(web, method="token", token=issued["token"]).status_code == 401
        assert attempt(web, username="dora", password=PASSWORDS["dora"]).status_code == 401
    revoked, disabled = sign_ins(audit, from_address("10.0.3.2"), 2)
    assert (revoked.action, revoked.target) == ("sign_in.failure", "carl")
    assert revoked.detail == {
        "method": "token",
        "token": "carl-old",
        "reason": "API token 'carl-old' was revoked",
    }
    assert (disabled.action, disabled.target) == ("sign_in.failure", "dora")
    assert disabled.detail["reason"] == "the account 'dora' is disabled; ask an administrator"


def test_the_log_still_verifies(
    live: LiveServer,
    audit: AuditLog,
    home: Path,  # type: ignore[no-untyped-def]
    run_cli,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with client(live, "10.0.4.1") as web:
        assert attempt(web, username="ann", password=PASSWORDS["ann"]).status_code == 303
    marker(live, audit, "10.0.4.2", MARKERS[2])
    assert audit.verify().ok
    monkeypatch.setenv("CODEMOAT_HOME", str(home))
    verified = run_cli("audit", "verify")
    assert verified.code == 0 and verified.out.startswith("audit log intact:")
    listed = run_cli("audit", "list", "--action", "sign_in.", "--limit", "5")
    assert listed.code == 0 and "10.0.4.2" in listed.out and "sign_in.failure" in listed.out
