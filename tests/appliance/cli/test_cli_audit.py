"""The `codemoat` commands that change tokens, users, groups, the license or its trusted roots leave audit
entries (actor: the shell user, source: this host), read back with `codemoat audit list` and checked with
`codemoat audit verify`. A state database that cannot be opened refuses a license command before anything
changes; an entry that cannot be written after the change is reported with exit code 7 and the change kept."""

from __future__ import annotations

import getpass
import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from appliance.state.config import StateSettings
from appliance.state.db import Database
from licensing.store import LicenseStore
from tests.conftest import CliResult
from tests.licensing.conftest import make_tiny_model

Cli = Callable[..., CliResult]

CLI_ACTOR = f"cli:{getpass.getuser()}"
CLI_SOURCE = f"cli@{socket.gethostname()}"


def entries(run_cli: Cli, action: str | None = None) -> list[dict[str, Any]]:
    """Oldest first, through `codemoat audit list --json`."""
    args = ["audit", "list", "--json", "--limit", "1000"] + (["--action", action] if action else [])
    listed = run_cli(*args)
    assert listed.code == 0, listed.err
    return list(reversed(json.loads(listed.out)))


def verified(run_cli: Cli) -> int:
    report = run_cli("audit", "verify", "--json")
    assert report.code == 0, report.err
    data = json.loads(report.out)
    assert data["ok"] and not data["problems"]
    return int(data["entries"])


def one_line_error(result: CliResult) -> str:
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.err, result.err
    return lines[0]


def test_token_create_and_revoke_are_audited(codemoat_home: Path, run_cli: Cli) -> None:
    assert run_cli("token", "create", "alice", "--admin").code == 0  # makes the admin user alice too
    created = run_cli("token", "create", "ci", "--user", "alice", "--repos", "web,api", "--json")
    assert created.code == 0, created.err
    token_id = json.loads(created.out)["id"]
    assert run_cli("token", "revoke", "ci").code == 0
    assert run_cli("token", "revoke", "nobody").code == 2  # refused: nothing changed, nothing recorded

    log = entries(run_cli)
    assert [(e["action"], e["target"]) for e in log] == [
        ("user.create", "alice"),
        ("token.create", "alice"),
        ("token.create", "ci"),
        ("token.revoke", "ci"),
    ]
    assert {(e["actor"], e["source"], e["actor_id"]) for e in log} == {(CLI_ACTOR, CLI_SOURCE, None)}
    assert log[0]["detail"] == {"role": "admin", "password": False, "via": "token create"}
    assert log[2]["detail"] == {"user": "alice", "repos": ["api", "web"], "role": "admin", "id": token_id}
    assert log[3]["detail"] == {"user": "alice", "id": token_id}
    tokens_only = entries(run_cli, "token.")
    assert [e["action"] for e in tokens_only] == ["token.create", "token.create", "token.revoke"]

    table = run_cli("audit", "list")
    assert table.code == 0 and "token.revoke" in table.out and CLI_ACTOR in table.out
    assert verified(run_cli) == 4


def test_user_and_group_commands_are_audited(codemoat_home: Path, run_cli: Cli) -> None:
    commands = [
        ("user", "create", "root", "--admin", "--no-password"),
        ("user", "create", "ann", "--no-password"),
        ("user", "disable", "ann"),
        ("user", "enable", "ann"),
        ("user", "passwd", "ann"),
        ("user", "role", "ann", "admin"),
        ("group", "create", "team", "--members", "root", "--repos", "alpha"),
        ("group", "add", "team", "ann"),
        ("group", "remove", "team", "ann"),
        ("group", "grant", "team", "beta"),
        ("group", "revoke", "team", "alpha"),
        ("group", "delete", "team"),
    ]
    for command in commands:
        result = run_cli(*command)
        assert result.code == 0, (command, result.err)
    assert [(e["action"], e["target"]) for e in entries(run_cli)] == [
        ("user.create", "root"),
        ("user.create", "ann"),
        ("user.disable", "ann"),
        ("user.enable", "ann"),
        ("user.password_reset", "ann"),
        ("user.role", "ann"),
        ("group.create", "team"),
        ("group.member_add", "team"),
        ("group.member_remove", "team"),
        ("group.grant", "team"),
        ("group.revoke", "team"),
        ("group.delete", "team"),
    ]
    assert {e["actor"] for e in entries(run_cli)} == {CLI_ACTOR}
    assert verified(run_cli) == len(commands)


@pytest.fixture
def site(tmp_path: Path, codemoat_home: Path, run_cli: Cli) -> Path:
    """A vendor with a sealed tiny model; the appliance (CODEMOAT_HOME) does not trust it yet."""
    assert (
        run_cli(
            "vendor", "keygen", "--out", tmp_path / "vendor", "--name", "Test Vendor", "--no-passphrase"
        ).code
        == 0
    )
    make_tiny_model(tmp_path / "plain")
    sealed = run_cli(
        "vendor",
        "seal",
        tmp_path / "plain",
        "--vendor",
        tmp_path / "vendor",
        "--model-id",
        "tiny",
        "--out",
        tmp_path / "sealed",
        "--chunk-size",
        "8192",
    )
    assert sealed.code == 0, sealed.err
    return tmp_path


