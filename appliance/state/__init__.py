"""The appliance's relational state: SQLAlchemy 2 models, the session factory and Alembic migrations.

SQLite under the data directory is the embedded default; a PostgreSQL URL serves several gateway replicas.
Every schema change is an Alembic revision under `migrations/versions/`; `Database.open` upgrades to head."""
