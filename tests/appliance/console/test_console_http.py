"""The console over real HTTP: sign-in and sessions (cookie flags, CSRF, throttling), who may reach what,
validation of every administration field with a clear message, conversations kept per user, the telemetry
endpoint and the usage numbers, the license page, security headers."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.audit.log import AuditLog
from appliance.state.db import Database
from appliance.users.accounts import Accounts
from appliance.users.groups import Groups

from .conftest import ADMIN
from .live import LiveServer, serve, settings_for, sign_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, model_cache: Path) -> Iterator[LiveServer]:
    home = tmp_path_factory.mktemp("console") / "home"
    settings = settings_for(home, model_cache, max_failed_logins=3, lockout_s=600, chat_max_tokens=48)
    db = Database.open(settings.state, home)
    audit = AuditLog(db)
    accounts = Accounts(db, audit)
    accounts.create("root", role="admin", password="root-password-1", actor=ADMIN)
    accounts.create("ann", password="ann-password-1", actor=ADMIN)
    accounts.create("ben", password="ben-password-1", actor=ADMIN)
    accounts.create("victim", password="victim-password-1", actor=ADMIN)
    Groups(db, audit).create("team", members=["ann"], repos=["alpha"], actor=ADMIN)
    db.close()
    with serve(settings) as server:
        yield server


def login_form(client: httpx.Client) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    return page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]


def test_pages_need_a_session(live: LiveServer) -> None:
    with live.client(follow_redirects=False) as client:
        for path in ("/console/chat", "/console/account", "/console/admin/users"):
            answer = client.get(path)
            assert answer.status_code == 303
            assert answer.headers["location"] == f"/console/login?next={path}"
        assert client.get("/api/conversations").status_code == 401


def test_sign_in_sets_a_strict_http_only_session_cookie(live: LiveServer) -> None:
    with live.client(follow_redirects=False) as client:
        csrf = login_form(client)
        done = client.post(
            "/console/login",
            data={"csrf": csrf, "username": "ann", "password": "ann-password-1", "next": "/console/account"},
        )
        assert done.status_code == 303 and done.headers["location"] == "/console/account"
        cookie = next(
            v for k, v in done.headers.multi_items() if k == "set-cookie" and "codemoat_session=" in v
        )
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP: see the TLS test for the Secure variant
        assert client.get("/console/account").status_code == 200
        me = client.get("/api/me").json()
        assert me["name"] == "ann" and me["repos"] == ["alpha"]
        out = client.post("/console/logout", data={"csrf": me["csrf"]})
        assert out.status_code == 303
        assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\\\evil", "/api/me"])
def test_sign_in_never_redirects_elsewhere(live: LiveServer, target: str) -> None:
    with live.client(follow_redirects=False) as client:
        done = client.post(
            "/console/login",
            data={
                "csrf": login_form(client),
                "username": "ben",
                "password": "ben-password-1",
                "next": target,
            },
        )
        assert done.headers["location"] == "/console/chat"


def test_sign_in_with_an_api_token(live: LiveServer) -> None:
    with live.client(follow_redirects=False) as client:
        with sign_in(live, "ann", "ann-password-1") as ann:
            token = ann.post("/api/tokens", json={"name": "ann-console"}).json()["token"]
        done = client.post(
            "/console/login", data={"csrf": login_form(client), "method": "token", "token": token}
        )
        assert done.status_code == 303
        assert client.get("/api/me").json()["name"] == "ann"


def test_login_csrf_and_bad_credentials(live: LiveServer) -> None:
    with live.client(follow_redirects=False) as client:
        login_form(client)
        forged = client.post(
            "/console/login", data={"csrf": "guessed", "username": "ben", "password": "ben-password-1"}
        )
        assert forged.status_code == 403 and "expired" in forged.text
        wrong = client.post(
            "/console/login",
            data={"csrf": login_form(client), "username": "ben", "password": "not-his-password"},
        )
        assert wrong.status_code == 401 and "wrong user name or password" in wrong.text
        empty = client.post("/console/login", data={"csrf": login_form(client), "username": "ben"})
        assert empty.status_code == 400 and "Enter your user name and password." in empty.text
        other_site = client.post(
            "/console/login",
            headers={"Origin": "https://evil.example"},
            data={"csrf": login_form(client), "username": "ben", "password": "ben-password-1"},
        )
        assert other_site.status_code == 403


def test_repeated_failures_lock_the_account_out(live: LiveServer) -> None:
    with live.client(follow_redirects=False) as client:
        for _ in range(3):
            assert (
                client.post(
                    "/console/login",
                    data={"csrf": login_form(client), "username": "victim", "password": "guess-guess-guess"},
                ).status_code
                == 401
            )
        locked = client.post(
            "/console/login",
            data={"csrf": login_form(client), "username": "victim", "password": "victim-password-1"},
        )
        assert locked.status_code == 429
        assert "too many failed sign-ins: try again in" in locked.text
        assert 590 <= int(locked.headers["retry-after"]) <= 600


def test_state_changes_need_the_session_csrf_token(live: LiveServer) -> None:
    with sign_in(live, "ben", "ben-password-1") as client:
        csrf = client.headers.pop("X-CSRF-Token")
        missing = client.post("/api/conversations", json={})
        assert missing.status_code == 403 and "CSRF" in missing.json()["error"]["message"]
        wrong = client.post("/api/conversations", json={}, headers={"X-CSRF-Token": "x" * 43})
        assert wrong.status_code == 403
        cross_site = client.post(
            "/api/conversations", json={}, headers={"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        )
        assert cross_site.status_code == 403 and "another site" in cross_site.json()["error"]["message"]
        same_site = client.post(
            "/api/conversations", json={}, headers={"X-CSRF-Token": csrf, "Origin": live.url}
        )
        assert same_site.status_code == 201
        assert client.get("/api/conversations").status_code == 200  # reads need no token


ADMIN_CALLS = [
    ("GET", "/api/admin/users", None),
    ("POST", "/api/admin/users", {"name": "x"}),
    ("PATCH", "/api/admin/users/ann", {"role": "admin"}),
    ("POST", "/api/admin/users/root/password", {}),
    ("GET", "/api/admin/groups", None),
    ("POST", "/api/admin/groups", {"name": "g"}),
    ("POST", "/api/admin/groups/team/members", {"user": "ben"}),
    ("POST", "/api/admin/groups/team/repos", {"repo": "beta"}),
    ("DELETE", "/api/admin/groups/team", None),
    ("GET", "/api/admin/tokens", None),
    ("POST", "/api/admin/tokens", {"user": "root", "name": "stolen"}),
    ("DELETE", "/api/admin/tokens/1", None),
    ("GET", "/api/admin/repositories", None),
    ("POST", "/api/admin/repositories", {"kind": "path", "location": "/"}),
    ("POST", "/api/admin/repositories/reindex", {"name": "x"}),
    ("DELETE", "/api/admin/repositories/x", None),
    ("GET", "/api/admin/license", None),
    ("POST", "/api/admin/license/request", None),
    ("POST", "/api/admin/license/activate", {"text": "x"}),
    ("GET", "/api/admin/usage", None),
    ("GET", "/api/admin/audit", None),
    ("GET", "/api/admin/audit/verify", None),
]


def test_administration_is_for_administrators_only(live: LiveServer) -> None:
    with sign_in(live, "ann", "ann-password-1") as client:
        for method, path, body in ADMIN_CALLS:
            answer = client.request(method, path, json=body)
            assert answer.status_code == 403, (method, path)
            assert answer.json()["error"]["message"] == "this needs an administrator"
        for page in ("repositories", "users", "license", "usage", "audit"):
            answer = client.get(f"/console/admin/{page}")
            assert answer.status_code == 403 and "this page is for administrators" in answer.text
    with sign_in(live, "root", "root-password-1") as admin:
        assert admin.get("/api/admin/users").status_code == 200
        assert admin.get("/console/admin/users").status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body", "param", "message"),
    [
        ("POST", "/api/admin/users", {"name": "bad name"}, "name", "name: a user name is 1-128 letters"),
        (
            "POST",
            "/api/admin/users",
            {"name": "ok1", "role": "god"},
            "role",
            "role: Input should be 'admin' or 'user'",
        ),
        (
            "POST",
            "/api/admin/users",
            {"name": "ok2", "password": "short"},
            "password",
            "password: a password has 10 to 256 characters",
        ),
        ("POST", "/api/admin/users", {"name": "ok3", "groups": ["nope"]}, "group", "no group named 'nope'"),
        ("POST", "/api/admin/users", {"name": "root"}, "name", "name: a user named 'root' already exists"),
        ("POST", "/api/admin/users", {"name": 5}, "name", "name: Input should be a valid string"),
        ("POST", "/api/admin/users", {"name": "ok4", "extra": 1}, "extra", "extra: unknown field"),
        ("PATCH", "/api/admin/users/nobody", {"disabled": True}, "name", "no user named 'nobody'"),
        ("PATCH", "/api/admin/users/root", {}, "disabled", "send 'disabled' or 'role'"),
        (
            "PATCH",
            "/api/admin/users/root",
            {"disabled": True},
            "disabled",
            "disabled: you cannot disable yourself",
        ),
        (
            "PATCH",
            "/api/admin/users/root",
            {"disabled": "yes"},
            "disabled",
            "disabled: Input should be a valid boolean",
        ),
        ("POST", "/api/admin/groups", {"name": ""}, "name", "name: a group name is"),
        (
            "POST",
            "/api/admin/groups",
            {"name": "g1", "repos": ["a b"]},
            "repos",
            "repos: a repository name is",
        ),
        (
            "POST",
            "/api/admin/groups",
            {"name": "g2", "members": ["ghost"]},
            "user",
            "user: no user named 'ghost'",
        ),
        (
            "POST",
            "/api/admin/groups",
            {"name": "g3", "description": "x" * 600},
            "description",
            "description: String should have at most 512 characters",
        ),
        ("POST", "/api/admin/groups/team/members", {"user": "ghost"}, "user", "user: no user named 'ghost'"),
        ("POST", "/api/admin/groups/nope/repos", {"repo": "alpha"}, "group", "no group named 'nope'"),
        (
            "DELETE",
            "/api/admin/groups/team/repos/zeta",
            None,
            "repo",
            "repo: group 'team' is not granted 'zeta'",
        ),
        ("POST", "/api/admin/tokens", {"user": "ghost", "name": "t"}, "name", "no user named 'ghost'"),
        ("POST", "/api/admin/tokens", {"user": "ann", "name": "has space"}, "name", "name: a token name is"),
        ("DELETE", "/api/admin/tokens/999999", None, None, "no live token named or numbered '999999'"),
        (
            "POST",
            "/api/admin/repositories",
            {"kind": "svn", "location": "/"},
            "kind",
            "kind: Input should be",
        ),
        (
            "POST",
            "/api/admin/repositories",
            {"kind": "path", "location": "nope"},
            "location",
            "location: give an absolute path",
        ),
        (
            "POST",
            "/api/admin/repositories",
            {"kind": "git", "location": "ftp://x/y"},
            "location",
            "location: a git URL starts with",
        ),
        (
            "POST",
            "/api/admin/repositories",
            {"kind": "git", "location": "https://h/r.git", "sync_interval_s": 10},
            "sync_interval_s",
            "sync_interval_s: at least 60 seconds",
        ),
        (
            "POST",
            "/api/admin/repositories",
            {"kind": "git", "location": "https://h/r.git", "sync_interval_s": "1"},
            "sync_interval_s",
            "sync_interval_s: Input should be a valid integer",
        ),
        ("POST", "/api/admin/repositories/reindex", {"name": "ghost"}, "name", "no repository named 'ghost'"),
        ("DELETE", "/api/admin/repositories/ghost", None, "name", "no repository named 'ghost'"),
        (
            "PATCH",
            "/api/admin/repositories/ghost",
            {"sync_interval_s": 0},
            "name",
            "no repository named 'ghost'",
        ),
        (
            "POST",
            "/api/admin/license/activate",
            {"text": "  "},
            "file",
            "file: choose the file the vendor sent",
        ),
        ("POST", "/api/admin/license/activate", {"text": "not a license"}, None, ""),
        ("POST", "/api/admin/license/lease", {"text": "not a lease"}, None, ""),
        ("GET", "/api/admin/usage?days=0", None, "days", "days: Input should be greater than or equal to 1"),
        ("GET", "/api/admin/audit?limit=abc", None, "limit", "limit: Input should be a valid integer"),
    ],
)
def test_every_administration_field_is_validated(
    live: LiveServer, method, path, body, param, message
) -> None:  # type: ignore[no-untyped-def]
    with sign_in(live, "root", "root-password-1") as client:
        answer = client.request(method, path, json=body)
        assert 400 <= answer.status_code < 500, answer.text
        error = answer.json()["error"]
        assert error["message"].startswith(message), error
        assert error["message"] and "Traceback" not in error["message"]
        if param is not None:
            assert error["param"] == param


def test_bad_input_to_the_chat_api(live: LiveServer) -> None:
    with sign_in(live, "ann", "ann-password-1") as client:
        conversation = client.post("/api/conversations", json={"title": "first"}).json()
        cases = [
            ("POST", "/api/conversations", {"title": "x" * 201}, "title"),
            ("POST", "/api/conversations", {"repos": ["beta"]}, "repo"),
            ("PATCH", f"/api/conversations/{conversation['id']}", {"title": "   "}, "title"),
            ("POST", f"/api/conversations/{conversation['id']}/messages", {"content": "  "}, "content"),
            ("POST", f"/api/conversations/{conversation['id']}/messages", {"content": 42}, "content"),
            ("POST", f"/api/conversations/{conversation['id']}/messages", {}, "content"),
            ("GET", "/api/search?q=", None, "q"),
            ("GET", "/api/search?q=x&k=500", None, "k"),
            ("GET", "/api/search?q=x&mode=magic", None, "mode"),
            ("GET", "/api/sources?repo=alpha&path=../../etc/passwd", None, "path"),
            ("GET", "/api/sources?repo=alpha&path=a.py&start_line=0", None, "start_line"),
            ("POST", "/api/tokens", {"name": ""}, "name"),
            (
                "POST",
                "/api/account/password",
                {"current_password": "wrong-one-1", "new_password": "new-password-9"},
                "current_password",
            ),
            (
                "POST",
                "/api/account/password",
                {"current_password": "ann-password-1", "new_password": "short"},
                "new_password",
            ),
        ]
        for method, path, body, param in cases:
            answer = client.request(method, path, json=body)
            assert 400 <= answer.status_code < 500, (path, answer.text)
            assert answer.json()["error"]["param"] == param, (path, answer.json())
        bad_json = client.post(
            "/api/conversations", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert bad_json.status_code == 400 and "JSON" in bad_json.json()["error"]["message"]


def test_conversations_are_kept_per_user(live: LiveServer) -> None:
    with sign_in(live, "ann", "ann-password-1") as ann, sign_in(live, "ben", "ben-password-1") as ben:
        created = ann.post(
            "/api/conversations", json={"title": "Ledger questions", "repos": ["alpha"]}
        ).json()
        cid = created["id"]
        assert created["repos"] == ["alpha"]
        renamed = ann.patch(f"/api/conversations/{cid}", json={"title": "Ledger, renamed"}).json()
        assert renamed["title"] == "Ledger, renamed"
        assert any(c["id"] == cid for c in ann.get("/api/conversations").json()["conversations"])
        assert all(c["id"] != cid for c in ben.get("/api/conversations").json()["conversations"])
        for method, path, body in (
            ("GET", f"/api/conversations/{cid}", None),
            ("PATCH", f"/api/conversations/{cid}", {"title": "mine now"}),
            ("DELETE", f"/api/conversations/{cid}", None),
            ("POST", f"/api/conversations/{cid}/messages", {"content": "hi"}),
        ):
            assert ben.request(method, path, json=body).status_code == 404
        assert ben.get(f"/console/chat/{cid}").status_code == 404
        assert ann.get(f"/console/chat/{cid}").status_code == 200
        assert ann.delete(f"/api/conversations/{cid}").status_code == 204
        assert ann.get(f"/api/conversations/{cid}").status_code == 404


def test_chat_streams_each_rendered_block_once(live: LiveServer) -> None:
    """The stream carries the raw text once, each finished Markdown block's HTML once and the final HTML once:
    a few times the answer's size, not the whole rendered answer again on every update."""
    with sign_in(live, "ann", "ann-password-1") as ann:
        cid = ann.post("/api/conversations", json={}).json()["id"]
        question = "Show a Python hello world in a code block, then explain it."
        with ann.stream("POST", f"/api/conversations/{cid}/messages", json={"content": question}) as stream:
            assert stream.status_code == 200
            body = stream.read().decode()
    events = []
    for raw in body.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in raw.split("\n"))
        events.append((lines["event"], json.loads(lines["data"])))
    names = [name for name, _ in events]
    assert names[0] == "start" and names[-1] == "done" and "html" not in names
    done = events[-1][1]
    answer = done["message"]["content"]
    assert "".join(data["text"] for name, data in events if name == "delta") == answer
    blocks = [data for name, data in events if name == "block"]
    assert len(blocks) >= 2, answer  # a code block, then a paragraph: each arrives rendered as it ends
    ends = [b["end"] for b in blocks]
    assert ends == sorted(set(ends)) and all(0 < e <= len(answer) for e in ends)
    assert sum(len(b["html"]) for b in blocks) <= 1.2 * len(done["html"]) + 50
    streamed = sum(len(json.dumps(data)) for name, data in events if name in ("delta", "block", "done"))
    assert streamed <= 8 * len(json.dumps(answer)) + 2_000, (streamed, len(answer))


