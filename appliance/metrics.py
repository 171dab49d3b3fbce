"""Prometheus metrics of the gateway, in a registry owned by the app (no process-global registry, so that two
apps in one process, as in tests, never share counters).

Stages of a completion or chat request, each a histogram `codemoat_stage_seconds{endpoint, stage}`:
auth (token lookup), retrieval (symbols + hybrid search), prompt (template and token budget), ttft (engine
time to first token, queueing included), engine (engine stream opened → closed: queueing, prefill and
decoding), total (request received → last chunk produced). total − engine is the gateway's own overhead."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

Stage = Literal["auth", "retrieval", "prompt", "ttft", "engine", "total"]
STAGES: tuple[Stage, ...] = ("auth", "retrieval", "prompt", "ttft", "engine", "total")

# Sub-millisecond buckets for the gateway's own stages, seconds-long ones for generation.
_STAGE_BUCKETS = (
    0.0005,
    0.001,
    0.002,
    0.005,
    0.01,
    0.015,
    0.025,
    0.04,
    0.075,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
)
_HTTP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self.http_requests = Counter(
            "codemoat_http_requests",
            "HTTP requests answered, by route and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "codemoat_http_request_seconds",
            "Time to answer an HTTP request (streams: until the last byte).",
            ["route"],
            buckets=_HTTP_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "codemoat_stage_seconds",
            "Latency of each stage of a completion or chat request.",
            ["endpoint", "stage"],
            buckets=_STAGE_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "codemoat_tokens",
            "Tokens processed, by endpoint and kind (prompt, completion).",
            ["endpoint", "kind"],
            registry=r,
        )
        self.generations = Counter(
            "codemoat_generations",
            "Generations ended, by endpoint and finish reason (stop, length, cancelled).",
            ["endpoint", "finish_reason"],
            registry=r,
        )
        self.in_flight = Gauge(
            "codemoat_generations_in_flight",
            "Generations started and not yet ended.",
            registry=r,
        )
        self.queue_depth = Gauge(
            "codemoat_engine_queue_depth",
            "Requests waiting for an engine slot.",
            registry=r,
        )
        self.retrieval_failures = Counter(
            "codemoat_retrieval_failures",
            "Retrievals that failed or ran out of time (served without context).",
            registry=r,
        )
        self.engine_errors = Counter(
            "codemoat_engine_errors",
            "Engine failures, by error code.",
            ["code"],
            registry=r,
        )

    def watch_queue_depth(self, read: Callable[[], float]) -> None:
        """Read the queue depth from the engine at scrape time (no bookkeeping on the request path)."""
        self.queue_depth.set_function(read)

    def observe_stage(self, endpoint: str, stage: Stage, seconds: float) -> None:
        self.stage_seconds.labels(endpoint, stage).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
