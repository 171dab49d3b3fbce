"""The state database: migrations build exactly the models' schema, reopening is idempotent, and the session
unit of work commits or rolls back."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select

from appliance.state.config import StateSettings
from appliance.state.db import Database, database_url
from appliance.state.errors import DatabaseError
from appliance.state.models import Base, User


def test_migrations_match_models(tmp_path: Path) -> None:
    db = Database.open(StateSettings(), tmp_path)
    with db.engine.connect() as connection:
        diff = compare_metadata(
            MigrationContext.configure(connection, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []
    assert db.current_revision() is not None
    assert (tmp_path / "state.sqlite3").is_file()


def test_reopening_keeps_data_and_revision(tmp_path: Path) -> None:
    first = Database.open(StateSettings(), tmp_path)
    with first.session() as session:
        session.add(User(name="ada", role="admin"))
    revision = first.current_revision()
    first.close()
    second = Database.open(StateSettings(), tmp_path)
    with second.session() as session:
        assert session.scalar(select(User.name)) == "ada"
    assert second.current_revision() == revision
    assert set(inspect(second.engine).get_table_names()) >= {
        "users",
        "tokens",
        "usage_events",
        "alembic_version",
    }


def test_session_rolls_back_on_error_and_says_why(tmp_path: Path) -> None:
    db = Database.open(StateSettings(), tmp_path)
    with db.session() as session:
        session.add(User(name="ada"))
    with pytest.raises(DatabaseError, match="IntegrityError"), db.session() as session:
        session.add(User(name="bob"))
        session.add(User(name="ada"))  # unique name
    with db.session() as session:
        assert sorted(session.scalars(select(User.name))) == ["ada"]


def test_role_is_constrained(tmp_path: Path) -> None:
    db = Database.open(StateSettings(), tmp_path)
    with pytest.raises(DatabaseError), db.session() as session:
        session.add(User(name="eve", role="root"))


def test_database_url_defaults_to_sqlite_under_home_and_accepts_postgres(tmp_path: Path) -> None:
    assert (
        database_url(StateSettings(), tmp_path).render_as_string()
        == f"sqlite+pysqlite:///{tmp_path}/state.sqlite3"
    )
    url = database_url(
        StateSettings(database_url="postgresql://codemoat@db.internal/codemoat", database_password="s3cret"),
        tmp_path,
    )
    assert url.drivername == "postgresql+psycopg"
    assert url.password == "s3cret"
    with pytest.raises(DatabaseError, match="not a database URL"):
        database_url(StateSettings(database_url="not a url"), tmp_path)


def test_unreachable_database_is_a_one_line_error(tmp_path: Path) -> None:
    settings = StateSettings(database_url="postgresql://codemoat@127.0.0.1:9/codemoat")
    with pytest.raises(DatabaseError, match="cannot open the state database"):
        Database.open(settings, tmp_path)