def test_tokens_belong_to_their_user(live: LiveServer) -> None:
    with sign_in(live, "ben", "ben-password-1") as ben, sign_in(live, "root", "root-password-1") as root:
        # ben's groups grant nothing: a token naming "alpha" would promise what it cannot read; refused.
        refused = ben.post("/api/tokens", json={"name": "ben-laptop", "repos": ["alpha"]})
        assert refused.status_code == 400, refused.text
        error = refused.json()["error"]
        assert error["param"] == "repos" and "may not read alpha" in error["message"]
        for_ben = root.post("/api/admin/tokens", json={"user": "ben", "name": "ben-ci", "repos": ["alpha"]})
        assert for_ben.status_code == 400 and for_ben.json()["error"]["param"] == "repos"
        issued = ben.post("/api/tokens", json={"name": "ben-laptop"}).json()
        assert issued["token"].startswith("cm_") and issued["user"] == "ben"
        with live.client(issued["token"]) as editor:
            me = editor.get("/api/me").json()
            assert me["name"] == "ben" and me["repos"] == []
        others = root.post("/api/admin/tokens", json={"user": "ann", "name": "ann-ci"}).json()
        assert ben.delete(f"/api/tokens/{others['id']}").status_code == 404
        assert ben.delete(f"/api/tokens/{issued['id']}").status_code == 204
        with live.client(issued["token"]) as editor:
            assert editor.get("/api/me").status_code == 403
        actions = [e["action"] for e in root.get("/api/admin/audit").json()["entries"]]
        assert {"token.create", "token.revoke"} <= set(actions)


