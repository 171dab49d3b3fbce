"""The editor bridge's acceptance events (shown, accepted, rejected), kept in the state database: what the
usage page's acceptance rate is computed from (`appliance.console.usage_stats`)."""

from __future__ import annotations

from dataclasses import dataclass

from appliance.state.db import Database
from appliance.state.models import CompletionFeedback, utcnow


@dataclass(frozen=True, slots=True)
class FeedbackEvent:
    event: str
    completion_id: str
    language: str | None = None
    model: str | None = None
    latency_ms: float | None = None
    chars: int = 0
    lines: int = 0
    from_cache: bool = False
    client: str = ""


def record_feedback(db: Database, event: FeedbackEvent, *, user_id: int | None, token_id: int | None) -> None:
    with db.session() as session:
        session.add(
            CompletionFeedback(
                created=utcnow(),
                user_id=user_id,
                token_id=token_id,
                event=event.event,
                completion_id=event.completion_id,
                language=event.language,
                model=event.model,
                latency_ms=event.latency_ms,
                chars=event.chars,
                lines=event.lines,
                from_cache=event.from_cache,
                client=event.client,
            )
        )
