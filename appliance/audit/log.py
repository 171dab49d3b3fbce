"""`AuditLog`: append entries inside the caller's transaction, read them back, verify the chain.

Appends serialize on the `audit_head` row: `UPDATE audit_head SET seq = seq + 1` takes its row lock on
PostgreSQL and the write lock on SQLite before the previous hash is read, so concurrent writers (several
gateway replicas, the CLI next to a running server) still form one chain. The head also records the last
entry, so that entries deleted from the end of the log are detected; and, outside the database, each
committed entry is anchored in a signed head file (appliance.audit.anchor), so that a log emptied or cut back
with its head is detected too."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, func, select, update
from sqlalchemy.orm import Session

from appliance.audit.anchor import AuditAnchor
from appliance.audit.chain import GENESIS, entry_hash, plain_detail
from appliance.state.db import Database
from appliance.state.models import AuditEntry, AuditHead, utcnow

if TYPE_CHECKING:
    from appliance.config import Settings

_HEAD_ID = 1
_BATCH = 1000
_PENDING = "codemoat.audit.anchor"  # session.info key: the newest entry the session added, for after commit
log = logging.getLogger("codemoat.audit")


@dataclass(frozen=True, slots=True)
class Actor:
    """Who did it and from where: a signed-in user (`source` = client address) or the CLI on the host."""

    name: str
    user_id: int | None = None
    source: str = ""

    @classmethod
    def cli(cls) -> Actor:
        import getpass

        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return cls(name=f"cli:{user}", source=f"cli@{socket.gethostname()}")


@dataclass(frozen=True, slots=True)
class AuditRecord:
    seq: int
    created: datetime
    actor: str
    actor_id: int | None
    action: str
    target: str
    detail: dict[str, Any]
    source: str
    hash: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "created": self.created.isoformat(),
            "actor": self.actor,
            "actor_id": self.actor_id,
            "action": self.action,
            "target": self.target,
            "detail": self.detail,
            "source": self.source,
            "hash": self.hash,
        }


@dataclass(slots=True)
class Verification:
    entries: int = 0
    head_seq: int = 0
    head_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "entries": self.entries,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "problems": self.problems,
        }


def _record(row: AuditEntry) -> AuditRecord:
    return AuditRecord(
        row.seq,
        row.created,
        row.actor,
        row.actor_id,
        row.action,
        row.target,
        dict(row.detail),
        row.source,
        row.hash,
    )


class AuditLog:
    def __init__(self, db: Database, anchor: AuditAnchor | None = None) -> None:
        """`anchor`: where committed entries are signed outside the database (`for_settings` makes the one of a
        data directory); None keeps the chain in the database only."""
        self._db = db
        self.anchor = anchor

    @classmethod
    def for_settings(cls, db: Database, settings: Settings) -> AuditLog:
        """The log of the appliance these settings describe: anchored under `<home>/audit` with the device's
        signing key (created with the device identity, sealed to the TPM when there is one, if none exists)."""
        from appliance.license_gate.device_keys import device_keys

        identity = device_keys(settings).load_or_create()
        return cls(db, AuditAnchor(Path(settings.home) / "audit", identity.signing_key))

    def record(self, session: Session, actor: Actor, action: str, target: str = "", **detail: Any) -> int:
        """Append one entry in `session`'s transaction (it commits or rolls back with the change it records).
        Returns the entry's sequence number."""
        bumped = session.execute(
            update(AuditHead).where(AuditHead.id == _HEAD_ID).values(seq=AuditHead.seq + 1)
        )
        if bumped.rowcount == 0:  # type: ignore[attr-defined]
            session.add(AuditHead(id=_HEAD_ID, seq=1, hash=GENESIS))
            session.flush()
        head = session.execute(
            select(AuditHead).where(AuditHead.id == _HEAD_ID).execution_options(populate_existing=True)
        ).scalar_one()
        seq, prev = head.seq, head.hash
        created = utcnow()
        clean = plain_detail(detail)
        digest = entry_hash(
            prev_hash=prev,
            seq=seq,
            created=created,
            actor=actor.name,
            actor_id=actor.user_id,
            action=action,
            target=target,
            detail=clean,
            source=actor.source,
        )
        session.add(
            AuditEntry(
                seq=seq,
                created=created,
                actor=actor.name[:160],
                actor_id=actor.user_id,
                action=action,
                target=target[:512],
                detail=clean,
                source=actor.source[:160],
                prev_hash=prev,
                hash=digest,
            )
        )
        head.hash = digest
        session.flush()
        if self.anchor is not None:
            if _PENDING not in session.info:
                event.listen(session, "after_commit", self._anchor_committed, once=True)
            session.info[_PENDING] = (seq, digest)
        return seq

    def _anchor_committed(self, session: Session) -> None:
        pending = session.info.pop(_PENDING, None)
        if pending is None or self.anchor is None:
            return
        try:
            self.anchor.anchor(*pending)
        except Exception:  # the entry is committed; verify reports an anchor that could not be written
            log.exception("could not anchor audit entry %s", pending[0])

    def append(self, actor: Actor, action: str, target: str = "", **detail: Any) -> int:
        """Append one entry in a transaction of its own (events with no database change to go with)."""
        with self._db.session() as session:
            return self.record(session, actor, action, target, **detail)

    def entries(
        self, *, limit: int = 100, before: int | None = None, action: str | None = None
    ) -> list[AuditRecord]:
        """The newest entries first (`before`: only entries with a smaller sequence number, for paging)."""
        with self._db.session() as session:
            query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(limit)
            if before is not None:
                query = query.where(AuditEntry.seq < before)
            if action:
                query = query.where(AuditEntry.action.startswith(action))
            return [_record(row) for row in session.scalars(query)]

    def all_entries(self) -> Iterator[AuditRecord]:
        """Every entry, oldest first (read in batches)."""
        return (_record(row) for row in self._rows())

    def count(self) -> int:
        with self._db.session() as session:
            return int(session.scalar(select(func.count()).select_from(AuditEntry)) or 0)

    def _rows(self) -> Iterator[AuditEntry]:
        after = 0
        while True:
            with self._db.session() as session:
                rows = list(
                    session.scalars(
                        select(AuditEntry)
                        .where(AuditEntry.seq > after)
                        .order_by(AuditEntry.seq)
                        .limit(_BATCH)
                    )
                )
            if not rows:
                return
            yield from rows
            after = rows[-1].seq

    def verify(self) -> Verification:
        """Walk the chain: every entry's hash must match its fields, link to the one before, and follow it
        without a gap; the head must name the last entry."""
        report = Verification()
        expected_seq, prev = 1, GENESIS
        for row in self._rows():
            report.entries += 1
            if row.seq != expected_seq:
                missing = (
                    f"entry {expected_seq}"
                    if row.seq == expected_seq + 1
                    else f"entries {expected_seq} to {row.seq - 1}"
                )
                report.problems.append(f"{missing} missing (deleted)")
            recomputed = entry_hash(
                prev_hash=row.prev_hash,
                seq=row.seq,
                created=row.created,
                actor=row.actor,
                actor_id=row.actor_id,
                action=row.action,
                target=row.target,
                detail=dict(row.detail),
                source=row.source,
            )
            if recomputed != row.hash:
                report.problems.append(
                    f"entry {row.seq} ({row.action} {row.target}) was edited: its hash does "
                    "not match its content"
                )
            elif row.prev_hash != prev and row.seq == expected_seq:
                report.problems.append(
                    f"entry {row.seq} does not follow entry {row.seq - 1}: the chain was rewritten from there"
                )
            expected_seq, prev = row.seq + 1, row.hash
            report.head_seq, report.head_hash = row.seq, row.hash
        with self._db.session() as session:
            head = session.get(AuditHead, _HEAD_ID)
            if head is not None and (head.seq != report.head_seq or head.hash != report.head_hash):
                if head.seq > report.head_seq:
                    report.problems.append(
                        f"entries {report.head_seq + 1} to {head.seq} missing from the end (deleted)"
                    )
                else:
                    report.problems.append(
                        f"the chain head (entry {head.seq}) does not match the last entry ({report.head_seq})"
                    )
            elif head is None and report.entries:
                report.problems.append("the chain head is missing")
        if self.anchor is not None:
            report.problems += self.anchor.problems(report.entries, self._hash_of)
        return report

    def _hash_of(self, seq: int) -> str | None:
        with self._db.session() as session:
            return session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
