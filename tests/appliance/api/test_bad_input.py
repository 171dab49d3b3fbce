"""Every malformed request is a 4xx in OpenAI's error shape naming the field, never a 500 or a traceback."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.appliance.api.conftest import Gateway, Home

pytestmark = pytest.mark.slow  # loads the CPU model once per session

COMPLETIONS = "/v1/completions"
CHAT = "/v1/chat/completions"
USER = [{"role": "user", "content": "hi"}]

# (endpoint, body: JSON text or object, status, param, words in the message)
CASES: list[tuple[str, Any, int, str | None, str]] = [
    # Fields the engines cannot honour: refused, never silently ignored (an agent must not take text for a tool call).
    (
        CHAT,
        {"messages": USER, "tools": [{"type": "function", "function": {"name": "f"}}]},
        400,
        "tools",
        "tool calls",
    ),
    (CHAT, {"messages": USER, "tool_choice": "auto"}, 400, "tool_choice", "tool calls"),
    (
        CHAT,
        {"messages": USER, "response_format": {"type": "json_object"}},
        400,
        "response_format",
        "plain text",
    ),
    (CHAT, {"messages": USER, "logprobs": True, "top_logprobs": 3}, 400, "logprobs", "log probabilities"),
    (COMPLETIONS, {"prompt": "x", "logprobs": 2}, 400, "logprobs", "log probabilities"),
    (COMPLETIONS, {"prompt": "x", "presence_penalty": 0.5}, 400, "presence_penalty", "not supported"),
    (COMPLETIONS, {"prompt": "x", "best_of": 3}, 400, "best_of", "best_of=1"),
    (COMPLETIONS, {"prompt": "x", "echo": True}, 400, "echo", "not supported"),
    (COMPLETIONS, "{not json", 400, None, "not valid JSON"),
    (COMPLETIONS, "", 400, None, "empty"),
    (COMPLETIONS, "[1, 2]", 400, None, "JSON object"),
    (COMPLETIONS, '"a string"', 400, None, "JSON object"),
    (COMPLETIONS, {}, 400, "prompt", "Field required"),
    (COMPLETIONS, {"prompt": 42}, 400, "prompt", "valid string"),
    (COMPLETIONS, {"prompt": ["a", "b"]}, 400, "prompt", "single prompt"),
    (COMPLETIONS, {"prompt": [1, 2, 3]}, 400, "prompt[0]", "valid string"),
    (COMPLETIONS, {"prompt": ""}, 400, "prompt", "must not be empty"),
    (COMPLETIONS, {"prompt": "x", "max_tokens": "5"}, 400, "max_tokens", "valid integer"),
    (COMPLETIONS, {"prompt": "x", "max_tokens": 0}, 400, "max_tokens", "greater than or equal to 1"),
    (COMPLETIONS, {"prompt": "x", "max_tokens": -3}, 400, "max_tokens", "greater than or equal to 1"),
    (COMPLETIONS, {"prompt": "x", "max_tokens": 100_000}, 400, "max_tokens", "at most 4096"),
    (COMPLETIONS, {"prompt": "x", "max_tokens": 1.5}, 400, "max_tokens", "valid integer"),
    (COMPLETIONS, {"prompt": "x", "temperature": 3}, 400, "temperature", "less than or equal to 2"),
    (COMPLETIONS, {"prompt": "x", "temperature": "hot"}, 400, "temperature", "valid number"),
    (COMPLETIONS, {"prompt": "x", "top_p": 0}, 400, "top_p", "greater than 0"),
    (COMPLETIONS, {"prompt": "x", "n": 2}, 400, "n", "only n=1"),
    (COMPLETIONS, {"prompt": "x", "stream": "yes"}, 400, "stream", "valid boolean"),
    (COMPLETIONS, {"prompt": "x", "stop": 5}, 400, "stop", "valid"),
    (COMPLETIONS, {"prompt": "x", "stop": [str(i) for i in range(20)]}, 400, "stop", "at most 16"),
    (
        COMPLETIONS,
        {"prompt": "x", "stream_options": {"include_usage": "yes"}},
        400,
        "stream_options.include_usage",
        "valid boolean",
    ),
    (COMPLETIONS, {"prompt": "x", "snippets": [{"path": "a.py"}]}, 400, "snippets[0].text", "Field required"),
    (
        COMPLETIONS,
        {"prompt": "x", "snippets": [{"path": "", "text": "t"}]},
        400,
        "snippets[0].path",
        "at least 1",
    ),
    (
        COMPLETIONS,
        {"prompt": "x", "snippets": [{"path": "a", "text": "t"}] * 40},
        400,
        "snippets",
        "at most 32",
    ),
    (COMPLETIONS, {"prompt": "x", "mode": "paragraph"}, 400, "mode", "single"),
    (COMPLETIONS, {"prompt": "x", "repo": ""}, 400, "repo", "at least 1"),
    (COMPLETIONS, {"model": "gpt-4", "prompt": "x"}, 404, "model", "not served here"),
    (COMPLETIONS, {"model": 7, "prompt": "x"}, 400, "model", "valid string"),
    (COMPLETIONS, {"prompt": "word " * 9000, "max_tokens": 4}, 400, "prompt", "context"),
    (COMPLETIONS, {"prompt": "word " * 8000, "max_tokens": 1000}, 400, "max_tokens", "exceeds"),
    (CHAT, {}, 400, "messages", "Field required"),
    (CHAT, {"messages": []}, 400, "messages", "at least 1"),
    (CHAT, {"messages": "hi"}, 400, "messages", "valid array"),
    (CHAT, {"messages": [{"content": "hi"}]}, 400, "messages[0].role", "Field required"),
    (CHAT, {"messages": [{"role": "robot", "content": "hi"}]}, 400, "messages[0].role", "system"),
    (CHAT, {"messages": [{"role": "user", "content": 5}]}, 400, "messages[0].content", "valid"),
    (
        CHAT,
        {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]},
        400,
        "messages[0].content[0].type",
        "'text'",
    ),
    (CHAT, {"messages": [{"role": "user", "content": "   "}]}, 400, "messages", "content"),
    (CHAT, {"messages": [{"role": "tool", "content": "x"}, *USER]}, 400, "messages", "role"),
    (CHAT, {"messages": USER, "max_tokens": 99_999}, 400, "max_tokens", "at most"),
    (CHAT, {"messages": USER, "max_completion_tokens": 99_999}, 400, "max_completion_tokens", "at most"),
    (CHAT, {"messages": USER, "model": "llama-70b"}, 404, "model", "not served here"),
    (CHAT, {"messages": USER, "n": 3}, 400, "n", "only n=1"),
    (
        CHAT,
        {"messages": [{"role": "user", "content": "word " * 5000}], "max_tokens": 8},
        400,
        "messages",
        "does not fit",
    ),
]


@pytest.fixture
async def gateway(gateway_factory: Any) -> AsyncIterator[Gateway]:
    async with gateway_factory() as gw:
        yield gw


@pytest.mark.parametrize(
    ("endpoint", "body", "status", "param", "words"),
    CASES,
    ids=[f"{'chat' if c[0] == CHAT else 'completions'}-{i}" for i, c in enumerate(CASES)],
)
async def test_bad_request_names_the_field(
    gateway: Gateway, gateway_home: Home, endpoint: str, body: Any, status: int, param: str | None, words: str
) -> None:
    content = body if isinstance(body, str) else json.dumps(body)
    async with gateway.client(gateway_home.admin_token) as client:
        response = await client.post(endpoint, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "code", "param"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] == param
    assert words.lower() in error["message"].lower()
    assert "Traceback" not in response.text


async def test_unknown_fields_are_accepted(gateway: Gateway, gateway_home: Home) -> None:
    # Fields of newer API versions, and known ones at their do-nothing values (what SDKs send by default).
    body = {
        "prompt": "x = 1",
        "max_tokens": 1,
        "logprobs": None,
        "presence_penalty": 0,
        "best_of": 1,
        "frequency_penalty": 0.0,
        "tool_choice": "none",
        "response_format": {"type": "text"},
        "some_future_field": {"x": 1},
    }
    async with gateway.client(gateway_home.admin_token) as client:
        response = await client.post(COMPLETIONS, json=body)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_oversized_body_is_refused_with_413(
    gateway_factory: Any, gateway_home: Home, chunked: bool
) -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 4096

    async with (
        gateway_factory(gateway={"max_body_bytes": 65_536}) as gw,
        gw.client(gateway_home.admin_token) as c,
    ):
        content: Any = pieces() if chunked else b" " * 200_000
        response = await c.post(COMPLETIONS, content=content)
        assert response.status_code == 413
        error = response.json()["error"]
        assert error["code"] == "request_too_large" and "65536 bytes" in error["message"]
        # The server is fine afterwards.
        assert (await c.get("/healthz")).status_code == 200


async def test_unknown_route_and_method(gateway: Gateway, gateway_home: Home) -> None:
    async with gateway.client(gateway_home.admin_token) as client:
        missing = await client.get("/v1/images/generations")
        wrong = await client.get(COMPLETIONS)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
