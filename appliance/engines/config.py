"""The engine's settings: one pydantic model, embedded in the appliance's Settings as `engine`.

Two roles, completion and chat, may name different models (a small fill-in-the-middle model for the editor,
a larger instruct model for chat, as Tabby, Refact and Continue deploy them): `[engine]` is the completion
role, and `[engine.chat]` overrides any of its model fields for chat; without it both roles share one model.

`kind` picks the implementation (see `build_engine`):
- "llama_cpp": a GGUF model in this process on llama.cpp (the embedded default: Qwen2.5-Coder-1.5B-Instruct,
  Q4_K_M, assembled from its packages; `model = "smollm2-135m"` for the small, fast SmolLM2);
- "transformers": a transformers model in this process (a local directory, a sealed delivery, or a GGUF file
  de-quantized once to an fp32 copy under `<home>/models`);
- "upstream": OpenAI-compatible servers already running (vLLM, llama.cpp's server, another CodeMoat), routed;
- "vllm": `vllm serve` processes this appliance starts and supervises (GPU hosts), routed."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator

EngineKind = Literal["llama_cpp", "transformers", "upstream", "vllm"]
BundledName = Literal["qwen2.5-coder-1.5b", "smollm2-135m"]
Role = Literal["completion", "chat"]
ROLES: tuple[Role, ...] = ("completion", "chat")
# Fields of the chat role that may differ from the completion role's (the limits in front are shared).
_ROLE_FIELDS = frozenset(
    {
        "kind",
        "model",
        "model_path",
        "model_id",
        "family",
        "context_length",
        "cache_dir",
        "threads",
        "prefill_chunk",
        "max_batch",
        "contexts",
        "upstream_urls",
        "upstream_api_key",
        "upstream_model",
        "tokenizer_path",
        "vllm",
    }
)

# The default `vllm serve` command line; `{name}` fields are filled per replica by the supervisor.
DEFAULT_VLLM_COMMAND: tuple[str, ...] = (
    "{executable}",
    "serve",
    "{model_dir}",
    "--host",
    "{host}",
    "--port",
    "{port}",
    "--served-model-name",
    "{model_id}",
    "--tensor-parallel-size",
    "{tensor_parallel_size}",
    "--gpu-memory-utilization",
    "{gpu_memory_utilization}",
)


class VllmSettings(BaseModel):
    """How to start `vllm serve` replicas. vLLM lives in its own environment (it pins another torch)."""

    model_config = {"extra": "forbid"}

    executable: str = Field("vllm", description="The `vllm` entry point of the separate vLLM environment.")
    python: str | None = Field(None, description="That environment's python, for templates using {python}.")
    command: list[str] | None = Field(
        None,
        description="Command template per replica; fields: {executable} {python} {model_dir} {model_id} {host} "
        "{port} {replica} {tensor_parallel_size} {gpu_memory_utilization}. Default: `vllm serve` (see "
        "DEFAULT_VLLM_COMMAND); prefix caching and the sealed load format are added to the default only, "
        "extra_args to both.",
    )
    model_dir: Path | None = None
    tensor_parallel_size: int = Field(1, ge=1)
    gpu_memory_utilization: float = Field(0.9, gt=0, le=1)
    replicas: int = Field(1, ge=1)
    gpu_ids: list[int] | None = Field(
        None, description="GPUs to share out, tensor_parallel_size per replica."
    )
    host: str = "127.0.0.1"
    base_port: int = Field(8100, ge=1, le=65535, description="Replica i listens on base_port + i.")
    enable_prefix_caching: bool = True
    supervised_by: Literal["gateway", "systemd"] = Field(
        "gateway",
        description="Who starts the replicas: the gateway itself, or systemd units (codemoat-vllm@N.service, "
        "running `codemoat vllm replica N`) that the gateway only routes to.",
    )
    sealed: bool = Field(False, description="Weights are sealed: load them through the licensing plugin.")
    load_format: str = "codemoat-sealed"
    extra_args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict, description="Extra environment for the processes.")
    health_path: str = "/health"
    startup_timeout_s: float = Field(900.0, gt=0, description="Loading large weights takes minutes.")
    restart_backoff_s: float = Field(1.0, gt=0)
    restart_backoff_max_s: float = Field(60.0, gt=0)
    stop_timeout_s: float = Field(30.0, gt=0, description="Grace after SIGTERM before SIGKILL.")
    log_dir: Path | None = Field(None, description="Where process output goes (default <home>/logs).")

    @model_validator(mode="after")
    def _sealed_replicas_are_the_gateways(self) -> "VllmSettings":
        # Each start of a sealed replica fetches the model key with a one-time token that only the gateway's key
        # server issues, so a replica systemd starts on its own could not load the weights.
        if self.sealed and self.supervised_by == "systemd":
            raise ValueError(
                'engine.vllm.sealed needs replicas the gateway starts (supervised_by = "gateway"): '
                "each start fetches the model key from the gateway's key server"
            )
        return self


class EngineSettings(BaseModel):
    """Which model serves completions (and chat, unless `chat` says otherwise), where it runs, and the limits
    in front of it."""

    model_config = {"extra": "forbid"}

    kind: EngineKind = "llama_cpp"

    # The model: a bundled one by name, or model_path (a .gguf file, a transformers or sealed directory).
    model: BundledName = Field(
        "qwen2.5-coder-1.5b", description="The bundled model, when model_path is unset."
    )
    model_path: Path | None = None
    model_id: str | None = Field(
        None,
        min_length=1,
        description="Name served in /v1/models (default: the bundled model's, or the file's name).",
    )
    family: str | None = Field(
        None,
        min_length=1,
        description="Prompt family key in appliance.prompts "
        "(default: the bundled model's, or guessed from the model's name).",
    )
    context_length: int | None = Field(
        None,
        ge=16,
        description="Tokens of context (llama.cpp: per context; default 4096, at most the model's own).",
    )
    cache_dir: Path | None = Field(
        None, description="Assembled and converted models (default <home>/models)."
    )
    threads: int = Field(2, ge=1, description="CPU threads of the embedded engine.")
    prefill_chunk: int = Field(256, ge=1, description="Prompt tokens per step; bounds others' wait.")
    max_batch: int = Field(
        8, ge=1, description="Requests decoded together in one forward pass (transformers)."
    )
    contexts: int = Field(
        2,
        ge=1,
        le=16,
        description="llama.cpp contexts on one copy of the weights: requests "
        "that run at once, each with its own prompt cache.",
    )
    load_timeout_s: float = Field(300.0, gt=0, description="How long a request waits for the model to load.")

    # Limits in front of any engine (BoundedEngine): the API answers 429 + Retry-After past them.
    max_concurrent: int = Field(4, ge=1)
    max_queue: int = Field(32, ge=0)
    queue_timeout_s: float = Field(60.0, gt=0)

    # Upstream OpenAI-compatible servers (kind = "upstream").
    upstream_urls: list[str] = Field(default_factory=list)
    upstream_api_key: SecretStr | None = None
    upstream_model: str | None = Field(
        None, description="Model name to request; default: the upstream's first."
    )
    tokenizer_path: Path | None = Field(None, description="Local tokenizer to count tokens for upstreams.")
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(120.0, gt=0, description="Longest silence between two streamed chunks.")
    health_check_interval_s: float = Field(10.0, gt=0)
    max_outstanding_per_upstream: int = Field(
        16, ge=1, description="Past this, affinity yields to the least loaded upstream."
    )

    vllm: VllmSettings = Field(default_factory=VllmSettings)

    # The chat role: any of the model fields above, where chat uses another model (default: the same one).
    chat: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _chat_role_is_valid(self) -> "EngineSettings":
        unknown = sorted(set(self.chat) - _ROLE_FIELDS)
        if unknown:
            raise ValueError(f"engine.chat cannot set {', '.join(unknown)} (the roles share the limits)")
        try:
            self.for_role("chat")
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise ValueError(f"engine.chat.{where}: {first['msg']}") from None
        return self

    def for_role(self, role: Role) -> "EngineSettings":
        """The settings of one role's engine (the chat role: these with `chat`'s fields over them)."""
        if role == "completion" or not self.chat:
            return self.model_copy(update={"chat": {}})
        merged = {**self.model_dump(exclude={"chat"}, exclude_unset=True), **self.chat}
        if "model_path" in self.chat or "model" in self.chat:  # another model: its own name and family
            for derived in ("model_id", "family"):
                if derived not in self.chat:
                    merged.pop(derived, None)
        return EngineSettings.model_validate(merged)

    def served_model_id(self) -> str:
        if self.model_id:
            return self.model_id
        if self.kind == "upstream":
            return self.upstream_model or "upstream"
        if self.kind == "vllm":
            return self.vllm.model_dir.name if self.vllm.model_dir is not None else "vllm"
        if self.model_path is not None:
            return Path(self.model_path).name.removesuffix(".gguf")
        from appliance.engines.bundled import bundled_model

        return bundled_model(self.model).model_id

    def served_family(self) -> str:
        if self.family:
            return self.family
        if self.model_path is None and self.kind in ("llama_cpp", "transformers"):
            from appliance.engines.bundled import bundled_model

            return bundled_model(self.model).family
        from appliance.prompts.families import family_for_model

        name = self.model_path or self.model_id or self.upstream_model or self.vllm.model_dir or ""
        return family_for_model(str(name)).name

    def llama_context_tokens(self) -> int:
        return self.context_length or 4096

    @field_validator("upstream_urls")
    @classmethod
    def _urls_are_http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"upstream URL {url!r} must start with http:// or https://")
        return [url.rstrip("/") for url in urls]

    def model_cache_dir(self, home: Path) -> Path:
        return self.cache_dir if self.cache_dir is not None else home / "models"
