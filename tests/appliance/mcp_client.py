"""The official MCP SDK's client against a gateway's `/mcp`, for tests: one session per `async with`."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

T = TypeVar("T")


@asynccontextmanager
async def mcp_client(url: str, token: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client:
            yield client


def with_mcp(url: str, token: str | None, body: Callable[[Client], Awaitable[T]]) -> T:
    """`body(client)` in a fresh session, from synchronous test code."""

    async def run() -> T:
        async with mcp_client(url, token) as client:
            return await body(client)

    return asyncio.run(run())


async def call(client: Client, tool: str, **arguments: Any) -> tuple[bool, Any]:
    """(ok, the tool's JSON answer) or (False, its error message)."""
    result = await client.call_tool(tool, arguments)
    text = "".join(getattr(part, "text", "") for part in result.content)
    if result.is_error:
        return False, text
    return True, json.loads(text)
