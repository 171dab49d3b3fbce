"""The access matrix: users × groups × repositories over completion, chat, search and sources, driven through
HTTP against a real gateway on the CPU engine and a real index. A caller's retrieval touches only the
repositories their groups grant (everything for an administrator), narrowed by their token's own scope:
not one citation, hit or source from any other repository (zero leaks), and every granted repository is
really retrieved from (so the test cannot pass by retrieving nothing)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from appliance.audit.log import AuditLog
from appliance.auth.tokens import TokenStore
from appliance.state.db import Database
from appliance.users.accounts import Accounts
from appliance.users.groups import Groups
from indexer.service import CodeIndex
from tests.appliance.mcp_client import call, with_mcp

from .conftest import ADMIN
from .gitrepo import make_repo
from .live import LiveServer, serve, settings_for, sign_in

pytestmark = pytest.mark.slow

REPOS = {
    "alpha": (
        "ledger.py",
        '''def alpha_ledger_balance(entries):
    """Sum the debit and credit entries of the general ledger into a balance."""
    return sum(e.debit - e.credit for e in entries)
''',
        "general ledger debit credit balance",
        "balance = alpha_ledger_balance(",
    ),
    "beta": (
        "router.py",
        '''def beta_route_table(prefixes):
    """Build the network routing table from announced prefixes and next hops."""
    return {p.prefix: p.next_hop for p in prefixes}
''',
        "network routing table prefixes next hops",
        "table = beta_route_table(",
    ),
    "gamma": (
        "cipher.py",
        '''def gamma_rotate_cipher(plaintext, shift):
    """Encrypt plaintext with the rotation cipher, shifting every letter."""
    return "".join(chr((ord(c) - 97 + shift) % 26 + 97) for c in plaintext)
''',
        "rotation cipher encrypt plaintext shifting letters",
        "secret = gamma_rotate_cipher(",
    ),
}
ALL = frozenset(REPOS)


@dataclass(frozen=True)
class Caller:
    name: str
    token: str
    allowed: frozenset[str]


@pytest.fixture(scope="module")
def matrix(
    tmp_path_factory: pytest.TempPathFactory, model_cache: Path
) -> Iterator[tuple[LiveServer, list[Caller]]]:
    root = tmp_path_factory.mktemp("matrix")
    home = root / "home"
    with CodeIndex.open(settings_for(home, model_cache).indexer, home) as index:
        for repo, (path, text, _, _) in REPOS.items():
            folder = root / "src" / repo
            make_repo(folder, {path: text})  # a git work tree: MCP's recent_changes reads its history
            index.index(folder, name=repo)
    db = Database.open(settings_for(home, model_cache).state, home)
    audit = AuditLog(db)
    accounts, groups, tokens = Accounts(db, audit), Groups(db, audit), TokenStore(db)
    accounts.create("root", role="admin", password="root-password-1", actor=ADMIN)
    for name in ("ann", "ben", "cy", "dee"):
        accounts.create(name, password=f"{name}-password-1", actor=ADMIN)
    groups.create("ledger-team", members=["ann", "ben"], repos=["alpha"], actor=ADMIN)
    groups.create("infra-team", members=["ben", "cy"], repos=["beta", "gamma"], actor=ADMIN)
    # Granted while the narrowed tokens below are made, withdrawn after: a token may name repositories its
    # user no longer reads (creation refuses only what the user cannot read at that moment).
    groups.create("withdrawn", members=["ben", "cy"], repos=["alpha", "nonexistent"], actor=ADMIN)

    def token(name: str, user: str, repos: list[str] | None = None) -> str:
        return tokens.create(name, user=user, repos=repos).token

    callers = [
        Caller("root", token("root-all", "root"), ALL),
        Caller("root-narrowed-to-beta", token("root-beta", "root", ["beta"]), frozenset({"beta"})),
        Caller("ann", token("ann-all", "ann"), frozenset({"alpha"})),
        Caller("ben", token("ben-all", "ben"), ALL),
        Caller(
            "ben-narrowed-to-gamma", token("ben-gamma", "ben", ["gamma", "nonexistent"]), frozenset({"gamma"})
        ),
        Caller("cy", token("cy-all", "cy"), frozenset({"beta", "gamma"})),
        Caller("cy-narrowed-outside-grants", token("cy-alpha", "cy", ["alpha"]), frozenset()),
        Caller("dee-no-groups", token("dee-all", "dee"), frozenset()),
    ]
    groups.delete("withdrawn", actor=ADMIN)
    db.close()
    with serve(settings_for(home, model_cache)) as live:
        yield live, callers


def repos_of(items: list[dict]) -> set[str]:
    return {item["repo"] for item in items}


CALLER_NAMES = [
    "root",
    "root-narrowed-to-beta",
    "ann",
    "ben",
    "ben-narrowed-to-gamma",
    "cy",
    "cy-narrowed-outside-grants",
    "dee-no-groups",
]


@pytest.fixture(params=CALLER_NAMES)
def caller(request: pytest.FixtureRequest, matrix) -> Caller:  # type: ignore[no-untyped-def]
    return next(c for c in matrix[1] if c.name == request.param)


@pytest.fixture
def client(matrix, caller: Caller) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with matrix[0].client(caller.token) as client:
        yield client


def test_search_returns_only_granted_repositories(caller: Caller, client: httpx.Client) -> None:
    for repo, (_, _, topic, _) in REPOS.items():
        hits = client.get("/api/search", params={"q": topic, "k": 10}).json()["hits"]
        # The index holds one chunk per repository: a search returns every chunk in scope, and only those.
        assert repos_of(hits) == caller.allowed, f"{caller.name} searching {repo!r}"
        if repo in caller.allowed:
            assert hits[0]["repo"] == repo
        pinned = client.get("/api/search", params={"q": topic, "repo": repo})
        if repo in caller.allowed:
            assert pinned.status_code == 200 and repos_of(pinned.json()["hits"]) == {repo}
        else:
            assert pinned.status_code == 403 and pinned.json()["error"]["param"] == "repo"


def test_mcp_tools_answer_only_from_granted_repositories(matrix, caller: Caller) -> None:  # type: ignore[no-untyped-def]
    """Every MCP tool, for every repository: within the scope an answer; outside it the same error as for a
    repository that does not exist, and not one word of the repository's code anywhere in any answer."""
    functions = {repo: text.split("(")[0].removeprefix("def ") for repo, (_, text, _, _) in REPOS.items()}

    async def session(client):  # type: ignore[no-untyped-def]
        answers: list[tuple[str, bool, object]] = []

        async def ask(tool: str, **arguments: object) -> tuple[bool, object]:
            ok, answer = await call(client, tool, **arguments)
            answers.append((tool, ok, answer))
            return ok, answer

        ok, listed = await ask("list_repositories")
        assert ok and {r["name"] for r in listed["repositories"]} == caller.allowed
        for repo, (path, text, topic, _) in REPOS.items():
            granted = repo in caller.allowed
            ok, found = await ask("search_code", query=topic, limit=10)
            assert ok and repos_of(found["results"]) == caller.allowed
            ok, pinned = await ask("search_code", query=topic, repos=[repo])
            assert ok == granted and (not granted or repos_of(pinned["results"]) == {repo})
            ok, defined = await ask("go_to_definition", name=functions[repo])
            assert ok and repos_of(defined["definitions"]) == ({repo} if granted else set())
            ok, used = await ask("find_references", name=functions[repo])
            assert ok and repos_of(used["references"]) <= caller.allowed
            ok, lines = await ask("read_file", repo=repo, path=path, start_line=1, end_line=2)
            assert ok == granted and (not granted or lines["text"] == "\n".join(text.splitlines()[:2]))
            ok, changes = await ask("recent_changes", repo=repo)
            assert ok == granted and (not granted or changes["commits"][0]["files"] == [path])
            if not granted:
                _, unknown = await call(client, "read_file", repo="no-such-repo", path=path)
                assert lines == unknown.replace("'no-such-repo'", f"'{repo}'")
        return answers

    answers = with_mcp(matrix[0].url, caller.token, session)
    # What the caller sent is echoed back ("name", "query"): only what the server added counts.
    everything = json.dumps(
        [
            {k: v for k, v in answer.items() if k not in ("name", "query")}
            if isinstance(answer, dict)
            else answer
            for _, _, answer in answers
        ]
    )
    for repo, name in functions.items():
        if repo not in caller.allowed:
            assert name not in everything, f"{caller.name} learned of {name} through MCP"


