"""`codemoat token create|list|revoke` through the CLI entry point."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from appliance.auth.tokens import TokenStore
from appliance.config import load_settings
from appliance.state.db import Database


def test_create_list_revoke(codemoat_home: Path, run_cli: Callable) -> None:
    created = run_cli("token", "create", "alice", "--admin", "--json")
    assert created.code == 0, created.err
    issued = json.loads(created.out)
    assert issued["token"].startswith("cm_") and issued["role"] == "admin" and issued["repos"] is None

    plain = run_cli("token", "create", "ci", "--user", "alice", "--repos", "web,api")
    assert plain.code == 0
    secret = plain.out.strip()
    assert (
        secret.startswith("cm_") and "\n" not in secret
    )  # stdout is the secret alone: $(codemoat token create)
    assert "not shown again" in plain.err and "api, web" in plain.err

    settings = load_settings(home=codemoat_home)
    principal = TokenStore(Database.open(settings.state, codemoat_home)).authenticate(secret)
    assert (
        principal.repos == ("api", "web") and principal.token_name == "ci" and principal.user_name == "alice"
    )

    listed = run_cli("token", "list", "--json")
    rows = json.loads(listed.out)
    assert [r["name"] for r in rows] == ["alice", "ci"]
    assert all("token" not in r and issued["token"] not in listed.out for r in rows)

    revoked = run_cli("token", "revoke", "ci")
    assert revoked.code == 0 and "revoked token 'ci'" in revoked.out
    assert [r["name"] for r in json.loads(run_cli("token", "list", "--json").out)] == ["alice"]
    everything = json.loads(run_cli("token", "list", "--all", "--json").out)
    assert [r["revoked"] is not None for r in everything] == [False, True]

    table = run_cli("token", "list")
    assert "alice" in table.out and issued["prefix"] in table.out


def test_errors_are_one_line_with_an_exit_code(codemoat_home: Path, run_cli: Callable) -> None:
    assert run_cli("token", "create", "one").code == 0
    duplicate = run_cli("token", "create", "one")
    assert (
        duplicate.code == 2
        and duplicate.err.strip() == "error: a token named 'one' already exists (revoke it first)"
    )
    missing = run_cli("token", "revoke", "nobody")
    assert missing.code == 2 and missing.err.count("\n") == 1 and "no live token" in missing.err
    outside = run_cli("token", "create", "two", "--repos", "payments")  # user "two" is granted nothing
    assert outside.code == 2 and outside.err.strip() == (
        "error: user 'two' may not read payments: grant the repositories to one of the user's groups first, "
        "or leave them out of the token"
    )
    assert "two" not in run_cli("token", "list").out  # nothing was created, the user neither
    bad = run_cli("token", "create", "bad name")
    assert bad.code == 2 and "invalid token name" in bad.err
    empty = run_cli("token", "list")
    assert empty.code == 0
