"""Alembic environment: run by `Database.upgrade()` with a live connection in `config.attributes`, or by the
`alembic` command (`alembic -x url=sqlite:///state.sqlite3 revision --autogenerate -m "..."`, run from this
folder's parent with `-c` pointing at a config that names this script location)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from appliance.state.models import Base

target_metadata = Base.metadata


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode copies the table, so the same revisions serve both.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url") or context.config.get_main_option(
        "sqlalchemy.url"
    )
    if not url:
        raise SystemExit("pass the database URL: alembic -x url=... upgrade head")
    with create_engine(url).begin() as conn:
        _run(conn)
