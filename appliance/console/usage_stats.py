"""The usage page's numbers, from the gateway's usage events and the editor bridge's acceptance telemetry:
completions and chats served, acceptance rate, latency percentiles, per day, language and model, and active
users (the number the license's seat count compares with its seats)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select

from appliance.state.db import Database
from appliance.state.models import CompletionFeedback, UsageEvent, utcnow

ACTIVE_WINDOW = timedelta(days=30)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100) by linear interpolation between closest ranks; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[min(max(int(q), 1), 99) - 1]


def _latency(values: list[float]) -> dict[str, float | None]:
    return {
        f"p{q}": (round(v, 1) if (v := percentile(values, q)) is not None else None) for q in (50, 95, 99)
    }


class UsageStats:
    def __init__(self, db: Database) -> None:
        self._db = db

    def active_users(self, *, now: datetime | None = None, window: timedelta = ACTIVE_WINDOW) -> int:
        since = (now or utcnow()) - window
        with self._db.session() as session:
            served = set(
                session.scalars(
                    select(UsageEvent.user_id)
                    .distinct()
                    .where(UsageEvent.created >= since, UsageEvent.user_id.is_not(None))
                )
            )
            editing = set(
                session.scalars(
                    select(CompletionFeedback.user_id)
                    .distinct()
                    .where(CompletionFeedback.created >= since, CompletionFeedback.user_id.is_not(None))
                )
            )
        return len(served | editing)

    def summary(self, *, days: int = 30, now: datetime | None = None) -> dict[str, Any]:
        now = now or utcnow()
        since = now - timedelta(days=days)
        with self._db.session() as session:
            events = session.execute(
                select(
                    UsageEvent.created,
                    UsageEvent.kind,
                    UsageEvent.model,
                    UsageEvent.language,
                    UsageEvent.status,
                    UsageEvent.latency_ms,
                    UsageEvent.ttft_ms,
                    UsageEvent.user_id,
                    UsageEvent.completion_tokens,
                ).where(UsageEvent.created >= since)
            ).all()
            feedback = session.execute(
                select(
                    CompletionFeedback.created,
                    CompletionFeedback.event,
                    CompletionFeedback.language,
                    CompletionFeedback.model,
                    CompletionFeedback.user_id,
                ).where(CompletionFeedback.created >= since)
            ).all()
            total_users = session.scalar(
                select(func.count(distinct(UsageEvent.user_id))).where(UsageEvent.created >= since)
            )
        days_rows: dict[str, dict[str, Any]] = defaultdict(
            lambda: {"completions": 0, "chats": 0, "errors": 0, "users": set(), "shown": 0, "accepted": 0}
        )
        by_language: dict[str, Counter[str]] = defaultdict(Counter)
        by_model: dict[str, Counter[str]] = defaultdict(Counter)
        latencies: dict[str, list[float]] = defaultdict(list)
        first_token: list[float] = []
        for created, kind, model, language, status, latency, ttft, user_id, tokens in events:
            day = created.date().isoformat()
            row = days_rows[day]
            ok = status < 400
            if not ok:
                row["errors"] += 1
            if user_id is not None:
                row["users"].add(user_id)
            if not ok:
                continue
            row["completions" if kind == "completion" else "chats"] += 1
            latencies[kind].append(latency)
            if ttft is not None:
                first_token.append(ttft)
            if kind == "completion":
                by_language[language or "unknown"]["completions"] += 1
            by_model[model][kind] += 1
        for created, event, language, model, user_id in feedback:
            row = days_rows[created.date().isoformat()]
            if event in ("shown", "accepted"):
                row[event] += 1
                by_language[language or "unknown"][event] += 1
                by_model[model or "unknown"][event] += 1
            if user_id is not None:
                row["users"].add(user_id)
        shown = sum(r["shown"] for r in days_rows.values())
        accepted = sum(r["accepted"] for r in days_rows.values())
        return {
            "days": days,
            "since": since.isoformat(),
            "completions": sum(r["completions"] for r in days_rows.values()),
            "chats": sum(r["chats"] for r in days_rows.values()),
            "errors": sum(r["errors"] for r in days_rows.values()),
            "shown": shown,
            "accepted": accepted,
            "acceptance_rate": round(accepted / shown, 4) if shown else None,
            "latency_ms": {kind: _latency(values) for kind, values in sorted(latencies.items())},
            "first_token_ms": _latency(first_token),
            "active_users": self.active_users(now=now),
            "users_in_period": int(total_users or 0),
            "per_day": [
                {
                    "day": day,
                    **{k: (len(v) if k == "users" else v) for k, v in row.items()},
                    "acceptance_rate": round(row["accepted"] / row["shown"], 4) if row["shown"] else None,
                }
                for day, row in sorted(days_rows.items())
            ],
            "per_language": [
                {
                    "language": lang,
                    "completions": c["completions"],
                    "shown": c["shown"],
                    "accepted": c["accepted"],
                    "acceptance_rate": round(c["accepted"] / c["shown"], 4) if c["shown"] else None,
                }
                for lang, c in sorted(by_language.items(), key=lambda kv: -kv[1]["completions"])
            ],
            "per_model": [
                {
                    "model": model,
                    "completions": c["completion"],
                    "chats": c["chat"],
                    "shown": c["shown"],
                    "accepted": c["accepted"],
                }
                for model, c in sorted(by_model.items())
            ],
        }
