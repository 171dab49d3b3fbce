"""The append-only audit log of administrative and license events: who (actor), what (action, target,
detail), when, from where (source). Entries are hash-chained, so that an entry deleted or edited in the
database is detected by `codemoat audit verify`.

    audit = AuditLog(db)
    with db.session() as session:
        ...change something...
        audit.record(session, actor, "user.create", "alice", role="user")   # same transaction as the change
    audit.verify()   -> Verification(ok, entries, head_seq, head_hash, problems)
"""

from appliance.audit.log import Actor, AuditLog, AuditRecord, Verification

__all__ = ["Actor", "AuditLog", "AuditRecord", "Verification"]
