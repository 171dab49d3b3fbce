"""`POST /v1/telemetry/completions` body: one acceptance event of the editor bridge (lsp/telemetry.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class CompletionTelemetry(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    event: Literal["shown", "accepted", "rejected"]
    completion_id: str = Field(min_length=1, max_length=128)
    language: str | None = Field(None, max_length=64)
    model: str | None = Field(None, max_length=256)
    chars: int = Field(0, ge=0, le=10_000_000)
    lines: int = Field(0, ge=0, le=1_000_000)
    latency_ms: float | int | None = Field(None, ge=0, le=3_600_000)
    from_cache: bool = False
    client: str = Field("", max_length=128)