def issue(site: Path, run_cli: Cli, request: Path, out: Path) -> None:
    issued = run_cli(
        "vendor",
        "issue",
        "--vendor",
        site / "vendor",
        "--request",
        request,
        "--customer",
        "Example GmbH",
        "--seats",
        "3",
        "--days",
        "365",
        "--models",
        "tiny",
        "--out",
        out,
    )
    assert issued.code == 0, issued.err


def test_license_commands_are_audited(site: Path, codemoat_home: Path, run_cli: Cli) -> None:
    assert run_cli("license", "status").code == 0
    assert not StateSettings().sqlite_path(codemoat_home).exists()  # reading the license needs no database

    assert run_cli("license", "trust", site / "vendor" / "root.json").code == 0
    assert run_cli("license", "request", "--out", site / "request.txt").code == 0
    issue(site, run_cli, site / "request.txt", site / "license.txt")
    assert run_cli("license", "activate", site / "license.txt").code == 0
    lease = run_cli(
        "vendor",
        "lease",
        "--vendor",
        site / "vendor",
        "--license",
        site / "license.txt",
        "--days",
        "30",
        "--out",
        site / "lease2.txt",
    )
    assert lease.code == 0, lease.err
    assert run_cli("license", "renew", site / "lease2.txt").code == 0
    assert run_cli("license", "renew", site / "lease2.txt").code != 0  # a replay is refused and not recorded
    status = json.loads(run_cli("license", "status", "--json").out)
    assert run_cli("license", "deactivate", "--out", site / "receipt.txt").code == 0

    log = entries(run_cli, "license.")
    license_id = status["license_id"]
    kid = json.loads((site / "vendor" / "root.json").read_text())["kid"]
    assert [(e["action"], e["target"]) for e in log] == [
        ("license.trust", kid),
        ("license.request", ""),
        ("license.activate", license_id),
        ("license.renew", license_id),
        ("license.deactivate", license_id),
    ]
    assert {(e["actor"], e["source"]) for e in log} == {(CLI_ACTOR, CLI_SOURCE)}
    activate, renew = log[2]["detail"], log[3]["detail"]
    assert (activate["customer"], activate["seats"], activate["models"]) == ("Example GmbH", 3, ["tiny"])
    assert activate["expires"].startswith(status["expires_at"][:10])
    assert renew["sequence"] == 2 and renew["expires"].startswith(status["lease_expires_at"][:10])
    assert log[4]["detail"] == {"receipt": str(site / "receipt.txt")}
    assert log[1]["detail"] == {"file": str(site / "request.txt")}
    assert verified(run_cli) == 5


def test_an_unusable_state_database_refuses_before_anything_changes(
    site: Path, codemoat_home: Path, run_cli: Cli
) -> None:
    assert run_cli("license", "trust", site / "vendor" / "root.json").code == 0
    before = LicenseStore(codemoat_home / "license").snapshot()
    path = StateSettings().sqlite_path(codemoat_home)
    path.unlink()
    path.mkdir()  # a folder where the database file should be: SQLite cannot open it

    refused = run_cli("license", "request", "--out", site / "request.txt")
    assert refused.code == 3 and "state database" in one_line_error(refused)
    assert not (site / "request.txt").exists()
    assert LicenseStore(codemoat_home / "license").snapshot() == before  # no device keys, no pending request
    assert run_cli("token", "create", "ci").code == 3


def _refuse_audit_entries(home: Path) -> None:
    """A real database failure on every append (the change the command makes is in other tables or files)."""
    database = Database.open(StateSettings(), home)
    with database.session() as session:
        session.execute(
            text(
                "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit log is read-only in this test'); END"
            )
        )
    database.close()


def test_a_change_that_cannot_be_recorded_is_kept_and_reported(
    site: Path, codemoat_home: Path, run_cli: Cli
) -> None:
    assert run_cli("license", "trust", site / "vendor" / "root.json").code == 0
    assert run_cli("license", "request", "--out", site / "request.txt").code == 0
    issue(site, run_cli, site / "request.txt", site / "license.txt")
    assert run_cli("license", "activate", site / "license.txt").code == 0
    license_id = json.loads(run_cli("license", "status", "--json").out)["license_id"]
    _refuse_audit_entries(codemoat_home)

    deactivated = run_cli("license", "deactivate", "--out", site / "receipt.txt")
    assert deactivated.code == 7
    line = one_line_error(deactivated)
    assert line.startswith(
        f"error: license {license_id} was deactivated, but the audit log could not record it"
    )
    assert "audit log is read-only in this test" in line
    assert (site / "receipt.txt").is_file()  # the receipt that frees the seat is not lost
    assert json.loads(run_cli("license", "status", "--json").out)["state"] == "STOPPED"

    created = run_cli("token", "create", "ci", "--json")
    assert created.code == 7
    assert one_line_error(created).startswith(
        "error: token 'ci' (id 1) was created with its user 'ci', but the audit log could not record it"
    )
    assert json.loads(created.out)["token"].startswith("cm_")  # the secret is shown: the token exists
    assert [t["name"] for t in json.loads(run_cli("token", "list", "--json").out)] == ["ci"]
    assert [e["action"] for e in entries(run_cli)] == ["license.trust", "license.request", "license.activate"]
    assert verified(run_cli) == 3  # what was recorded is intact
