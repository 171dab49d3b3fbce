"""Authentication and authorization over HTTP: 401 without a valid token, 403 for a revoked one or a repository
out of scope, retrieval limited to what the token may read, and /metrics for administrators only."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from appliance.auth.tokens import TokenStore
from appliance.state.db import Database
from tests.appliance.api.conftest import Gateway, Home

pytestmark = pytest.mark.slow

QUESTION = {
    "messages": [
        {"role": "user", "content": "How do we rotate the vault master key and compute invoice totals?"}
    ],
    "max_tokens": 2,
}


@pytest.fixture
async def gateway(gateway_factory: Any) -> AsyncIterator[Gateway]:
    async with gateway_factory() as gw:
        yield gw


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "missing API token"),
        ({"Authorization": "Basic YWRtaW46YWRtaW4="}, "Bearer <token>"),
        ({"Authorization": "Bearer"}, "Bearer <token>"),
        ({"Authorization": "Bearer cm_notarealtokenatallnotarealtokenatallnotareal"}, "invalid API token"),
        ({"Authorization": "Bearer sk-openai-style"}, "invalid API token"),
    ],
    ids=["missing", "basic", "empty", "unknown", "foreign"],
)
async def test_v1_needs_a_valid_token(gateway: Gateway, headers: dict[str, str], words: str) -> None:
    async with gateway.client(headers=headers) as client:
        for method, path, body in (
            ("GET", "/v1/models", None),
            ("POST", "/v1/completions", {"prompt": "x"}),
            ("POST", "/v1/chat/completions", QUESTION),
        ):
            response = await client.request(method, path, json=body)
            assert response.status_code == 401, (path, response.text)
            error = response.json()["error"]
            assert error["type"] == "authentication_error" and error["code"] == "invalid_api_key"
            assert words in error["message"]


async def test_health_and_readiness_need_no_token(gateway: Gateway) -> None:
    async with gateway.client() as client:
        assert (await client.get("/healthz")).json()["status"] == "ok"
        for _ in range(600):  # the index warms up (embedder) right after start: ready once it has
            ready = await client.get("/readyz")
            if ready.status_code == 200:
                break
            assert ready.json()["checks"]["index"]["detail"] == "open, loading the embedder", ready.text
            await asyncio.sleep(0.1)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks["engine"]["ok"] and checks["index"]["ok"] and checks["license"]["ok"]


async def test_revoked_token_is_refused_with_403(gateway: Gateway, gateway_home: Home) -> None:
    database = Database.open(gateway_home.settings.state, gateway_home.path)
    store = TokenStore(database)
    issued = store.create("short-lived", admin=True)
    async with gateway.client(issued.token) as client:
        assert (await client.get("/v1/models")).status_code == 200
        store.revoke("short-lived")
        response = await client.get("/v1/models")
    database.close()
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["type"] == "permission_error" and "revoked" in error["message"]


async def test_repository_outside_the_token_scope_is_403_naming_repo(
    gateway: Gateway, gateway_home: Home
) -> None:
    async with gateway.client(gateway_home.user_token) as client:
        completion = await client.post(
            "/v1/completions",
            json={"prompt": "def f():\n", "repo": "secret", "path": "vault/x.py", "max_tokens": 1},
        )
        chat = await client.post("/v1/chat/completions", json={**QUESTION, "repo": ["sample", "secret"]})
    for response in (completion, chat):
        assert response.status_code == 403, response.text
        assert response.json()["error"]["param"] == "repo"
        assert "'secret'" in response.json()["error"]["message"]


async def test_retrieval_only_cites_repositories_the_token_may_read(
    gateway: Gateway, gateway_home: Home
) -> None:
    async with (
        gateway.client(gateway_home.admin_token) as admin,
        gateway.client(gateway_home.user_token) as user,
    ):
        everything = (await admin.post("/v1/chat/completions", json=QUESTION)).json()["codemoat"]["citations"]
        scoped = (await user.post("/v1/chat/completions", json=QUESTION)).json()["codemoat"]["citations"]
        completion = (
            await user.post(
                "/v1/completions",
                json={
                    "prompt": "def rotate(vault):\n    rotate_master_key(vault)\n    return invoice_total(lines)\n",
                    "path": "app/main.py",
                    "repo": "sample",
                    "max_tokens": 1,
                },
            )
        ).json()["codemoat"]["citations"]
    assert {c["repo"] for c in everything} == {"sample", "secret"}  # the question matches both repositories
    assert scoped and {c["repo"] for c in scoped} == {"sample"}
    assert [c["index"] for c in scoped] == list(range(1, len(scoped) + 1))
    assert all(c["preview"] and c["start_line"] <= c["end_line"] for c in scoped)
    assert completion and {c["repo"] for c in completion} == {"sample"}


async def test_metrics_need_an_administrator(gateway: Gateway, gateway_home: Home) -> None:
    async with (
        gateway.client() as anonymous,
        gateway.client(gateway_home.user_token) as user,
        gateway.client(gateway_home.admin_token) as admin,
    ):
        assert (await anonymous.get("/metrics")).status_code == 401
        assert (await user.get("/metrics")).status_code == 403
        response = await admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert "codemoat_http_requests_total" in response.text
    assert 'codemoat_http_requests_total{method="GET",route="/metrics",status="403"} 1.0' in response.text


async def test_metrics_can_be_public(gateway_factory: Any) -> None:
    async with gateway_factory(gateway={"metrics_auth": "none"}) as gw, gw.client() as client:
        assert (await client.get("/metrics")).status_code == 200
