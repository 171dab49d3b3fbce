"""The audit log as the `codemoat` commands that change something use it (token, license): the shell user on
this host is the actor.

The state database is opened before the command changes anything, so that a database that cannot be opened
refuses the command with nothing done. The entry is appended after the change, and after its result was
shown: a license receipt or a new token's secret must reach the operator even when the entry cannot be
written. When the append fails, the command exits with `AuditNotRecorded` (code 7), whose message says that
the change *was* made and why it is not in the log.

    with CliAudit.open(settings) as audit:
        ...change, print the result...
        audit.record("license L-1 was activated", "license.activate", "L-1", seats=5)
"""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

from appliance.audit.errors import AuditNotRecorded
from appliance.audit.log import Actor, AuditLog
from appliance.state.errors import DatabaseError

if TYPE_CHECKING:
    from appliance.config import Settings
    from appliance.state.db import Database


class CliAudit:
    def __init__(self, db: Database, actor: Actor, log: AuditLog) -> None:
        self.db = db
        self.actor = actor
        self.log = log

    @classmethod
    def open(cls, settings: Settings) -> CliAudit:
        """Open (and migrate) the state database; raises DatabaseError when it cannot be used."""
        from appliance.state.db import Database

        db = Database.open(settings.state, settings.home)
        return cls(db, Actor.cli(), AuditLog.for_settings(db, settings))

    def record(self, done: str, action: str, target: str = "", **detail: Any) -> None:
        """Append one entry for a change already made; `done` says what was made, for the error message."""
        self.record_all(done, [(action, target, detail)])

    def record_all(self, done: str, entries: Sequence[tuple[str, str, dict[str, Any]]]) -> None:
        """Append (action, target, detail) entries for one change, all or none."""
        try:
            with self.db.session() as session:
                for action, target, detail in entries:
                    self.log.record(session, self.actor, action, target, **detail)
        except DatabaseError as exc:
            raise AuditNotRecorded(
                f"{done}, but the audit log could not record it ({exc}); note it by hand, then check the "
                "state database"
            ) from None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> CliAudit:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()
