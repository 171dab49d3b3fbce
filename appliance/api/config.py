"""The gateway's settings: request limits and defaults, metrics exposure, usage recording.

Embedded in the appliance's Settings as `gateway` (TOML `[gateway]`, environment variables such as
`CODEMOAT_GATEWAY__MAX_BODY_BYTES`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from appliance.prompts.chat import ChatSettings
from appliance.prompts.completion import CompletionSettings


class GatewaySettings(BaseModel):
    model_config = {"extra": "forbid"}

    max_body_bytes: int = Field(
        2_000_000, ge=1_024, description="Larger request bodies are refused with 413 before they are read."
    )
    max_tokens_limit: int = Field(4_096, ge=1, description="The largest `max_tokens` a request may ask for.")
    completion_max_tokens: int = Field(
        16, ge=1, description="`max_tokens` when a completion omits it (OpenAI's 16)."
    )
    chat_max_tokens: int = Field(512, ge=1, description="`max_tokens` when a chat request omits it.")
    max_stop_sequences: int = Field(16, ge=0)
    max_snippets: int = Field(32, ge=0, description="Editor snippets accepted per completion request.")
    # /metrics sits on the API port and needs an administrator's token (Prometheus sends it with
    # `authorization: {credentials_file: ...}`); "none" when only a monitoring network reaches the port.
    metrics_auth: Literal["admin", "none"] = "admin"
    # Browser clients on these origins (e.g. "https://chat.intranet.example") may call the API; none by default.
    # Their requests still need a token: CORS only lets the browser send it.
    cors_origins: list[str] = Field(default_factory=list)
    usage_flush_interval_s: float = Field(1.0, gt=0, description="Usage events are written in batches.")
    usage_batch_size: int = Field(500, ge=1)
    # Prompt building (shares, latency budgets, how much context): see appliance.prompts. The token windows
    # cap the model's context for each kind of request, since prefill time grows with them. Unset: 1,024 and
    # 2,048 tokens on the embedded CPU engine (prefill runs at ~1-2k tokens/s there), the model's context
    # otherwise.
    completion_context_tokens: int | None = Field(
        None, ge=64, description="Prompt + completion tokens, at most."
    )
    chat_context_tokens: int | None = Field(None, ge=64, description="Prompt + answer tokens, at most.")
    completion_prompt: CompletionSettings = Field(default_factory=CompletionSettings)
    chat_prompt: ChatSettings = Field(default_factory=ChatSettings)
    openapi_schema: bool = Field(False, description="Serve /openapi.json to administrators.")
    served_model_aliases: list[str] = Field(
        default_factory=list,
        description="Other names /v1 accepts for the served model (e.g. a client's default).",
    )
