"""The console's chat: a question in a conversation, answered by the gateway's own chat serving code
(`serve_chat`: retrieval within the caller's scope, prompt, engine, usage, metrics), relayed to the browser as
server-sent events it can render safely:

    event: start     {"message": <the user's message as stored>}
    event: delta     {"text": "..."}                      raw text, shown with textContent while it streams
    event: block     {"html": "...", "end": n}            the next finished Markdown blocks as sanitized HTML,
                                                          covering the answer's first n UTF-16 code units
    event: sources   {"sources": [{index, repo, path, start_line, end_line, preview}], "note": "..."}
                                                          (note: why there are none, when there are none)
    event: error     {"message": "..."}
    event: done      {"message": <the answer as stored>, "html": "..."}

Each finished block is rendered and sent once, so a stream is a few times the answer's size (re-sending the
whole rendered answer on every update made it ~180 times). The answer is stored when the stream ends, also when
the browser went away (status "cancelled")."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import Request

from appliance.api.deps import check_serving
from appliance.api.serving.chat import serve_chat
from appliance.api.sse import EventStreamResponse
from appliance.api.timing import StageTimer
from appliance.api.wire.chat import ChatCompletionRequest
from appliance.auth.principal import Principal
from appliance.console.conversations import Conversations
from appliance.console.render import finished_blocks, markdown_html
from appliance.console.services import ConsoleServices
from appliance.errors import InvalidInputError


def sse(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _history(conversation_messages: list[Any], limit: int) -> list[dict[str, str]]:
    kept = [m for m in conversation_messages if m.status == "ok" and m.content.strip()][-limit:]
    return [{"role": m.role, "content": m.content} for m in kept]


async def answer(
    console: ConsoleServices,
    principal: Principal,
    conversation_id: int,
    content: str,
    repos: list[str] | None,
    request: Request,
) -> EventStreamResponse:
    settings = console.settings.console
    if not isinstance(content, str) or not content.strip():
        raise InvalidInputError("content: ask a question", param="content")
    if len(content) > settings.max_message_chars:
        raise InvalidInputError(f"content: at most {settings.max_message_chars} characters", param="content")
    conversations = console.conversations
    conversation = conversations.get(principal.user_id, conversation_id)
    selected = repos if repos is not None else conversation.repos
    scope = principal.scope(
        selected or None
    )  # 403 naming `repo` for a repository outside the caller's access
    check_serving(console.gateway, principal)
    history = _history(conversation.messages, settings.chat_history_messages)
    asked = conversations.add_message(principal.user_id, conversation_id, "user", content)
    body = ChatCompletionRequest.model_validate(
        {
            "messages": [*history, {"role": "user", "content": content}],
            "stream": True,
            "max_tokens": settings.chat_max_tokens,
            "repo": list(scope) if selected else None,
        }
    )
    try:
        upstream = await serve_chat(
            body, principal=principal, services=console.gateway, timer=StageTimer(), request=request
        )
    except Exception as exc:
        conversations.add_message(principal.user_id, conversation_id, "assistant", str(exc), status="error")
        raise
    if not isinstance(upstream, EventStreamResponse):  # pragma: no cover - stream=True always streams
        raise TypeError("the chat serving code did not stream")
    return EventStreamResponse(
        _relay(upstream, conversations, principal.user_id, conversation_id, asked.to_json())
    )


async def _relay(
    upstream: EventStreamResponse,
    conversations: Conversations,
    user_id: int,
    conversation_id: int,
    asked: dict[str, Any],
) -> AsyncIterator[bytes]:
    text, citations, status, rendered = "", [], "cancelled", 0
    yield sse("start", {"message": asked})
    try:
        async with aclosing(upstream.body_iterator) as events:  # type: ignore[type-var]
            async for raw in events:
                for data in _data_lines(raw):
                    if data == "[DONE]":
                        status = "ok"
                        continue
                    chunk = json.loads(data)
                    if "error" in chunk:
                        status = "error"
                        message = str(chunk["error"].get("message") or "the answer failed")
                        text = text or message
                        yield sse("error", {"message": message})
                        continue
                    for choice in chunk.get("choices") or ():
                        piece = (choice.get("delta") or {}).get("content") or ""
                        if piece:
                            text += piece
                            yield sse("delta", {"text": piece})
                    info = chunk.get("codemoat") or {}
                    sources = info.get("citations")
                    if sources is not None:
                        citations = sources
                        yield sse("sources", {"sources": sources, "note": info.get("context_note")})
                    finished = rendered + finished_blocks(text[rendered:])
                    if finished > rendered:
                        html = markdown_html(text[rendered:finished])
                        rendered = finished
                        yield sse("block", {"html": html, "end": _utf16_length(text[:finished])})
    finally:
        stored = conversations.add_message(
            user_id, conversation_id, "assistant", text, citations=citations, status=status
        )
    yield sse("done", {"message": stored.to_json(), "html": markdown_html(text)})


def _utf16_length(text: str) -> int:
    """The length a browser's string has (UTF-16 code units), for offsets the page slices by."""
    return len(text.encode("utf-16-le")) // 2


def _data_lines(raw: bytes | str) -> list[str]:
    chunk = raw.decode() if isinstance(raw, bytes) else raw
    return [line[6:] for line in chunk.split("\n") if line.startswith("data: ")]
