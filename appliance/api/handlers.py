"""Exception handlers: every failure leaves the gateway as OpenAI-shaped JSON, never as a traceback."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from appliance.api.disconnect import CLIENT_CLOSED_REQUEST, ClientDisconnected
from appliance.api.errors import ErrorShape, describe
from appliance.auth.errors import AuthError
from appliance.engines.errors import EngineError
from appliance.errors import ApplianceError
from indexer.errors import IndexerError

log = logging.getLogger("codemoat.api")

# pydantic puts the union member it tried into `loc` ("str", "list[str]", "function-after[...]"): not a field.
_UNION_TAG = re.compile(
    r"^(str|int|float|bool|none|list\[.*\]|dict\[.*\]|function-\w+\[.*\]|literal\[.*\]|\w+\[.*\])$"
)


def error_response(shape: ErrorShape) -> JSONResponse:
    return JSONResponse(shape.body(), status_code=shape.status, headers=shape.headers())


def field_path(loc: Sequence[Any]) -> str | None:
    """("body", "messages", 0, "content") -> "messages[0].content"; None for the body as a whole."""
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str) and not _UNION_TAG.match(item):
            parts.append(("." if parts else "") + item)
    path = "".join(parts)
    return path or None


def validation_shape(errors: Sequence[dict[str, Any]], *, strip: tuple[str, ...] = ("body",)) -> ErrorShape:
    """One pydantic error, as one line naming the field: the most specific one (deepest location), since a
    union reports one error per member and the first is rarely the one meant."""
    first = max(errors, key=lambda error: len(error.get("loc", ())))
    loc = tuple(first.get("loc", ()))
    if loc and loc[0] in strip:
        loc = loc[1:]
    kind = first.get("type", "")
    if kind == "json_invalid":
        detail = (first.get("ctx") or {}).get("error", "")
        return ErrorShape(
            400,
            f"the request body is not valid JSON: {detail}".rstrip(": "),
            "invalid_request_error",
            "invalid_json",
        )
    param = field_path(loc)
    if param is None:
        message = (
            "the request body must be a JSON object" if kind != "missing" else "the request body is empty"
        )
        return ErrorShape(400, message, "invalid_request_error", "invalid_request")
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    if kind == "extra_forbidden":
        message = "unknown field"
    return ErrorShape(400, f"{param}: {message}", "invalid_request_error", "invalid_value", param)


def _reference() -> str:
    return uuid.uuid4().hex[:12]


async def _known(request: Request, exc: Exception) -> JSONResponse:
    shape = describe(exc)
    if shape is None:
        return await _unexpected(request, exc)
    if shape.status >= 500:
        log.warning("%s %s -> %d %s: %s", request.method, request.url.path, shape.status, shape.code, exc)
    return error_response(shape)


async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
    return error_response(validation_shape(exc.errors(), strip=("body", "query", "path", "header")))


async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    kinds = {
        404: ("not_found", "invalid_request_error"),
        405: ("method_not_allowed", "invalid_request_error"),
    }
    code, kind = kinds.get(exc.status_code, ("http_error", "invalid_request_error"))
    message = exc.detail if isinstance(exc.detail, str) else "request failed"
    if exc.status_code == 404:
        message = f"no route {request.method} {request.url.path}"
    shape = ErrorShape(exc.status_code, message, kind if exc.status_code < 500 else "server_error", code)
    return JSONResponse(shape.body(), status_code=exc.status_code, headers=dict(exc.headers or {}))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    reference = _reference()
    log.error("unexpected error %s on %s %s", reference, request.method, request.url.path, exc_info=exc)
    shape = ErrorShape(
        500, f"internal server error (reference {reference})", "server_error", "internal_error"
    )
    return error_response(shape)


async def _client_gone(request: Request, exc: Exception) -> Response:
    return Response(status_code=CLIENT_CLOSED_REQUEST)  # nobody reads it; the access log and metrics do


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnected, _client_gone)  # type: ignore[arg-type]
    # A client that sends less body than its Content-Length and hangs up: its fault, not a server error.
    app.add_exception_handler(ClientDisconnect, _client_gone)  # type: ignore[arg-type]
    for family in (ApplianceError, AuthError, EngineError, IndexerError):
        app.add_exception_handler(family, _known)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)