def test_sources_are_readable_only_when_granted(caller: Caller, client: httpx.Client) -> None:
    for repo, (path, text, _, _) in REPOS.items():
        answer = client.get(
            "/api/sources", params={"repo": repo, "path": path, "start_line": 1, "end_line": 3}
        )
        if repo in caller.allowed:
            assert answer.status_code == 200
            assert answer.json()["text"] == "\n".join(text.splitlines()[:3])
        else:
            assert answer.status_code == 403, f"{caller.name} read {repo}"
            assert text.splitlines()[0] not in answer.text


def test_chat_cites_only_granted_repositories(caller: Caller, client: httpx.Client) -> None:
    question = "How do the ledger balance, the routing table and the rotation cipher work?"
    answer = client.post(
        "/v1/chat/completions", json={"messages": [{"role": "user", "content": question}], "max_tokens": 1}
    )
    assert answer.status_code == 200, answer.text
    assert repos_of(answer.json()["codemoat"]["citations"]) == caller.allowed
    streamed = client.post(
        "/v1/chat/completions",
        json={"messages": [{"role": "user", "content": question}], "max_tokens": 1, "stream": True},
    )
    cited: set[str] = set()
    for line in streamed.text.split("\n"):
        if line.startswith("data: {") and '"codemoat"' in line:
            cited |= repos_of(json.loads(line[6:])["codemoat"]["citations"])
    assert cited == caller.allowed
    for repo in REPOS:
        if repo not in caller.allowed:
            pinned = client.post(
                "/v1/chat/completions",
                json={"messages": [{"role": "user", "content": question}], "max_tokens": 1, "repo": repo},
            )
            assert pinned.status_code == 403 and pinned.json()["error"]["param"] == "repo"


