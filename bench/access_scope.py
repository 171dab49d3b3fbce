"""What access control costs a request: resolving a bearer token (the gateway's auth stage) and a console
session, with no groups and with a user in 5 groups granting 40 repositories each, on SQLite.

    .venv/bin/python bench/access_scope.py [--requests 2000]

Run side by side in one process: token without grants (the lookup alone), token with grants (lookup + the
grants query + intersection with the token's scope), session with grants. Medians and p99 in ms."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from machine import describe

from appliance.audit.log import Actor, AuditLog
from appliance.auth.tokens import TokenStore
from appliance.console.sessions import SessionStore
from appliance.state.config import StateSettings
from appliance.state.db import Database
from appliance.users.accounts import Accounts
from appliance.users.groups import Groups


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def summary(samples: list[float]) -> str:
    p99 = statistics.quantiles(samples, n=100)[98]
    return f"p50 {statistics.median(samples):.3f} ms, p99 {p99:.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp())
    db = Database.open(StateSettings(), home)
    actor = Actor("bench")
    accounts, groups, tokens = Accounts(db, AuditLog(db)), Groups(db, AuditLog(db)), TokenStore(db)
    accounts.create("plain", actor=actor)
    accounts.create("member", actor=actor)
    for g in range(5):
        groups.create(
            f"group-{g}", members=["member"], repos=[f"repo-{g}-{r}" for r in range(40)], actor=actor
        )
    plain = tokens.create("plain-token", user="plain").token
    member = tokens.create("member-token", user="member").token
    narrowed = tokens.create("narrow-token", user="member", repos=["repo-0-1", "repo-3-7", "other"]).token
    sessions = SessionStore(db, lifetime=timedelta(hours=1), idle=timedelta(hours=1))
    secret, _ = sessions.create(accounts.get("member").id)
    assert len(tokens.authenticate(member).repos or ()) == 200
    rows = {
        "token, user in no group": timed(lambda: tokens.authenticate(plain), args.requests),
        "token, user in 5 groups (200 repositories)": timed(
            lambda: tokens.authenticate(member), args.requests
        ),
        "token narrowed to 3 repositories, same user": timed(
            lambda: tokens.authenticate(narrowed), args.requests
        ),
        "console session, same user": timed(lambda: sessions.resolve(secret), args.requests),
    }
    print(f"machine: {describe()}")
    for name, samples in rows.items():
        print(f"{name}: {summary(samples)}")
    db.close()


if __name__ == "__main__":
    main()
