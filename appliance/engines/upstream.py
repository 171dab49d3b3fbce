"""An Engine that forwards to one OpenAI-compatible server: vLLM, llama.cpp's server, another CodeMoat.

Prompts go to `/v1/completions`, messages to `/v1/chat/completions`, both streamed as server-sent events.
Every failure of the upstream or of the network is translated here into an EngineError subclass, so callers
(the router, the API) never see an httpx exception."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from appliance.engines.errors import (
    EngineRequestError,
    EngineUnavailableError,
    QueueFullError,
    UpstreamError,
)
from appliance.engines.protocol import FinishReason, GenerationChunk, GenerationRequest, validate_request
from appliance.engines.sse import iter_sse_data
from appliance.engines.token_count import count_tokens
from appliance.engines.transformers_engine import DEFAULT_CONTEXT_LENGTH

log = logging.getLogger(__name__)

CHARS_PER_TOKEN_ESTIMATE = 3.0  # code averages 3-4 characters per token; err towards more tokens


class UpstreamEngine:
    def __init__(
        self,
        url: str,
        *,
        model: str | None = None,
        model_id: str | None = None,
        family: str = "smollm2",
        api_key: str | None = None,
        context_length: int | None = None,
        tokenizer_path: Path | None = None,
        connect_timeout_s: float = 5.0,
        read_timeout_s: float = 120.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`model`: the name sent upstream (default: the first of its /v1/models); `model_id`: the name this
        engine reports (default: `model`). Without `tokenizer_path`, count_tokens estimates from length."""
        self.url = url.rstrip("/")
        self.family = family
        self._model = model
        self._model_id = model_id
        self._context_length = context_length
        self._discovered_context: int | None = None
        self._tokenizer_path = tokenizer_path
        self._tokenizer: Any = None
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(read_timeout_s, connect=connect_timeout_s),
            transport=transport,
        )

    # -- Engine protocol ---------------------------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return self._model_id or self._model or "upstream"

    @property
    def context_length(self) -> int:
        return self._context_length or self._discovered_context or DEFAULT_CONTEXT_LENGTH

    def count_tokens(self, text: str) -> int:
        if self._tokenizer_path is not None:
            if self._tokenizer is None:
                from transformers import AutoTokenizer

                self._tokenizer = AutoTokenizer.from_pretrained(self._tokenizer_path, local_files_only=True)
            return count_tokens(self._tokenizer, text)
        return math.ceil(len(text) / CHARS_PER_TOKEN_ESTIMATE)

    async def ready(self) -> bool:
        """Healthy, and the model to request is known (asked of /v1/models the first time)."""
        if not await self.check_health():
            return False
        if self._model is None:
            try:
                await self.discover_model()
            except (EngineUnavailableError, UpstreamError, EngineRequestError):
                return False
        return True

    async def wait_until_ready(self, timeout: float | None = None) -> None:
        return None  # the server loads its own model; a request fails with its reason while it cannot serve

    async def aclose(self) -> None:
        await self._client.aclose()

    async def stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        validate_request(request)
        model = self._model or await self.discover_model()
        path, body = self._request_body(model, request)
        headers = {"X-Request-Id": request.request_id} if request.request_id else {}
        finish: str | None = None
        usage: dict[str, Any] = {}
        try:
            async with self._client.stream("POST", path, json=body, headers=headers) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise self._status_error(response)
                async for data in iter_sse_data(response.aiter_lines()):
                    if data.strip() == "[DONE]":
                        break
                    text, reason, event_usage = self._parse_event(data)
                    usage = event_usage or usage
                    finish = reason or finish
                    if text:
                        yield GenerationChunk(text)
                else:
                    if finish is None:
                        raise UpstreamError(
                            f"upstream {self.url} ended the stream before the answer was complete",
                            upstream=self.url,
                            connection_lost=True,
                        )
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        yield GenerationChunk(
            "",
            finish_reason=_finish_reason(finish),
            prompt_tokens=usage.get("prompt_tokens"),
            completion_tokens=usage.get("completion_tokens"),
            extra={"upstream": self.url},
        )

    # -- upstream discovery and health -------------------------------------------------------------------

    async def check_health(self) -> bool:
        """`/health` (vLLM, llama.cpp, CodeMoat's /healthz too), else `/v1/models` for servers without it."""
        for path in ("/health", "/v1/models"):
            try:
                response = await self._client.get(path)
            except httpx.HTTPError:
                return False
            if response.status_code == 200:
                return True
            if response.status_code not in (404, 405):
                return False
        return False

    async def list_models(self) -> list[dict[str, Any]]:
        try:
            response = await self._client.get("/v1/models")
        except httpx.HTTPError as exc:
            raise self._transport_error(exc) from exc
        if response.status_code != 200:
            raise self._status_error(response)
        try:
            models = response.json()["data"]
            if not isinstance(models, list):
                raise TypeError("data is not a list")
        except (ValueError, KeyError, TypeError) as exc:
            raise UpstreamError(
                f"upstream {self.url} answered /v1/models with a malformed list", upstream=self.url
            ) from exc
        return models

    async def discover_model(self) -> str:
        """The upstream's first model becomes the one requested; vLLM's max_model_len the context length."""
        models = await self.list_models()
        if not models or not isinstance(models[0], dict) or "id" not in models[0]:
            raise EngineUnavailableError(f"upstream {self.url} serves no model")
        self._model = str(models[0]["id"])
        length = models[0].get("max_model_len")
        if isinstance(length, int) and length > 0:
            self._discovered_context = length
        return self._model

    # -- wire format -------------------------------------------------------------------------------------

    @staticmethod
    def _request_body(model: str, request: GenerationRequest) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "top_p": request.top_p,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if request.stop:
            body["stop"] = list(request.stop)
        if request.seed is not None:
            body["seed"] = request.seed
        if request.messages is not None:
            body["messages"] = [dict(m) for m in request.messages]
            return "/v1/chat/completions", body
        body["prompt"] = request.prompt
        return "/v1/completions", body

    def _parse_event(self, data: str) -> tuple[str, str | None, dict[str, Any] | None]:
        try:
            event = json.loads(data)
        except ValueError:
            raise UpstreamError(
                f"upstream {self.url} sent a malformed stream event", upstream=self.url
            ) from None
        if not isinstance(event, dict):
            raise UpstreamError(f"upstream {self.url} sent a malformed stream event", upstream=self.url)
        if "error" in event:
            raise UpstreamError(f"upstream {self.url} failed: {_error_message(event)}", upstream=self.url)
        choices = event.get("choices")
        usage = event.get("usage") if isinstance(event.get("usage"), dict) else None
        if not isinstance(choices, list):
            raise UpstreamError(f"upstream {self.url} sent a stream event without choices", upstream=self.url)
        text, finish = "", None
        for choice in choices:
            if not isinstance(choice, dict):
                raise UpstreamError(f"upstream {self.url} sent a malformed choice", upstream=self.url)
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            piece = choice.get("text", delta.get("content"))
            text += piece if isinstance(piece, str) else ""
            finish = choice.get("finish_reason") or finish
        return text, finish, usage

    def _status_error(self, response: httpx.Response) -> Exception:
        status, reason = response.status_code, _error_message(_json_or_text(response))
        where = f"upstream {self.url}"
        if status == 429:
            return QueueFullError(f"{where} is busy: {reason}", retry_after=_retry_after(response))
        if status in (400, 404, 413, 422):
            return EngineRequestError(f"{where} refused the request: {reason}")
        if status in (401, 403):
            return UpstreamError(
                f"{where} refused our credentials (check engine.upstream_api_key)", upstream=self.url
            )
        if status == 503:
            return EngineUnavailableError(f"{where} is unavailable: {reason}")
        return UpstreamError(f"{where} answered HTTP {status}: {reason}", upstream=self.url)

    def _transport_error(self, exc: httpx.HTTPError) -> Exception:
        where = f"upstream {self.url}"
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return EngineUnavailableError(f"{where} is unreachable: {exc or type(exc).__name__}")
        if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
            return UpstreamError(f"{where} timed out", upstream=self.url)
        return UpstreamError(
            f"{where} broke the connection: {exc or type(exc).__name__}",
            upstream=self.url,
            connection_lost=True,
        )


def _finish_reason(upstream: str | None) -> FinishReason:
    return "length" if upstream == "length" else "stop"


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(1.0, float(response.headers.get("retry-after", "1")))
    except ValueError:
        return 1.0


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text


def _error_message(payload: Any) -> str:
    """OpenAI's {"error": {"message"}}, FastAPI's {"detail"}, llama.cpp's {"error": {"message"}} or text."""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        if payload.get("detail"):
            return str(payload["detail"])
        if payload.get("message"):
            return str(payload["message"])
    text = str(payload).strip().splitlines()
    return text[0][:200] if text else "no reason given"
