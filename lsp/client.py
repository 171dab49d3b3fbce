"""The appliance's HTTP API as the bridge uses it: FIM completions, chat, models and acceptance telemetry.

One `httpx.AsyncClient` per configuration (keep-alive: a keystroke does not pay a TCP handshake). Cancelling
the task awaiting `complete()` closes the connection, which the gateway sees as a client disconnect and stops
generating. Every transport or HTTP failure leaves this module as one of lsp.errors' types."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Sequence

import httpx

from lsp import __version__
from lsp.config import BridgeConfig
from lsp.errors import (
    ApplianceBusy,
    ApplianceFailed,
    ApplianceUnreachable,
    AuthenticationFailed,
    BridgeError,
    ConfigError,
    LicenseBlocked,
    PermissionDenied,
    RepositoryUnavailable,
)

__all__ = ["ApplianceClient", "CompletionQuery", "Completion", "ChatAnswer", "USER_AGENT"]

USER_AGENT = f"codemoat-lsp/{__version__}"


@dataclass(frozen=True, slots=True)
class CompletionQuery:
    prefix: str
    suffix: str
    path: str
    language: str
    repo: str | None = None
    snippets: Sequence[dict[str, str]] = ()
    max_tokens: int = 64

    def body(self, model: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "prompt": self.prefix,
            "suffix": self.suffix,
            "max_tokens": self.max_tokens,
            "temperature": 0.0,
            "stream": False,
            "path": self.path,
            "language": self.language,
            "snippets": list(self.snippets),
        }
        if self.repo:
            body["repo"] = self.repo
        if model:
            # Without one the appliance uses the model it serves.
            body["model"] = model
        return body


@dataclass(frozen=True, slots=True)
class Completion:
    id: str
    model: str
    text: str
    finish_reason: str | None = None
    expected_ms: float | None = None  # the appliance's p90 of recent completions (X-CodeMoat-Expected-Ms)


EXPECTED_HEADER = "x-codemoat-expected-ms"


@dataclass(frozen=True, slots=True)
class ChatAnswer:
    id: str
    model: str
    text: str
    finish_reason: str | None = None  # "length": cut off at max_tokens


class ApplianceClient:
    def __init__(self, config: BridgeConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        headers = {"User-Agent": USER_AGENT, **config.headers}
        if config.token:
            headers["Authorization"] = f"Bearer {config.token}"
        # Only the connect phase has its own limit; the whole request is bounded by the caller's deadline.
        self._http = httpx.AsyncClient(
            base_url=config.url,
            headers=headers,
            timeout=httpx.Timeout(None, connect=3.0),
            transport=transport,
        )
        self._repos_refused: set[str] = set()

    async def aclose(self) -> None:
        await self._http.aclose()

    def _require_token(self) -> None:
        if not self.config.token:
            raise ConfigError(
                "CodeMoat has no token: create one on the appliance with `codemoat token create NAME` and set "
                "`codemoat.token` (or CODEMOAT_TOKEN / `codemoat.tokenFile`)"
            )

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return (await self._post_response(path, body))[0]

    async def _post_response(self, path: str, body: dict[str, Any]) -> tuple[dict[str, Any], httpx.Response]:
        self._require_token()
        try:
            response = await self._http.post(path, json=body)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return self._json_or_raise(response), response

    def _unreachable(self, exc: Exception) -> ApplianceUnreachable:
        return ApplianceUnreachable(
            f"CodeMoat cannot reach the appliance at {self.config.url} ({type(exc).__name__}): check that "
            "`codemoat serve` is running there and that `codemoat.url` is right"
        )

    def _json_or_raise(self, response: httpx.Response) -> dict[str, Any]:
        if response.status_code < 400:
            try:
                data = response.json()
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise ApplianceFailed(
                    f"CodeMoat: the appliance at {self.config.url} sent a body that is not JSON "
                    f"(HTTP {response.status_code}): is `codemoat.url` pointing at a CodeMoat appliance?"
                ) from None
            if not isinstance(data, dict):
                raise ApplianceFailed(f"CodeMoat: unexpected answer from {self.config.url}")
            return data
        raise error_for_response(response, self.config.url)

    async def complete(self, request: CompletionQuery) -> Completion:
        body = request.body(self.config.model)
        if request.repo and request.repo in self._repos_refused:
            body.pop("repo", None)
        try:
            data, response = await self._post_response("/v1/completions", body)
        except (PermissionDenied, RepositoryUnavailable) as exc:
            # The workspace's repository is not indexed on the appliance, or this token may not read it:
            # completion still works without repository context, so ask again without it, from now on.
            if "repo" not in body or "repositor" not in exc.message:
                raise
            self._repos_refused.add(body.pop("repo"))
            data, response = await self._post_response("/v1/completions", body)
        try:
            choice = data["choices"][0]
            text = choice.get("text") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ApplianceFailed("CodeMoat: the appliance's completion answer has no choices") from None
        return Completion(
            id=str(data.get("id") or ""),
            model=str(data.get("model") or self.config.model or ""),
            text=text,
            finish_reason=choice.get("finish_reason"),
            expected_ms=_number(response.headers.get(EXPECTED_HEADER)),
        )

    async def chat(self, messages: list[dict[str, str]], *, max_tokens: int) -> ChatAnswer:
        body: dict[str, Any] = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0.0,
            "stream": False,
        }
        if self.config.model:
            body["model"] = self.config.model
        data = await self._post("/v1/chat/completions", body)
        try:
            choice = data["choices"][0]
            text = choice["message"].get("content") or ""
        except (KeyError, IndexError, TypeError, AttributeError):
            raise ApplianceFailed("CodeMoat: the appliance's chat answer has no message") from None
        return ChatAnswer(
            id=str(data.get("id") or ""),
            model=str(data.get("model") or ""),
            text=text,
            finish_reason=choice.get("finish_reason"),
        )

    async def send_telemetry(self, event: dict[str, Any]) -> int:
        """POST one acceptance event; returns the HTTP status (404 means the gateway does not collect them)."""
        self._require_token()
        try:
            response = await self._http.post("/v1/telemetry/completions", json=event)
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from None
        return response.status_code


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _error_fields(response: httpx.Response) -> tuple[str, str, str]:
    try:
        error = response.json().get("error") or {}
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        error = {}
    if not isinstance(error, dict):
        error = {"message": str(error)}
    message = str(error.get("message") or response.reason_phrase or "").strip()
    return message, str(error.get("type") or ""), str(error.get("code") or "")


def error_for_response(response: httpx.Response, url: str) -> BridgeError:
    """Translate an error answer (OpenAI's `{"error": {...}}` shape) into what the developer should do."""
    status = response.status_code
    message, kind, code = _error_fields(response)
    said = f" (the appliance said: {message})" if message else ""
    if "license" in f"{kind} {code}".lower() or (status in (402, 451, 503) and "license" in message.lower()):
        return LicenseBlocked(
            f"CodeMoat's license on {url} does not allow serving now{said}: ask your administrator to renew it "
            "(`codemoat license status` on the appliance)"
        )
    if status == 401:
        return AuthenticationFailed(
            f"CodeMoat refused the token{said}: create a new one with `codemoat token create NAME` on the "
            "appliance and set `codemoat.token` (or CODEMOAT_TOKEN)"
        )
    if status == 404 and code == "repository_not_found":
        return RepositoryUnavailable(f"CodeMoat: {message}")
    if status == 403:
        return PermissionDenied(
            f"CodeMoat: this token may not do that{said}: ask your administrator for access"
        )
    if status == 429:
        return ApplianceBusy(f"CodeMoat is busy{said}")
    if status == 404:
        return ApplianceFailed(
            f"CodeMoat: {url} has no {response.request.url.path} endpoint: is `codemoat.url` the appliance's URL?"
        )
    return ApplianceFailed(f"CodeMoat: the appliance answered HTTP {status}{said}")
