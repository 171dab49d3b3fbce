"""`GET /v1/models`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from appliance.api.wire.common import WireResponse


class RoleCard(BaseModel):
    role: Literal["completion", "chat", "embedding"]
    # Tokens of prompt and answer together that this role accepts; None for the static embedder, which reads
    # words and has no window (POST /v1/embeddings bounds its input in characters).
    context_length: int | None


class ModelInfo(BaseModel):
    family: str
    roles: list[RoleCard]
    expected_ms: int | None = None  # p90 of recent code completions (the editor bridge waits about this long)


class ModelCard(WireResponse):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "codemoat"
    context_length: int | None = None
    codemoat: ModelInfo | None = None


class ModelList(WireResponse):
    object: Literal["list"] = "list"
    data: list[ModelCard]
