"""The services one app instance serves with, built once in the composition root (`appliance.wiring`) and
passed to handlers through `deps` (never looked up from globals)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from appliance.api.errors import ModelNotFoundError, RepositoryNotIndexedError
from appliance.api.latency import LatencyTracker
from appliance.api.readiness import ServingGate
from appliance.api.usage import UsageRecorder
from appliance.auth.principal import Principal
from appliance.auth.tokens import TokenStore
from appliance.engines.config import ROLES, Role
from appliance.engines.protocol import Engine
from appliance.metrics import GatewayMetrics
from appliance.prompts.completion import CompletionSettings
from appliance.prompts.families import ModelFamily
from appliance.prompts.sources import StageTiming
from appliance.state.db import Database

if TYPE_CHECKING:
    from appliance.config import Settings
    from indexer.service import CodeIndex


# The embedded CPU engines' default windows: enough context to help, short enough to prefill in seconds; and
# the longest suffix there, which every keystroke computes again (bench/RESULTS.md, typing latency).
_CPU_WINDOWS: dict[Role, int] = {"completion": 1_024, "chat": 2_048}
CPU_SUFFIX_TOKENS = 48
_CPU_KINDS = ("transformers", "llama_cpp")


@dataclass(frozen=True, slots=True)
class ServedModel:
    """One model this gateway serves: its engine, prompt family and token counter, and the roles it has."""

    engine: Engine
    family: ModelFamily  # the engine's prompt family (templates, FIM tokens, stop tokens)
    count_tokens: Callable[[str], int]  # the engine's tokenizer, short texts memoized (appliance.prompts)
    roles: tuple[Role, ...]

    @property
    def model_id(self) -> str:
        return self.engine.model_id


@dataclass
class Services:
    settings: Settings
    models: dict[Role, ServedModel]  # both roles; one object when they share a model
    db: Database
    tokens: TokenStore
    metrics: GatewayMetrics
    usage: UsageRecorder
    gate: ServingGate
    completion_latency: LatencyTracker = field(default_factory=LatencyTracker)  # code completions, end to end
    index: CodeIndex | None = None  # None: serve without repository context (nothing indexed, or it failed)
    index_error: str | None = None
    index_warm: bool = False  # the embedder and the store are loaded (set by the composition root's warm-up)
    model_aliases: frozenset[str] = field(default_factory=frozenset)
    started: int = field(default_factory=lambda: int(time.time()))

    @property
    def engine(self) -> Engine:
        """The completion role's engine."""
        return self.models["completion"].engine

    def distinct_models(self) -> list[ServedModel]:
        seen: dict[int, ServedModel] = {}
        for role in ROLES:
            seen.setdefault(id(self.models[role]), self.models[role])
        return list(seen.values())

    async def engine_loaded(self, model: ServedModel) -> None:
        """Wait (up to the engine's load timeout) for a model still loading: prompt building counts tokens
        with its tokenizer. An engine that is down (not loading) is left to fail in `stream` with its own
        reason."""
        if not await model.engine.ready():
            await model.engine.wait_until_ready(self.settings.engine.load_timeout_s)

    def context_window(self, role: Role, model: ServedModel | None = None) -> int:
        """Tokens a prompt plus its answer may take in `role`, on `model` (default: the role's own)."""
        model = model or self.models[role]
        gateway = self.settings.gateway
        configured = (
            gateway.completion_context_tokens if role == "completion" else gateway.chat_context_tokens
        )
        if configured is None and self.on_cpu(model):
            configured = _CPU_WINDOWS[role]
        limit = model.engine.context_length
        return limit if configured is None else min(configured, limit)

    def on_cpu(self, model: ServedModel) -> bool:
        return self.settings.engine.for_role(model.roles[0]).kind in _CPU_KINDS

    def completion_prompt(self, model: ServedModel) -> CompletionSettings:
        """How completion prompts are built for `model`: the configured settings, the suffix capped on CPU."""
        settings = self.settings.gateway.completion_prompt
        if settings.suffix_max_tokens is None and self.on_cpu(model):
            return settings.model_copy(update={"suffix_max_tokens": CPU_SUFFIX_TOKENS})
        return settings

    def count_context_failures(self, stages: Iterable[StageTiming]) -> None:
        """Context lookups that timed out or failed: the answer went out without them."""
        failed = sum(1 for stage in stages if stage.status in ("timeout", "error"))
        if failed:
            self.metrics.retrieval_failures.inc(failed)

    def retrieval_scope(
        self, principal: Principal, requested: Sequence[str] | None
    ) -> tuple[str, ...] | None:
        """The repositories a request's context may come from: those it names (each readable by the caller,
        else 403, and indexed, else 404: an empty context would pass silently for a typo), or all the caller
        may read when it names none."""
        scope = principal.scope(requested)
        unknown = self.index.unknown_repositories(requested) if requested and self.index is not None else []
        if unknown:
            raise RepositoryNotIndexedError(
                f"no repository named {unknown[0]!r} is indexed here", param="repo"
            )
        return scope

    def served_model(self, requested: str | None, role: Role) -> ServedModel:
        """The model a request names (None or an alias: `role`'s own), checked against what is served."""
        if requested is None or requested in self.model_aliases:
            return self.models[role]
        for model in self.distinct_models():
            if requested == model.model_id:
                return model
        served = ", ".join(repr(m.model_id) for m in self.distinct_models())
        raise ModelNotFoundError(
            f"the model {requested!r} is not served here; this gateway serves {served}", param="model"
        )