def test_completion_context_comes_only_from_granted_repositories(
    caller: Caller, client: httpx.Client
) -> None:
    prefix = "".join(f"# {topic}\n{call}entries)\n" for _, _, topic, call in REPOS.values()) + "total = "
    done = client.post(
        "/v1/completions",
        json={"prompt": prefix, "suffix": "\n", "path": "app/main.py", "language": "python", "max_tokens": 1},
    )
    assert done.status_code == 200, done.text
    cited = repos_of(done.json()["codemoat"]["citations"])
    assert cited == caller.allowed, f"{caller.name} got context from {cited}"
    for repo in REPOS:
        if repo not in caller.allowed:
            pinned = client.post(
                "/v1/completions",
                json={"prompt": prefix, "repo": repo, "path": "app/main.py", "max_tokens": 1},
            )
            assert pinned.status_code == 403 and pinned.json()["error"]["param"] == "repo"


def test_console_chat_streams_sources_within_the_session_users_access(matrix) -> None:  # type: ignore[no-untyped-def]
    """The console's own chat (session cookie, not a token) retrieves within the same scope."""
    live, _ = matrix
    for user, allowed in (("ann", {"alpha"}), ("cy", {"beta", "gamma"})):
        with sign_in(live, user, f"{user}-password-1") as client:
            conversation = client.post("/api/conversations", json={}).json()
            with client.stream(
                "POST",
                f"/api/conversations/{conversation['id']}/messages",
                json={"content": "Explain the ledger balance, the routing table and the cipher."},
            ) as stream:
                assert stream.status_code == 200
                body = stream.read().decode()
            cited: set[str] = set()
            for line in body.split("\n"):
                if line.startswith("data: ") and '"sources"' in line:
                    cited |= repos_of(json.loads(line[6:])["sources"])
            assert cited == allowed
            stored = client.get(f"/api/conversations/{conversation['id']}").json()["messages"]
            assert [m["role"] for m in stored] == ["user", "assistant"]
            assert repos_of(stored[1]["citations"]) == allowed
            forbidden = next(r for r in REPOS if r not in allowed)
            refused = client.post(
                f"/api/conversations/{conversation['id']}/messages",
                json={"content": "hello", "repos": [forbidden]},
            )
            assert refused.status_code == 403 and refused.json()["error"]["param"] == "repo"


def test_no_token_means_no_access(matrix) -> None:  # type: ignore[no-untyped-def]
    live, _ = matrix
    with httpx.Client(base_url=live.url) as client:
        assert client.get("/api/search", params={"q": "ledger"}).status_code == 401
        assert client.get("/api/sources", params={"repo": "alpha", "path": "ledger.py"}).status_code == 401
        assert (
            client.post(
                "/v1/chat/completions", json={"messages": [{"role": "user", "content": "x"}]}
            ).status_code
            == 401
        )
