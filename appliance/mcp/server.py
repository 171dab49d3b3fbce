"""The MCP server: the official SDK's `MCPServer` over `CodeTools`, served as Streamable HTTP at `/mcp`.

Stateless and JSON-answered: every POST carries its own bearer token and is answered on its own, so any gateway
replica can take any request and nothing per session lives in memory. The endpoint authenticates the token
exactly as `/v1` does (401 and 403 in the API's JSON error shape, raised into the app's handlers) and hands the
SDK a request whose state holds the caller's `CodeTools`; the tools read it from their request context. The
SDK's DNS-rebinding guard is off: it protects cookie-authenticated local servers, and a browser page cannot
attach this server's bearer token."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi.concurrency import run_in_threadpool
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from appliance.api.deps import bearer_secret
from appliance.api.errors import NotReadyError
from appliance.jobs.git import Git
from appliance.mcp.tools import TOOL_ERRORS, CodeTools

if TYPE_CHECKING:
    from appliance.config import Settings

__all__ = ["McpEndpoint"]

_INSTRUCTIONS = (
    "CodeMoat's index of this company's repositories. Search code with search_code, jump to definitions with "
    "go_to_definition, find uses with find_references, read exact lines with read_file; every answer comes "
    "only from the repositories your token may read."
)
Repos = Annotated[
    list[str] | None, Field(description="Only these repositories (default: every one this token may read).")
]


def _tools(ctx: Context) -> CodeTools:
    return ctx.request_context.request.state.codemoat_tools  # type: ignore[union-attr]


def _answer(call: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    try:
        return call(*args, **kwargs)
    except TOOL_ERRORS as exc:
        raise ToolError(str(exc)) from None


def build_server(version: str) -> MCPServer:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    server = MCPServer("codemoat", version=version, instructions=_INSTRUCTIONS, log_level="WARNING")
    # The SDK configures the root logger (basicConfig with its own handler) when it is built: the process's
    # logging is the server's to set, so it is put back.
    root.handlers[:], root.level = handlers, level

    @server.tool()
    def search_code(
        query: Annotated[
            str, Field(description="Words or code to look for (hybrid: meaning and exact terms).")
        ],
        ctx: Context,
        repos: Repos = None,
        path_prefix: Annotated[str | None, Field(description="Only paths that start with this.")] = None,
        languages: Annotated[
            list[str] | None, Field(description="Only these languages (python, go, ...).")
        ] = None,
        limit: Annotated[int, Field(description="How many results.")] = 10,
    ) -> dict[str, Any]:
        """Search the company's code: chunks of files with their repository, path, lines and enclosing symbol."""
        return _answer(_tools(ctx).search_code, query, repos, path_prefix, languages, limit)

    @server.tool()
    def go_to_definition(
        name: Annotated[str, Field(description="An identifier, or Container.name for a method.")],
        ctx: Context,
        repos: Repos = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """Where a function, class, method or other definition is written, from the index's symbol table."""
        return _answer(_tools(ctx).go_to_definition, name, repos, limit)

    @server.tool()
    def find_references(
        name: Annotated[
            str, Field(description="An identifier, or Container.name (the last part is matched).")
        ],
        ctx: Context,
        repos: Repos = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """Lines that use a name as a whole word, its own definitions left out."""
        return _answer(_tools(ctx).find_references, name, repos, limit)

    @server.tool()
    def read_file(
        repo: str,
        path: Annotated[str, Field(description="Relative to the repository's root.")],
        ctx: Context,
        start_line: Annotated[int, Field(ge=1)] = 1,
        end_line: Annotated[int | None, Field(ge=1)] = None,
    ) -> dict[str, Any]:
        """Lines of an indexed file, as it is on the appliance now (secrets redacted as when indexing)."""
        return _answer(_tools(ctx).read_file, repo, path, start_line, end_line)

    @server.tool()
    def list_repositories(ctx: Context) -> dict[str, Any]:
        """The indexed repositories this token may read, with their size and last indexed commit."""
        return _answer(_tools(ctx).list_repositories)

    @server.tool()
    def recent_changes(repo: str, ctx: Context, limit: int = 20) -> dict[str, Any]:
        """The latest commits of a repository (git history on the appliance), with the indexed files each
        touched."""
        return _answer(_tools(ctx).recent_changes, repo, limit)

    return server


class McpEndpoint:
    """The ASGI endpoint at `/mcp`: authenticate, then the SDK's Streamable HTTP app. `running()` belongs in
    the app's lifespan (the SDK's session manager runs there)."""

    def __init__(self, settings: Settings, version: str) -> None:
        self.settings = settings
        self.server = build_server(version)
        self._app: Starlette | None = None
        self._git = Git(timeout_s=settings.jobs.git_timeout_s)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        # A session manager runs once: each lifespan of the app (a test may start one app twice) gets its own.
        self._app = self.server.streamable_http_app(
            streamable_http_path="/mcp",
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        try:
            async with self.server.session_manager.run():
                yield
        finally:
            self._app = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)
        services = request.app.state.services
        principal = await run_in_threadpool(services.tokens.authenticate, bearer_secret(request))
        request.state.principal = principal
        request.state.codemoat_tools = CodeTools(
            principal, services.index, self.settings.indexer, self.settings.mcp, self._git
        )
        if self._app is None:
            raise NotReadyError("the MCP server is starting or stopping; try again")
        await self._app(scope, receive, send)