def test_telemetry_feeds_the_usage_numbers(live: LiveServer) -> None:
    with sign_in(live, "root", "root-password-1") as root:
        token = root.post("/api/admin/tokens", json={"user": "ann", "name": "ann-editor"}).json()["token"]
        with live.client(token) as editor:
            for i, event in enumerate(["shown", "accepted", "shown", "rejected", "shown", "accepted"]):
                sent = editor.post(
                    "/v1/telemetry/completions",
                    json={
                        "event": event,
                        "completion_id": f"cmpl-{i // 2}",
                        "language": "python",
                        "model": "m",
                        "chars": 12,
                        "lines": 1,
                        "latency_ms": 80.5,
                        "client": "codemoat-lsp",
                    },
                )
                assert sent.status_code == 204
            bad = editor.post("/v1/telemetry/completions", json={"event": "clicked", "completion_id": "x"})
            assert bad.status_code == 400 and bad.json()["error"]["param"] == "event"
        assert (
            httpx.post(
                f"{live.url}/v1/telemetry/completions", json={"event": "shown", "completion_id": "x"}
            ).status_code
            == 401
        )
        usage = root.get("/api/admin/usage").json()
        assert (usage["shown"], usage["accepted"]) == (3, 2)
        assert usage["acceptance_rate"] == round(2 / 3, 4)
        assert usage["active_users"] >= 1
        python = next(row for row in usage["per_language"] if row["language"] == "python")
        assert (python["shown"], python["accepted"]) == (3, 2)
        today = dt.datetime.now(dt.UTC).date().isoformat()
        assert any(day["day"] == today and day["accepted"] == 2 for day in usage["per_day"])
        page = root.get("/console/admin/usage")
        assert page.status_code == 200 and "67%" in page.text


