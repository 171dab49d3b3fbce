"""The services one app instance serves with, built once in `create_app`'s lifespan and passed to handlers
through `deps` (never looked up from globals)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.api.readiness import ServingGate
from appliance.api.usage import UsageRecorder
from appliance.auth.tokens import TokenStore
from appliance.engines.protocol import Engine
from appliance.metrics import GatewayMetrics
from appliance.prompts.families import ModelFamily
from appliance.prompts.sources import StageTiming
from appliance.state.db import Database

if TYPE_CHECKING:
    from appliance.config import Settings
    from indexer.service import CodeIndex


# The embedded CPU engine's default windows: enough context to help, short enough to prefill in a second.
_CPU_WINDOWS = {"completion": 1_024, "chat": 2_048}


@dataclass
class Services:
    settings: Settings
    engine: Engine
    db: Database
    tokens: TokenStore
    metrics: GatewayMetrics
    usage: UsageRecorder
    gate: ServingGate
    family: ModelFamily  # the engine's prompt family (templates, FIM tokens, stop tokens)
    count_tokens: Callable[[str], int]  # the engine's tokenizer, short texts memoized (appliance.prompts)
    index: CodeIndex | None = None  # None: serve without repository context (nothing indexed, or it failed)
    index_error: str | None = None
    model_aliases: frozenset[str] = field(default_factory=frozenset)
    started: int = field(default_factory=lambda: int(time.time()))

    async def engine_loaded(self) -> None:
        """Wait (up to the engine's load timeout) for a model still loading: prompt building counts tokens
        with its tokenizer. An engine that is down (not loading) is left to fail in `stream` with its own
        reason."""
        if await self.engine.ready():
            return
        waiter = getattr(self.engine, "wait_until_ready", None)
        if waiter is not None:
            await waiter(self.settings.engine.load_timeout_s)

    def context_window(self, kind: str) -> int:
        """Tokens a prompt plus its answer may take for `kind` ("completion" or "chat")."""
        gateway = self.settings.gateway
        configured = (
            gateway.completion_context_tokens if kind == "completion" else gateway.chat_context_tokens
        )
        if configured is None and self.settings.engine.kind == "transformers":
            configured = _CPU_WINDOWS[kind]
        model = self.engine.context_length
        return model if configured is None else min(configured, model)

    def count_context_failures(self, stages: Iterable[StageTiming]) -> None:
        """Context lookups that timed out or failed: the answer went out without them."""
        failed = sum(1 for stage in stages if stage.status in ("timeout", "error"))
        if failed:
            self.metrics.retrieval_failures.inc(failed)

    def served_model(self, requested: str | None) -> str:
        """The model a request names, checked against what this gateway serves (None: the served model)."""
        from appliance.api.errors import ModelNotFoundError

        if requested is None or requested == self.engine.model_id or requested in self.model_aliases:
            return self.engine.model_id
        raise ModelNotFoundError(
            f"the model {requested!r} is not served here; this gateway serves {self.engine.model_id!r}",
            param="model",
        )
