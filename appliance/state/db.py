"""The database handle: one SQLAlchemy engine and session factory per process, upgraded to the newest schema
when opened."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from appliance.state.config import StateSettings
from appliance.state.errors import DatabaseError
from appliance.state.storage import explain

MIGRATIONS = Path(__file__).with_name("migrations")


def database_url(settings: StateSettings, home: Path) -> URL:
    """The URL the settings name, or SQLite under the data directory."""
    if not settings.database_url:
        return URL.create("sqlite+pysqlite", database=str(settings.sqlite_path(home)))
    try:
        url = make_url(settings.database_url)
    except ArgumentError:
        raise DatabaseError("invalid configuration: state.database_url is not a database URL") from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 is the driver we install
    if settings.database_password is not None:
        url = url.set(password=settings.database_password.get_secret_value())
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the gateway read while the CLI writes (token create/revoke against a running server).
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    """Owns the engine. `session()` is the unit of work: commit on success, roll back on error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, settings: StateSettings, home: Path, *, upgrade: bool = True) -> Database:
        url = database_url(settings, home)
        options: dict[str, Any] = {"echo": settings.echo_sql}
        if url.get_backend_name() == "sqlite":
            directory = Path(url.database or "").parent
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(explain(exc, directory) or f"cannot create {directory}: {exc}") from None
        else:
            options.update(pool_size=settings.pool_size, pool_pre_ping=True)
        try:
            engine = create_engine(url, **options)
        except (ArgumentError, ImportError) as exc:
            raise DatabaseError(
                f"cannot use database {url.render_as_string(hide_password=True)}: {exc}"
            ) from None
        if url.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        database = cls(engine)
        if upgrade:
            database.upgrade()
        return database

    def upgrade(self, revision: str = "head") -> None:
        """Bring the schema to `revision` with Alembic (idempotent; run by every process that opens it)."""
        from alembic import command

        try:
            with self.engine.begin() as connection:
                command.upgrade(self._alembic_config(connection), revision)
        except OperationalError as exc:
            raise DatabaseError(
                self._storage_reason(exc) or f"cannot open the state database {self.describe()}: {exc.orig}"
            ) from None

    def downgrade(self, revision: str) -> None:
        """Take the schema back to `revision` with this code's migrations (an update's rollback)."""
        from alembic import command

        try:
            with self.engine.begin() as connection:
                command.downgrade(self._alembic_config(connection), revision)
        except OperationalError as exc:
            raise DatabaseError(
                self._storage_reason(exc)
                or f"cannot migrate the state database {self.describe()}: {exc.orig}"
            ) from None

    def current_revision(self) -> str | None:
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()

    @staticmethod
    def head_revision() -> str | None:
        """The newest migration this version of the code has."""
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return ScriptDirectory.from_config(config).get_current_head()

    def _alembic_config(self, connection: Any) -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.attributes["connection"] = connection
        return config

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            reason = getattr(exc, "orig", None) or exc
            storage = self._storage_reason(exc) if isinstance(exc, OperationalError) else None
            raise DatabaseError(
                storage or f"state database error: {exc.__class__.__name__}: {reason}"
            ) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _storage_reason(self, exc: OperationalError) -> str | None:
        """For SQLite: the data directory is read-only or full (SQLite only says it cannot write)."""
        if self.engine.url.get_backend_name() != "sqlite":
            return None
        return explain(exc.orig or exc, Path(self.engine.url.database or "").parent)

    def describe(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()
