"""Every served request leaves one usage event (written in batches, off the request path, flushed at shutdown)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from appliance.state.db import Database
from appliance.state.models import ApiToken, UsageEvent
from tests.appliance.api.conftest import Home

pytestmark = pytest.mark.slow


async def test_usage_events_are_recorded(gateway_factory: Any, gateway_home: Home) -> None:
    database = Database.open(gateway_home.settings.state, gateway_home.path)
    with database.session() as session:
        start = session.scalar(select(func.coalesce(func.max(UsageEvent.id), 0)))
        token_id = session.scalar(select(ApiToken.id).where(ApiToken.name == "dev"))
    async with gateway_factory() as gw, gw.client(gateway_home.user_token) as client:
        completion = await client.post(
            "/v1/completions",
            json={
                "prompt": "def add(a, b):\n",
                "max_tokens": 3,
                "repo": "sample",
                "path": "m.py",
                "language": "python",
            },
        )
        chat = await client.post(
            "/v1/chat/completions",
            json={"messages": [{"role": "user", "content": "hello"}], "max_tokens": 2, "stream": True},
        )
        assert completion.status_code == chat.status_code == 200
        await chat.aread()
    with database.session() as session:
        events = list(
            session.scalars(select(UsageEvent).where(UsageEvent.id > start).order_by(UsageEvent.id))
        )
    database.close()
    assert [(e.kind, e.stream, e.status) for e in events] == [("completion", False, 200), ("chat", True, 200)]
    first, second = events
    assert first.token_id == second.token_id == token_id
    assert (first.repo, first.language) == ("sample", "python")
    assert first.prompt_tokens > 0 and 0 < first.completion_tokens <= 3
    assert second.completion_tokens <= 2 and second.ttft_ms is not None
    assert second.latency_ms >= second.ttft_ms > 0
    assert first.model == "smollm2-135m-instruct"
