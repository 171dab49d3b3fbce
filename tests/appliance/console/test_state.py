"""The schema of issue 7 on SQLite and PostgreSQL: migrations agree with the models, revision 0002 goes down
and up again, and concurrent audit appends still form one chain."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from appliance.audit.log import Actor, AuditLog
from appliance.state.db import MIGRATIONS, Database
from appliance.state.models import AuditEntry, Base

ISSUE_7_TABLES = {
    "groups",
    "group_members",
    "repo_grants",
    "audit_log",
    "audit_head",
    "repositories",
    "index_jobs",
    "conversations",
    "conversation_messages",
    "console_sessions",
    "login_failures",
    "completion_feedback",
}


def test_migrations_create_exactly_the_models(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
    assert database.current_revision() == "0002"
    assert ISSUE_7_TABLES <= set(inspect(database.engine).get_table_names())


def _downgrade(database: Database, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    with database.engine.begin() as connection:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def test_revision_0002_downgrades_and_upgrades_again(database: Database) -> None:
    _downgrade(database, "0001")
    tables = set(inspect(database.engine).get_table_names())
    assert not tables & ISSUE_7_TABLES
    assert "password_hash" not in {c["name"] for c in inspect(database.engine).get_columns("users")}
    database.upgrade("head")
    assert ISSUE_7_TABLES <= set(inspect(database.engine).get_table_names())
    assert AuditLog(database).verify().ok


def test_concurrent_appends_form_one_chain(database: Database) -> None:
    log = AuditLog(database)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        start.wait()
        try:
            for i in range(10):
                log.append(Actor(f"writer-{n}"), "test.append", f"{n}-{i}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    report = log.verify()
    assert report.ok, report.problems
    assert report.entries == 40 and report.head_seq == 40
    with database.session() as session:
        assert list(session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq))) == list(range(1, 41))
