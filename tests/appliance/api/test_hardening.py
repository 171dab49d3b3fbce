"""Findings of the outside probe (issue 14), reproduced through the gateway's HTTP entry point: no API docs
that load from a CDN or list the admin routes to anyone, security headers on every answer whatever the route,
and a client that hangs up mid-body counted as a client problem (499), not a server error."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from appliance.api.security_headers import HEADERS
from tests.appliance.api.conftest import Home, metric_value

pytestmark = pytest.mark.slow


async def test_no_docs_by_default_and_the_schema_is_for_administrators(
    gateway_factory: Any, gateway_home: Home
) -> None:
    async with gateway_factory() as gw, gw.client(gateway_home.admin_token) as admin:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect"):
            assert (await admin.get(path)).status_code == 404, path
    async with (
        gateway_factory(gateway={"openapi_schema": True}) as gw,
        gw.client(gateway_home.admin_token) as admin,
        gw.client(gateway_home.user_token) as user,
        gw.client() as anonymous,
    ):
        assert (await anonymous.get("/openapi.json")).status_code == 401
        assert (await user.get("/openapi.json")).status_code == 403
        schema = await admin.get("/openapi.json")
        assert schema.status_code == 200 and "/v1/completions" in schema.json()["paths"]
        assert (await admin.get("/docs")).status_code == 404  # its viewer would load from a CDN


async def test_cors_only_for_the_configured_origins(gateway_factory: Any, gateway_home: Home) -> None:
    preflight = {
        "Origin": "https://chat.intranet.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, x-stainless-os",
    }
    async with gateway_factory() as gw, gw.client() as browser:
        refused = await browser.options("/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in refused.headers  # off by default
    origins = ["https://chat.intranet.example"]
    async with (
        gateway_factory(gateway={"cors_origins": origins}) as gw,
        gw.client() as browser,
        gw.client(gateway_home.admin_token, headers={"Origin": origins[0]}) as page,
    ):
        allowed = await browser.options("/v1/chat/completions", headers=preflight)
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == origins[0]
        assert "POST" in allowed.headers["access-control-allow-methods"]
        other = await browser.options("/v1/models", headers={**preflight, "Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in other.headers
        models = await page.get("/v1/models")  # the token is still needed and checked
        assert models.status_code == 200 and models.headers["access-control-allow-origin"] == origins[0]
        assert "x-codemoat-license-state" in models.headers["access-control-expose-headers"].lower()
        anonymous = await browser.get("/v1/models", headers={"Origin": origins[0]})
        assert anonymous.status_code == 401


@pytest.mark.parametrize("path", ["/console/nonexistent", "/no/such/route", "/healthz", "/v1/models"])
async def test_every_answer_carries_the_security_headers(
    gateway_factory: Any, gateway_home: Home, path: str
) -> None:
    async with gateway_factory() as gw, gw.client(gateway_home.admin_token) as client:
        response = await client.get(path)
    for name, value in HEADERS.items():
        assert response.headers.get(name) == value, (path, name)
    assert response.headers.get("cache-control") == "no-store"


async def test_a_client_that_sends_a_short_body_and_leaves_is_not_a_server_error(
    gateway_factory: Any, gateway_home: Home
) -> None:
    async with gateway_factory() as gw:
        host, port = gw.url.removeprefix("http://").split(":")
        for _ in range(3):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(
                b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                + f"Authorization: Bearer {gateway_home.admin_token}\r\nContent-Length: 5000\r\n\r\n".encode()
                + b'{"prompt":'
            )
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        await asyncio.sleep(0.5)
        async with gw.client(gateway_home.admin_token) as client:
            metrics = (await client.get("/metrics")).text
    route = {"method": "POST", "route": "/v1/completions"}
    assert metric_value(metrics, "codemoat_http_requests_total", {**route, "status": "500"}) == 0
    assert metric_value(metrics, "codemoat_http_requests_total", {**route, "status": "499"}) == 3


def _raw(url: str, head: bytes) -> bytes:
    import socket

    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
            if b"\r\n\r\n" in answer and answer.split(b"\r\n\r\n", 1)[1].endswith(b"}"):
                break
        return answer


def test_what_the_http_parser_refuses_is_answered_like_the_api(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Headers over the bounds are a 431 before anything reads them, a Content-Length of 10^20 a 413 (not a
    malformed request), and bytes that are not HTTP a JSON 400: each with the security headers."""
    import json

    from tests.appliance.api.conftest import free_port, start_serve, stop_serve

    no_model = {
        "CODEMOAT_ENGINE__KIND": "upstream",
        "CODEMOAT_ENGINE__UPSTREAM_URLS": json.dumps([f"http://127.0.0.1:{free_port()}"]),
    }
    served = start_serve(tmp_path / "home", env=no_model, wait_ready=False)
    try:
        big = _raw(served.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        many = _raw(
            served.url,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
            + b"".join(b"X-H%d: v\r\n" % i for i in range(150))
            + b"\r\n",
        )
        fine = _raw(served.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Ok: " + b"a" * 8_000 + b"\r\n\r\n")
        huge = _raw(
            served.url,
            b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000000000000000\r\n\r\n{}",
        )
        garbage = _raw(served.url, b"\x16\x03\x01 not http at all\r\n\r\n")
        bad_line = _raw(served.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n")
    finally:
        stop_serve(served)
    for answer, status, code, words in (
        (big, 431, "header_too_large", b"40,0"),
        (many, 431, "header_too_large", b"header lines"),
        (huge, 413, "request_too_large", b"larger than the limit"),
        (garbage, 400, "malformed_request", b"not valid HTTP"),
        (bad_line, 400, "malformed_request", b"not valid HTTP"),
    ):
        head, body = answer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 %d " % status), head
        assert b"content-security-policy" in head.lower() and b"application/json" in head, head
        assert json.loads(body)["error"]["code"] == code and words in body
    assert fine.startswith(b"HTTP/1.1 200 ")