def test_the_license_page_reports_state_and_refuses_bad_files(live: LiveServer) -> None:
    with sign_in(live, "root", "root-password-1") as root:
        status = root.get("/api/admin/license").json()
        assert status["available"] is True and status["state"] == "STOPPED" and not status["installed"]
        assert "no license is installed" in status["reason"]
        # What it serves under is the word its responses carry, not the license's own STOPPED.
        served = root.get("/v1/models").headers["X-CodeMoat-License-State"]
        assert status["serving_state"] == served == "UNLICENSED" and status["seat_window"] == "hour"
        request = root.post("/api/admin/license/request")
        assert request.status_code == 200 and "attachment" in request.headers["content-disposition"]
        assert request.text.strip()
        refused = root.post("/api/admin/license/activate", json={"text": "-----BEGIN NOTHING-----\nx\n"})
        assert refused.status_code == 400 and refused.json()["error"]["code"] == "license_error"
        page = root.get("/console/admin/license")
        assert page.status_code == 200
        shown = page.text.split('data-testid="license-state">', 1)[1].split("<", 1)[0]
        assert shown == "UNLICENSED" and 'data-testid="license-own-state">STOPPED<' in page.text
        assert "users with a request in the last hour" in page.text
        # No TPM on this machine (tests/licensing/test_tpm.py covers one): the keys are files, and it says so.
        if not Path("/dev/tpmrm0").exists():
            assert status["device_keys"].startswith("owner-only files")
            assert 'data-testid="license-device-keys">owner-only files' in page.text
        actions = [e["action"] for e in root.get("/api/admin/audit").json()["entries"]]
        assert "license.request" in actions


