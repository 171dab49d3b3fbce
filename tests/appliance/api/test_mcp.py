"""The MCP server at `/mcp`, driven by the official SDK's client over Streamable HTTP against a real gateway and
index: the tools and their schemas, what each answers, the bearer token as on `/v1`, and bad calls answered as
tool errors with a reason (never a 5xx, never a path outside the repository). The access matrix over users ×
groups × repositories is in tests/appliance/console/test_access_matrix.py."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import httpx
import pytest

from appliance.auth.principal import Principal
from appliance.jobs.git import Git
from appliance.mcp.config import McpSettings
from appliance.mcp.tools import CodeTools, ToolInputError
from indexer.config import IndexerSettings
from indexer.service import CodeIndex
from tests.appliance.console.gitrepo import commit, make_repo
from tests.appliance.mcp_client import call, mcp_client

pytestmark = pytest.mark.slow

TOOLS = {
    "search_code",
    "go_to_definition",
    "find_references",
    "read_file",
    "list_repositories",
    "recent_changes",
}


async def test_tools_are_listed_with_their_schemas(gateway_factory, gateway_home) -> None:
    async with gateway_factory() as gw, mcp_client(gw.url, gateway_home.admin_token) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    search = tools["search_code"].input_schema
    assert search["required"] == ["query"] and search["properties"]["query"]["type"] == "string"
    assert all(tool.description for tool in tools.values())


async def test_search_definition_references_and_file_lines(gateway_factory, gateway_home) -> None:
    async with gateway_factory() as gw, mcp_client(gw.url, gateway_home.admin_token) as client:
        ok, found = await call(client, "search_code", query="invoice total with tax", repos=["sample"])
        assert ok and found["results"][0]["path"] == "billing/invoice.py"
        assert {r["repo"] for r in found["results"]} == {"sample"}

        ok, defined = await call(client, "go_to_definition", name="invoice_total")
        assert ok and [(d["repo"], d["path"], d["start_line"]) for d in defined["definitions"]] == [
            ("sample", "billing/invoice.py", 6)
        ]
        ok, method = await call(client, "go_to_definition", name="Customer.greeting")
        assert ok and [(d["path"], d["container"]) for d in method["definitions"]] == [
            ("billing/customer.py", "Customer")
        ]

        ok, used = await call(client, "find_references", name="invoice_total")
        assert ok and [(r["path"], r["line"], r["text"]) for r in used["references"]] == [
            ("billing/invoice.py", 13, "total = invoice_total(lines)")
        ]

        ok, lines = await call(
            client, "read_file", repo="sample", path="billing/invoice.py", start_line=6, end_line=9
        )
        assert ok and lines["text"].splitlines()[0] == "def invoice_total(lines):"
        assert (lines["start_line"], lines["end_line"], lines["total_lines"]) == (6, 9, 14)

        ok, repos = await call(client, "list_repositories")
        assert ok and [r["name"] for r in repos["repositories"]] == ["sample", "secret"]


async def test_a_narrowed_token_sees_one_repository_and_learns_nothing_of_the_other(
    gateway_factory, gateway_home
) -> None:
    async with gateway_factory() as gw, mcp_client(gw.url, gateway_home.user_token) as client:
        ok, repos = await call(client, "list_repositories")
        assert ok and [r["name"] for r in repos["repositories"]] == ["sample"]
        ok, found = await call(client, "search_code", query="rotate the vault master key")
        assert ok and {r["repo"] for r in found["results"]} <= {"sample"}
        assert "SECRET-REPO-MARKER" not in str(found)
        ok, defined = await call(client, "go_to_definition", name="rotate_master_key")
        assert ok and defined["definitions"] == []
        hidden = await call(client, "read_file", repo="secret", path="vault/keys.py")
        missing = await call(client, "read_file", repo="no-such-repo", path="vault/keys.py")
        # One answer for a repository that exists beyond the token's scope and for one that does not exist.
        assert hidden == (
            False,
            "Error executing tool read_file: repo: no repository named 'secret' that this token may read "
            "(it may read: sample)",
        )
        assert missing == (False, hidden[1].replace("'secret'", "'no-such-repo'"))
        ok, message = await call(client, "search_code", query="key", repos=["secret"])
        assert not ok and "'secret'" in message


@pytest.mark.parametrize(
    ("tool", "arguments", "reason"),
    [
        ("read_file", {"repo": "sample", "path": "../secret/vault/keys.py"}, "path: a path relative"),
        ("read_file", {"repo": "sample", "path": "/etc/passwd"}, "path: a path relative"),
        ("read_file", {"repo": "sample", "path": "billing/nope.py"}, "is not indexed"),
        (
            "read_file",
            {"repo": "sample", "path": "billing/invoice.py", "start_line": 99},
            "has only 14 lines",
        ),
        ("search_code", {"query": "   "}, "query: give the words"),
        ("search_code", {"query": "x", "limit": 0}, "limit: between 1 and 50"),
        ("go_to_definition", {"name": "not an identifier"}, "is not an identifier"),
        ("recent_changes", {"repo": "sample"}, "has no git history"),
    ],
)
async def test_bad_calls_are_tool_errors_with_a_reason(
    gateway_factory, gateway_home, tool, arguments, reason
) -> None:
    async with gateway_factory() as gw, mcp_client(gw.url, gateway_home.admin_token) as client:
        ok, message = await call(client, tool, **arguments)
    assert not ok and reason in message, message


async def test_the_endpoint_needs_a_token_like_v1(gateway_factory) -> None:
    async with gateway_factory() as gw:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        headers = {"Accept": "application/json, text/event-stream"}
        async with httpx.AsyncClient(base_url=gw.url) as http:
            anonymous = await http.post("/mcp", json=body, headers=headers)
            wrong = await http.post("/mcp", json=body, headers={**headers, "Authorization": "Bearer cm_nope"})
    assert anonymous.status_code == 401 and "missing API token" in anonymous.json()["error"]["message"]
    assert wrong.status_code == 401 and wrong.json()["error"]["message"]


def test_recent_changes_list_indexed_files_only(tmp_path: Path) -> None:
    """Through the tools' Python API on a real git repository: newest first, and a file the indexer keeps out
    (a secret) is counted, never named."""
    repo = tmp_path / "shop"
    make_repo(repo, {"cart.py": "def add(item):\n    return [item]\n"})
    second = commit(
        repo,
        {
            "cart.py": "def add(item):\n    return [item, item]\n",
            "café.py": "def pay():\n    return 1\n",
            ".env": "T=1\n",
        },
        "double",
    )
    with CodeIndex.open(IndexerSettings(), tmp_path / "home") as index:
        index.index(repo, name="shop")
        principal = Principal(1, "ann", "user", 1, "t", ("shop",))
        tools = CodeTools(principal, index, IndexerSettings(), McpSettings(), Git(timeout_s=60))
        changes = tools.recent_changes("shop", limit=5)
        assert [c["subject"] for c in changes["commits"]][0] == "double"
        assert changes["commits"][0]["sha"] == second
        assert (changes["commits"][0]["files"], changes["commits"][0]["other_files"]) == (
            ["café.py", "cart.py"],
            1,
        )
        with pytest.raises(ToolInputError, match="limit: between 1 and 100"):
            tools.recent_changes("shop", limit=1000)
        outsider = CodeTools(
            Principal(2, "bo", "user", 2, "t", ()), index, IndexerSettings(), McpSettings(), Git(timeout_s=60)
        )
        with pytest.raises(ToolInputError, match="no repository named 'shop'"):
            outsider.recent_changes("shop")
    assert os.path.isdir(repo)


async def test_the_stdio_bridge_forwards_to_the_appliance_with_the_developers_token(
    gateway_factory, gateway_home
) -> None:
    """`codemoat-mcp` started by the SDK's own stdio client, as an agent starts a local server."""
    import sys

    from mcp import Client, StdioServerParameters

    bridge = str(Path(sys.executable).parent / "codemoat-mcp")
    async with gateway_factory() as gw:
        env = {"CODEMOAT_URL": gw.url, "CODEMOAT_TOKEN": gateway_home.user_token}
        async with Client(StdioServerParameters(command=bridge, env=env)) as client:
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
            ok, found = await call(client, "search_code", query="invoice total with tax")
            assert ok and {r["repo"] for r in found["results"]} == {"sample"}
            ok, message = await call(client, "read_file", repo="secret", path="vault/keys.py")
            assert not ok and "no repository named 'secret' that this token may read" in message

        wrong = await asyncio.create_subprocess_exec(
            bridge,
            env={**os.environ, "CODEMOAT_URL": gw.url, "CODEMOAT_TOKEN": "cm_wrong"},
            stdin=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(wrong.communicate(), 120)
    assert wrong.returncode == 1
    assert stderr.decode() == f"codemoat-mcp: {gw.url} refused this token: 401 invalid API token\n"
