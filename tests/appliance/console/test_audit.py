"""The audit log's hash chain: intact after appends; an edited, a deleted and a truncated log are each
detected, through the Python API on SQLite and PostgreSQL and through `codemoat audit verify`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from appliance.audit.log import Actor, AuditLog
from appliance.state.config import StateSettings
from appliance.state.db import Database
from appliance.state.models import AuditEntry

ACTOR = Actor("alice", 1, "10.0.0.7")


def fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append(ACTOR, "user.create", f"user{i}", role="user", groups=["a", "b"], n=i)


def test_an_untouched_log_verifies(audit: AuditLog) -> None:
    fill(audit)
    report = audit.verify()
    assert report.ok and report.entries == 5 and report.head_seq == 5
    newest = audit.entries(limit=2)
    assert [e.seq for e in newest] == [5, 4]
    assert (
        newest[0].actor == "alice"
        and newest[0].source == "10.0.0.7"
        and newest[0].detail["groups"] == ["a", "b"]
    )


def test_an_edited_entry_is_detected(audit: AuditLog, database: Database) -> None:
    fill(audit)
    with database.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values(target="mallory"))
    report = audit.verify()
    assert not report.ok
    assert report.problems == [
        "entry 3 (user.create mallory) was edited: its hash does not match its content"
    ]


def test_an_edited_detail_is_detected(audit: AuditLog, database: Database) -> None:
    fill(audit)
    with database.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(detail={"role": "admin"}))
    assert any("entry 2" in p and "edited" in p for p in audit.verify().problems)


def test_an_entry_rehashed_after_editing_breaks_the_link_to_the_next(
    audit: AuditLog, database: Database
) -> None:
    """Someone who edits an entry and recomputes its hash still breaks the next entry's link."""
    from appliance.audit.chain import entry_hash

    fill(audit)
    with database.session() as session:
        row = session.get(AuditEntry, 2)
        row.actor = "mallory"
        row.hash = entry_hash(
            prev_hash=row.prev_hash,
            seq=row.seq,
            created=row.created,
            actor=row.actor,
            actor_id=row.actor_id,
            action=row.action,
            target=row.target,
            detail=dict(row.detail),
            source=row.source,
        )
    problems = audit.verify().problems
    assert problems == ["entry 3 does not follow entry 2: the chain was rewritten from there"]


def test_a_deleted_entry_is_detected(audit: AuditLog, database: Database) -> None:
    fill(audit)
    with database.session() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    report = audit.verify()
    assert not report.ok
    assert "entry 2 missing (deleted)" in report.problems


def test_entries_deleted_from_the_end_are_detected(audit: AuditLog, database: Database) -> None:
    fill(audit)
    with database.session() as session:
        session.execute(delete(AuditEntry).where(AuditEntry.seq >= 4))
    report = audit.verify()
    assert report.problems == ["entries 4 to 5 missing from the end (deleted)"]


def test_appends_continue_the_chain_after_verification(audit: AuditLog) -> None:
    fill(audit, 2)
    assert audit.verify().ok
    fill(audit, 2)
    assert audit.verify().entries == 4 and audit.verify().ok


def test_cli_verify_detects_an_edited_and_a_deleted_entry(codemoat_home: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    for name in ("ann", "ben", "cat"):
        assert run_cli("user", "create", name, "--no-password").code == 0
    ok = run_cli("audit", "verify", "--json")
    assert ok.code == 0 and json.loads(ok.out)["entries"] == 3

    database = Database.open(StateSettings(), codemoat_home)
    with database.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="someone-else"))
    edited = run_cli("audit", "verify")
    assert edited.code == 6
    assert edited.err.strip() == (
        "error: the audit log was tampered with: entry 2 (user.create ben) was edited: "
        "its hash does not match its content"
    )

    with database.session() as session:
        session.execute(update(AuditEntry).where(AuditEntry.seq == 2).values(actor="cli:" + _shell_user()))
        session.execute(delete(AuditEntry).where(AuditEntry.seq == 1))
    database.close()
    deleted = run_cli("audit", "verify")
    assert deleted.code == 6
    assert deleted.err.strip() == "error: the audit log was tampered with: entry 1 missing (deleted)"


def _shell_user() -> str:
    import getpass

    return getpass.getuser()


@pytest.mark.parametrize("args", [("audit", "list", "--limit", "0"), ("audit", "list", "--limit", "x")])
def test_cli_list_refuses_bad_limits(codemoat_home: Path, run_cli, args) -> None:  # type: ignore[no-untyped-def]
    assert run_cli(*args).code != 0
