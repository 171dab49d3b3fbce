"""Prometheus metrics of the gateway, in a registry owned by the app (no process-global registry, so that two
apps in one process, as in tests, never share counters).

Stages of a completion or chat request, each a histogram `codemoat_stage_seconds{endpoint, stage}`:
auth (token lookup), retrieval (symbols + hybrid search), prompt (template and token budget), ttft (engine
time to first token, queueing included), engine (engine stream opened → closed: queueing, prefill and
decoding), total (request received → last chunk produced). total − engine is the gateway's own overhead."""

from __future__ import annotations

import platform
from collections.abc import Callable
from importlib.metadata import PackageNotFoundError, version
from typing import Literal

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
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
_JOB_BUCKETS = (1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 4 * 3600.0)
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
        # What operators watch beyond requests: build, process, license, readiness, indexing, sign-ins.
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self.build_info = Gauge(
            "codemoat_build_info", "The running build (always 1).", ["version", "python"], registry=r
        )
        self.build_info.labels(package_version(), platform.python_version()).set(1)
        self.license_state = Gauge(
            "codemoat_license_state",
            "1 for the state the appliance serves under (VALID, GRACE, RESTRICTED, STOPPED, UNLICENSED).",
            ["state"],
            registry=r,
        )
        self.model_ready = Gauge(
            "codemoat_model_ready", "1 when the model of a role is loaded.", ["model", "role"], registry=r
        )
        self.index_ready = Gauge(
            "codemoat_index_ready", "1 when the code index is open and warm.", registry=r
        )
        self.index_jobs = Counter(
            "codemoat_index_jobs",
            "Repository index jobs this process ran, by outcome.",
            ["outcome"],
            registry=r,
        )
        self.index_job_seconds = Histogram(
            "codemoat_index_job_seconds",
            "Duration of a repository index job (sync + index) run by this process.",
            buckets=_JOB_BUCKETS,
            registry=r,
        )
        self.sign_in_failures = Counter(
            "codemoat_sign_in_failures",
            "Console sign-ins refused (wrong password, unknown or revoked token), by method.",
            ["method"],
            registry=r,
        )

    def watch_queue_depth(self, read: Callable[[], float]) -> None:
        """Read the queue depth from the engine at scrape time (no bookkeeping on the request path)."""
        self.queue_depth.set_function(read)

    def observe_readiness(self, checks: dict[str, dict[str, object]]) -> None:
        """Set the readiness gauges from `/readyz`'s checks (at scrape time: nothing to keep in step)."""
        self.license_state.clear()
        self.license_state.labels(str(checks["license"]["state"])).set(1)
        self.model_ready.clear()
        for check in checks.values():
            for role in check.get("roles", []):  # type: ignore[attr-defined]
                self.model_ready.labels(str(check["model"]), str(role)).set(1 if check["ok"] else 0)
        self.index_ready.set(1 if checks.get("index", {}).get("ok") else 0)

    def observe_stage(self, endpoint: str, stage: Stage, seconds: float) -> None:
        self.stage_seconds.labels(endpoint, stage).observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


def package_version() -> str:
    try:
        return version("codemoat")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"
