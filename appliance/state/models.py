"""The tables, as SQLAlchemy 2 typed declarative models.

Add a table: declare it here (on `Base`), then write an Alembic revision under `migrations/versions/` (the test
`test_migrations_match_models` fails until the revision and the models agree). Issue 7 adds groups, group
membership, repository grants and the audit log the same way (the block at the end, revision 0002)."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so that migrations can alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite's INTEGER PRIMARY KEY is its 64-bit rowid; PostgreSQL needs BIGINT for tables that grow without end.
BigId = BigInteger().with_variant(Integer, "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out. SQLite stores no zone and hands back naive values; this restores UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Role(StrEnum):
    ADMIN = "admin"
    USER = "user"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[str]: JSON()}  # noqa: RUF012


class User(Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'user')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    role: Mapped[str] = mapped_column(String(16), default=Role.USER.value)
    disabled: Mapped[bool] = mapped_column(default=False)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    # scrypt hash for console sign-in (appliance.users.passwords); NULL: the user signs in with a token only.
    password_hash: Mapped[str | None] = mapped_column(String(256), default=None)
    last_login: Mapped[datetime | None] = mapped_column(default=None)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user", cascade="all, delete-orphan")

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value


class ApiToken(Base):
    """A bearer token. Only the SHA-256 of the secret is stored; `prefix` (the first characters of the secret)
    lets a person tell tokens apart in a list. `repos` is the token's repository scope: NULL means every
    repository its user may see, a list narrows it (an empty list grants none)."""

    __tablename__ = "tokens"
    __table_args__ = (
        # A name addresses one live token; revoked tokens keep their name for the record.
        Index(
            "uq_tokens_live_name",
            "name",
            unique=True,
            sqlite_where="revoked IS NULL",
            postgresql_where="revoked IS NULL",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    repos: Mapped[list[str] | None] = mapped_column(default=None)
    created: Mapped[datetime] = mapped_column(default=utcnow)
    last_used: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[datetime | None] = mapped_column(default=None)

    user: Mapped[User] = relationship(back_populates="tokens")


class UsageEvent(Base):
    """One served request: what the usage pages and the license's seat count read. Written in batches, off the
    request path."""

    __tablename__ = "usage_events"
    __table_args__ = (Index("ix_usage_events_user_created", "user_id", "created"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(32))  # "completion", "chat"
    model: Mapped[str] = mapped_column(String(256))
    status: Mapped[int] = mapped_column(default=200)
    finish_reason: Mapped[str | None] = mapped_column(String(16), default=None)
    prompt_tokens: Mapped[int] = mapped_column(default=0)
    completion_tokens: Mapped[int] = mapped_column(default=0)
    latency_ms: Mapped[float] = mapped_column(default=0.0)
    ttft_ms: Mapped[float | None] = mapped_column(default=None)
    repo: Mapped[str | None] = mapped_column(String(256), default=None)
    language: Mapped[str | None] = mapped_column(String(64), default=None)
    stream: Mapped[bool] = mapped_column(default=False)


# --- Issue 7: groups and repository grants, the audit log, managed repositories and their index jobs,
# --- console sessions, sign-in throttling, conversations, and the editor bridge's acceptance telemetry.


class Group(Base):
    """A set of users; the repositories granted to a group are what its members may retrieve from."""

    __tablename__ = "groups"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    description: Mapped[str] = mapped_column(String(512), default="")
    created: Mapped[datetime] = mapped_column(default=utcnow)


class GroupMember(Base):
    __tablename__ = "group_members"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class RepoGrant(Base):
    """Read access of a group to a repository, by the repository's index name (it may be indexed later)."""

    __tablename__ = "repo_grants"

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), primary_key=True)
    repo: Mapped[str] = mapped_column(String(256), primary_key=True)


