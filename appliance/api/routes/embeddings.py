"""POST /v1/embeddings: the indexer's own embedder behind OpenAI's embeddings API, so document search in
Continue or Open WebUI can run on the appliance. Any token may embed: text in, vectors out, no repository read."""

from __future__ import annotations

import base64

import numpy as np
from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool

from appliance.api.deps import PrincipalDep, ServicesDep
from appliance.api.errors import InvalidRequestError, ModelNotFoundError, NotReadyError
from appliance.api.services import Services
from appliance.api.wire.embeddings import (
    MAX_INPUT_CHARS,
    MAX_INPUTS,
    Embedding,
    EmbeddingRequest,
    EmbeddingResponse,
    EmbeddingUsage,
)

router = APIRouter(prefix="/v1", tags=["embeddings"])


def embedding_model_id(services: Services) -> str:
    return f"codemoat-embed-{services.settings.indexer.embedder}"


@router.post("/embeddings", response_model=EmbeddingResponse, response_model_exclude_none=True)
async def embeddings(
    body: EmbeddingRequest, _principal: PrincipalDep, services: ServicesDep
) -> EmbeddingResponse:
    body.refuse_unhonoured()
    model_id = embedding_model_id(services)
    if body.model is not None and body.model != model_id:
        raise ModelNotFoundError(
            f"the embedding model {body.model!r} is not served here; this gateway embeds with {model_id!r}",
            param="model",
        )
    texts = body.texts()
    if not texts or len(texts) > MAX_INPUTS:
        raise InvalidRequestError(f"input: 1 to {MAX_INPUTS} texts", param="input")
    for i, text in enumerate(texts):
        if not text or len(text) > MAX_INPUT_CHARS:
            raise InvalidRequestError(
                f"input[{i}]: a text of 1 to {MAX_INPUT_CHARS:,} characters", param="input"
            )
    if services.index is None:
        raise NotReadyError(f"the code index is not open: {services.index_error or 'unknown reason'}")
    # The bundled table, never the one tuned on the index's code (shaped by repositories this caller may not read).
    embedder = await run_in_threadpool(lambda: services.index.base_embedder)  # type: ignore[union-attr]
    if body.dimensions is not None and body.dimensions != embedder.dim:
        raise InvalidRequestError(
            f"dimensions: this embedder's vectors have {embedder.dim} dimensions (it cannot shorten them)",
            param="dimensions",
        )
    vectors = await run_in_threadpool(embedder.embed_documents, texts)
    # The static embedder reads words, not model tokens: usage counts them.
    words = sum(len(text.split()) for text in texts)
    return EmbeddingResponse(
        data=[
            Embedding(index=i, embedding=_encode(row, body.encoding_format)) for i, row in enumerate(vectors)
        ],
        model=model_id,
        usage=EmbeddingUsage(prompt_tokens=words, total_tokens=words),
    )


def _encode(row: np.ndarray, encoding: str) -> list[float] | str:
    if encoding == "base64":
        return base64.b64encode(np.asarray(row, dtype="<f4").tobytes()).decode()
    return [float(x) for x in row]
