"""Code model engines behind one protocol (see protocol.py), wired from settings in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from appliance.engines.bounded import BoundedEngine
from appliance.engines.config import ROLES, EngineSettings, Role, VllmSettings
from appliance.engines.errors import (
    EngineError,
    EngineRequestError,
    EngineUnavailableError,
    ModelFilesError,
    QueueFullError,
    UpstreamError,
)
from appliance.engines.protocol import Engine, GenerationChunk, GenerationRequest
from appliance.errors import ConfigError

__all__ = [
    "BoundedEngine",
    "Engine",
    "EngineError",
    "Engines",
    "EngineRequestError",
    "EngineSettings",
    "EngineUnavailableError",
    "GenerationChunk",
    "GenerationRequest",
    "ModelFilesError",
    "QueueFullError",
    "UpstreamError",
    "VllmSettings",
    "build_engine",
    "build_engines",
]


@dataclass(frozen=True, slots=True)
class Engines:
    """The engine of each role; one object when both roles name the same model."""

    completion: BoundedEngine
    chat: BoundedEngine

    def by_role(self) -> dict[Role, BoundedEngine]:
        return {role: getattr(self, role) for role in ROLES}

    def distinct(self) -> list[BoundedEngine]:
        return [self.completion] if self.chat is self.completion else [self.completion, self.chat]


def build_engines(
    settings: EngineSettings,
    home: Path,
    *,
    sealed_loader: Callable[[Path], Any] | None = None,
    key_env: Callable[[str, int], dict[str, str]] | None = None,
) -> Engines:
    """One engine per role (`build_engine`), shared when the chat role changes nothing."""
    completion = settings.for_role("completion")
    chat = settings.for_role("chat")
    first = build_engine(completion, home, sealed_loader=sealed_loader, key_env=key_env)
    if chat == completion:
        return Engines(first, first)
    return Engines(first, build_engine(chat, home, sealed_loader=sealed_loader, key_env=key_env))


def build_engine(
    settings: EngineSettings,
    home: Path,
    *,
    sealed_loader: Callable[[Path], Any] | None = None,
    key_env: Callable[[str, int], dict[str, str]] | None = None,
) -> BoundedEngine:
    """The engine `settings.kind` names, behind the queue bound. Returns at once: the embedded model loads
    in the background (`await engine.ready()` tells when) and vLLM replicas start in the background.

    Sealed weights come through the license: `sealed_loader(dir)` decrypts a sealed directory in memory for
    the CPU engine; `key_env(model_id, uses)` lets vLLM workers fetch the model key (appliance.license_gate)."""
    from appliance.engines.router import RouterEngine
    from appliance.engines.transformers_engine import TransformersEngine
    from appliance.engines.upstream import UpstreamEngine

    inner: Engine
    if settings.kind == "llama_cpp" and _sealed(settings.model_path):
        # Sealed weights are safetensors decrypted in memory, which only the transformers engine reads.
        inner = TransformersEngine(settings, home, sealed_loader=sealed_loader)
    elif settings.kind == "llama_cpp":
        from appliance.engines.llama_cpp_engine import LlamaCppEngine

        inner = LlamaCppEngine(settings, home)
    elif settings.kind == "transformers":
        inner = TransformersEngine(settings, home, sealed_loader=sealed_loader)
    else:
        owned = []
        if settings.kind == "vllm":
            from appliance.engines.vllm_supervisor import VllmSupervisor, replica_urls

            model_id = settings.served_model_id()
            if settings.vllm.supervised_by == "systemd":  # codemoat-vllm@N.service runs replica N
                urls, model = replica_urls(settings.vllm), model_id
            else:
                supervisor = VllmSupervisor(settings.vllm, model_id=model_id, home=home, key_env=key_env)
                urls, model, owned = supervisor.urls, model_id, [supervisor]
            tokenizer = settings.tokenizer_path or (None if settings.vllm.sealed else settings.vllm.model_dir)
        else:
            if not settings.upstream_urls:
                raise ConfigError("engine.upstream_urls must list at least one server for kind 'upstream'")
            urls, model, tokenizer = settings.upstream_urls, settings.upstream_model, settings.tokenizer_path
        api_key = settings.upstream_api_key.get_secret_value() if settings.upstream_api_key else None
        upstreams = [
            UpstreamEngine(
                url,
                model=model,
                model_id=settings.model_id,
                family=settings.served_family(),
                api_key=api_key,
                context_length=settings.context_length,
                tokenizer_path=tokenizer,
                connect_timeout_s=settings.connect_timeout_s,
                read_timeout_s=settings.read_timeout_s,
            )
            for url in urls
        ]
        inner = RouterEngine(
            upstreams,
            model_id=settings.model_id or (model if settings.kind == "vllm" else None),
            family=settings.served_family(),
            health_check_interval_s=settings.health_check_interval_s,
            max_outstanding_per_upstream=settings.max_outstanding_per_upstream,
            owned=owned,
        )
        for supervisor in owned:
            supervisor.start()
    return BoundedEngine(
        inner,
        max_concurrent=settings.max_concurrent,
        max_queue=settings.max_queue,
        queue_timeout_s=settings.queue_timeout_s,
    )


def _sealed(model_path: Path | None) -> bool:
    from licensing.sealed.reader import is_sealed_model

    return model_path is not None and is_sealed_model(Path(model_path))
