"""The hash of one audit entry: SHA-256 over a canonical JSON of its fields and the previous entry's hash.

Canonical means sorted keys, no whitespace, UTF-8, and the time as an ISO 8601 string in UTC with
microseconds, so that SQLite and PostgreSQL (both keep microseconds) give back exactly what was hashed."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64  # the `prev_hash` of the first entry


def canonical_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    *,
    prev_hash: str,
    seq: int,
    created: datetime,
    actor: str,
    actor_id: int | None,
    action: str,
    target: str,
    detail: dict[str, Any],
    source: str,
) -> str:
    body = {
        "prev": prev_hash,
        "seq": seq,
        "created": canonical_time(created),
        "actor": actor,
        "actor_id": actor_id,
        "action": action,
        "target": target,
        "detail": detail,
        "source": source,
    }
    data = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


def plain_detail(detail: dict[str, Any]) -> dict[str, Any]:
    """JSON round-trip, so that what is hashed is what the database gives back (no tuples, no floats' noise)."""
    return json.loads(json.dumps(detail, sort_keys=True, default=str))
