"""`POST /v1/embeddings`: text in, the indexer's dense vectors out, in OpenAI's shape."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from appliance.api.wire.common import WireRequest, WireResponse

MAX_INPUTS = 256
MAX_INPUT_CHARS = 32_000


class EmbeddingRequest(WireRequest):
    model: str | None = Field(None, max_length=256, description="Default: the indexer's embedder.")
    # Token arrays (lists of ints) are OpenAI's too; this gateway embeds text only and refuses them (400).
    input: str | list[str] = Field(description="One text or a list of texts.")
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | None = Field(None, max_length=256)

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class Embedding(WireResponse):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str  # floats, or base64 of little-endian float32 with encoding_format "base64"


class EmbeddingUsage(WireResponse):
    prompt_tokens: int
    total_tokens: int


class EmbeddingResponse(WireResponse):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: EmbeddingUsage