class AuditEntry(Base):
    """One administrative or license event. Append-only and hash-chained (appliance.audit): `hash` covers this
    entry's fields and `prev_hash`. No foreign keys: an entry outlives the user or object it names, and a
    cascading update would break the chain."""

    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    created: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(160))
    actor_id: Mapped[int | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    source: Mapped[str] = mapped_column(String(160), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditHead(Base):
    """The chain's last entry (one row, id 1): appends lock it, so concurrent writers form one chain, and it
    reveals entries deleted from the end."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Repository(Base):
    """A repository the appliance keeps indexed: a local folder, or a git URL it clones and pulls."""

    __tablename__ = "repositories"
    __table_args__ = (CheckConstraint("kind IN ('path', 'git')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str] = mapped_column(String(8))
    location: Mapped[str] = mapped_column(String(2048))
    branch: Mapped[str | None] = mapped_column(String(256), default=None)
    sync_interval_s: Mapped[int] = mapped_column(default=0)  # 0: only when asked
    created: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(160), default="")
    last_sync: Mapped[datetime | None] = mapped_column(default=None)
    last_commit: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(String(4000), default=None)
    files: Mapped[int] = mapped_column(default=0)
    chunks: Mapped[int] = mapped_column(default=0)


class IndexJob(Base):
    """One sync-and-index run of a repository, with its live progress."""

    __tablename__ = "index_jobs"
    __table_args__ = (Index("ix_index_jobs_state_created", "state", "created"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    repo_id: Mapped[int] = mapped_column(ForeignKey("repositories.id", ondelete="CASCADE"), index=True)
    trigger: Mapped[str] = mapped_column(String(16))  # added, manual, schedule, cli
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued, running, done, failed
    phase: Mapped[str] = mapped_column(String(16), default="")  # sync, index
    created: Mapped[datetime] = mapped_column(default=utcnow)
    started: Mapped[datetime | None] = mapped_column(default=None)
    finished: Mapped[datetime | None] = mapped_column(default=None)
    files_total: Mapped[int] = mapped_column(default=0)
    files_done: Mapped[int] = mapped_column(default=0)
    files_changed: Mapped[int] = mapped_column(default=0)
    chunks_written: Mapped[int] = mapped_column(default=0)
    commit: Mapped[str | None] = mapped_column(String(64), default=None)
    error: Mapped[str | None] = mapped_column(String(4000), default=None)
    runner: Mapped[str] = mapped_column(String(160), default="")


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_user_updated", "user_id", "updated"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200))
    repos: Mapped[list[str] | None] = mapped_column(
        default=None
    )  # the repository selector; NULL: all allowed
    created: Mapped[datetime] = mapped_column(default=utcnow)
    updated: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationMessage(Base):
    __tablename__ = "conversation_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))  # user, assistant
    content: Mapped[str] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(16), default="ok")  # ok, error, cancelled
    created: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random secret; only its SHA-256 is stored (`id`)."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # Signed in with an API token: the session keeps that token's scope and ends when it is revoked.
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id", ondelete="CASCADE"), default=None)
    csrf: Mapped[str] = mapped_column(String(64))
    created: Mapped[datetime] = mapped_column(default=utcnow)
    expires: Mapped[datetime] = mapped_column()
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    source: Mapped[str] = mapped_column(String(160), default="")


class LoginFailure(Base):
    """Failed sign-ins per key (`user:<name>`, `ip:<address>`), for throttling across gateway replicas."""

    __tablename__ = "login_failures"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    first_failure: Mapped[datetime] = mapped_column(default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)


class CompletionFeedback(Base):
    """The editor bridge's acceptance telemetry (`POST /v1/telemetry/completions`): shown, accepted, rejected."""

    __tablename__ = "completion_feedback"
    __table_args__ = (CheckConstraint("event IN ('shown', 'accepted', 'rejected')", name="event"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    created: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id", ondelete="SET NULL"))
    event: Mapped[str] = mapped_column(String(16))
    completion_id: Mapped[str] = mapped_column(String(128))
    language: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(256), default=None)
    latency_ms: Mapped[float | None] = mapped_column(default=None)
    chars: Mapped[int] = mapped_column(default=0)
    lines: Mapped[int] = mapped_column(default=0)
    from_cache: Mapped[bool] = mapped_column(default=False)
    client: Mapped[str] = mapped_column(String(128), default="")
