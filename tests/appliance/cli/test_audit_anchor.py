"""The audit log is anchored outside its database (appliance.audit.anchor): a log emptied, or cut at its end
with the head moved back, fails `codemoat audit verify` (exit 6); so does a missing or forged signed head;
`codemoat audit export` carries the entries and the anchors."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

from tests.conftest import CliResult

Cli = Callable[..., CliResult]


def audited(run_cli: Cli, count: int, prefix: str = "t") -> None:
    for i in range(count):
        assert run_cli("token", "create", f"{prefix}{i}").code == 0


def verify(run_cli: Cli) -> tuple[int, dict]:
    done = run_cli("audit", "verify", "--json")
    return done.code, json.loads(done.out)


def sql(home: Path, *statements: str) -> None:
    with sqlite3.connect(home / "state.sqlite3") as db:
        for statement in statements:
            db.execute(statement)


def test_an_intact_log_verifies_with_its_signed_head(codemoat_home: Path, run_cli: Cli) -> None:
    audited(run_cli, 3)
    code, report = verify(run_cli)
    assert code == 0 and report["ok"] and report["entries"] >= 3
    head = json.loads((codemoat_home / "audit" / "head.json").read_text())
    assert head["seq"] == report["head_seq"] and head["hash"] == report["head_hash"] and head["sig"]


def test_an_emptied_log_is_detected(codemoat_home: Path, run_cli: Cli) -> None:
    audited(run_cli, 3)
    _, before = verify(run_cli)
    sql(codemoat_home, "DELETE FROM audit_log", "DELETE FROM audit_head")
    code, report = verify(run_cli)
    assert code == 6 and not report["ok"]
    assert any(f"entry {before['head_seq']} is gone, but the signed head" in p for p in report["problems"])


def test_a_log_cut_at_its_end_with_the_head_moved_back_is_detected(codemoat_home: Path, run_cli: Cli) -> None:
    audited(run_cli, 4)
    _, before = verify(run_cli)
    keep = before["head_seq"] - 2
    with sqlite3.connect(codemoat_home / "state.sqlite3") as db:
        (kept_hash,) = db.execute("SELECT hash FROM audit_log WHERE seq = ?", (keep,)).fetchone()
        db.execute("DELETE FROM audit_log WHERE seq > ?", (keep,))
        db.execute("UPDATE audit_head SET seq = ?, hash = ?", (keep, kept_hash))
    code, report = verify(run_cli)
    assert code == 6 and report["head_seq"] == keep  # the database alone looks like a valid, shorter chain
    assert any(f"entry {before['head_seq']} is gone" in p for p in report["problems"])


def test_a_missing_or_forged_signed_head_is_detected(codemoat_home: Path, run_cli: Cli) -> None:
    audited(run_cli, 2)
    head_file = codemoat_home / "audit" / "head.json"
    head = json.loads(head_file.read_text())
    head_file.write_text(json.dumps({**head, "seq": head["seq"] - 1}))
    code, report = verify(run_cli)
    assert code == 6 and any("not signed by this appliance" in p for p in report["problems"])
    head_file.unlink()
    code, report = verify(run_cli)
    assert code == 6 and any("signed head" in p and "is missing" in p for p in report["problems"])
    audited(run_cli, 1, prefix="later")  # the next entry anchors the log again
    assert verify(run_cli)[0] == 0


def test_export_carries_entries_and_anchors(codemoat_home: Path, run_cli: Cli, tmp_path: Path) -> None:
    audited(run_cli, 2)
    target = tmp_path / "audit-export.jsonl"
    done = run_cli("audit", "export", "--out", target)
    assert done.code == 0, done.err
    first, *entries = [json.loads(line) for line in target.read_text().splitlines()]
    assert first["verified"]["ok"] and json.loads(first["anchors"]["head"])["seq"] == len(entries)
    assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
    again = run_cli("audit", "export", "--out", target)
    assert again.code != 0 and "already exists" in again.err
