"""Fixtures of the console, users, audit and jobs tests.

`database` runs a test against SQLite and against PostgreSQL: a fresh database per test on the server named by
CODEMOAT_TEST_POSTGRES_URL (CI starts one from Debian's packages, see .ci/run); without that variable the
PostgreSQL half is skipped with the reason."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from appliance.audit.log import Actor, AuditLog
from appliance.state.config import StateSettings
from appliance.state.db import Database

POSTGRES_ENV = "CODEMOAT_TEST_POSTGRES_URL"
ADMIN = Actor("root-admin", None, "test")


def postgres_url() -> str | None:
    return os.environ.get(POSTGRES_ENV) or None


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    base = postgres_url()
    if base is None:
        pytest.skip(
            f"no PostgreSQL server: set {POSTGRES_ENV}=postgresql://user:password@host/db (.ci/run does)"
        )
    import psycopg
    from sqlalchemy import make_url

    url = make_url(base)
    name = f"codemoat_test_{uuid.uuid4().hex[:12]}"
    admin = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            try:  # a plain DROP also stops an autovacuum worker; FORCE only for a connection a test leaked
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            except psycopg.errors.ObjectInUse:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    url = request.getfixturevalue("postgres_database") if request.param == "postgresql" else None
    db = Database.open(StateSettings(database_url=url), tmp_path)
    try:
        yield db
    finally:
        db.close()


@pytest.fixture
def audit(database: Database) -> AuditLog:
    return AuditLog(database)


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Converted copies of the bundled model, shared by every server a test session starts."""
    return tmp_path_factory.mktemp("model-cache")
