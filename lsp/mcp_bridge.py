"""`codemoat-mcp`: the appliance's MCP tools over stdio, for agents that only start local servers.

A proxy, not a second server: the tool list and every call go to the appliance's `/mcp` with the developer's
own token (`CODEMOAT_URL`, `CODEMOAT_TOKEN`, as for `codemoat-lsp`), so what an agent may read and what it gets
back are the appliance's answers, scope included. It needs the MCP SDK (`pip install 'codemoat[mcp]'`) and
nothing of the ML stack."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

__all__ = ["main"]

_USAGE = "set CODEMOAT_URL (http://host:8000) and CODEMOAT_TOKEN (see `codemoat token create`)"


def main() -> None:
    try:
        import mcp  # noqa: F401
    except ImportError:
        sys.exit("codemoat-mcp: the MCP SDK is not installed here: pip install 'codemoat[mcp]'")
    url = os.environ.get("CODEMOAT_URL", "").rstrip("/")
    token = os.environ.get("CODEMOAT_TOKEN", "")
    if not url or not token:
        sys.exit(f"codemoat-mcp: {_USAGE}")
    refused = _refusal(url, token)
    if refused:
        sys.exit(f"codemoat-mcp: {url} refused this token: {refused}")
    try:
        asyncio.run(_serve(url, token))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # noqa: BLE001 - one line for the agent's log, not a traceback
        sys.exit(f"codemoat-mcp: cannot reach the appliance's MCP tools at {url}/mcp: {_reason(exc)}")


async def _serve(url: str, token: str) -> None:
    import httpx2
    import mcp_types as types
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.server.lowlevel import Server
    from mcp.server.stdio import stdio_server

    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"}, timeout=httpx2.Timeout(300, connect=10)
        ) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as remote,
    ):
        # Listed once at start: a wrong token or URL fails here, with its reason, before the agent relies on it.
        tools = await remote.list_tools()

        async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
            return tools

        async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
            return await remote.call_tool(params.name, params.arguments or {})

        server: Server[Any] = Server("codemoat", on_list_tools=list_tools, on_call_tool=call_tool)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())


def _refusal(url: str, token: str) -> str | None:
    """The appliance's own reason when it refuses the token (the MCP transport reports only that it failed)."""
    import httpx

    try:
        answer = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    except httpx.HTTPError:
        return None  # unreachable: the transport says so below, with its reason
    if answer.status_code not in (401, 403):
        return None
    try:
        return f"{answer.status_code} {answer.json()['error']['message']}"
    except (ValueError, KeyError, TypeError):
        return f"HTTP {answer.status_code}"


def _reason(exc: BaseException) -> str:
    """The innermost error of an exception group (anyio wraps the transport's failure in several)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__