def test_security_headers_on_pages_and_api(live: LiveServer) -> None:
    with live.client() as client:
        for path in ("/console/login", "/api/me", "/console/static/console.js"):
            headers = client.get(path).headers
            assert headers["content-security-policy"].startswith("default-src 'none'; script-src 'self'")
            assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert client.get("/console/static/../../../etc/passwd").status_code == 404
        assert client.get("/console/static/nothing.js").status_code == 404


def test_tls_sessions_use_secure_host_only_cookies(tmp_path: Path, model_cache: Path) -> None:
    cert, key = _self_signed(tmp_path)
    settings = settings_for(tmp_path / "home", model_cache)
    db = Database.open(settings.state, settings.home)
    Accounts(db, AuditLog(db)).create("tls", password="tls-password-1", actor=ADMIN)
    db.close()
    tls = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    with (
        serve(settings, ssl=tls, wait_ready=False) as server,
        httpx.Client(base_url=server.url, verify=False, follow_redirects=False) as client,
    ):
        page = client.get("/console/login")
        assert "__Host-codemoat_login_csrf=" in page.headers["set-cookie"]
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        done = client.post(
            "/console/login", data={"csrf": csrf, "username": "tls", "password": "tls-password-1"}
        )
        cookie = next(v for k, v in done.headers.multi_items() if k == "set-cookie" and "session" in v)
        assert cookie.startswith("__Host-codemoat_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        assert "strict-transport-security" in client.get("/api/me").headers


def _self_signed(folder: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
