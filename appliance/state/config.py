"""Where the appliance keeps its state (users, tokens, usage, and later groups and the audit log)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class StateSettings(BaseModel):
    """`database_url` unset means SQLite under the data directory (one gateway). Several gateway replicas
    share a PostgreSQL database: `postgresql+psycopg://user@host/codemoat` (the password may come separately,
    through `CODEMOAT_STATE__DATABASE_PASSWORD`, so that it never sits in a URL in a config file)."""

    model_config = {"extra": "forbid"}

    database_url: str | None = None
    database_password: SecretStr | None = None
    pool_size: int = Field(5, ge=1, le=100, description="Connections per gateway process (PostgreSQL only).")
    echo_sql: bool = False

    def sqlite_path(self, home: Path) -> Path:
        return home / "state.sqlite3"
