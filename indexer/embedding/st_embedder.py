"""The one `Embedder` implementation: a sentence-transformers model, whichever way it was built.

Documents and queries go through `encode_document` / `encode_query`, so a model that defines `document` /
`query` prompts gets them; a model without prompts embeds both sides the same way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from indexer.errors import EmbedderError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


class SentenceTransformerEmbedder:
    """Wraps a loaded `SentenceTransformer`; returns L2-normalised float32 rows.

    `text_view` rewrites every text (document and query) before the model sees it: the bundled static
    model was trained on prose, and reads code better as plain words (see `build_wordllama_embedder`)."""

    def __init__(
        self,
        model: SentenceTransformer,
        *,
        name: str,
        batch_size: int = 256,
        text_view: Callable[[str], str] | None = None,
    ) -> None:
        dim = model.get_embedding_dimension()
        if not dim:
            raise EmbedderError(f"embedding model {name} does not report an output dimension")
        self._model = model
        self.name = name
        self.dim = int(dim)
        self.batch_size = batch_size
        self.text_view = text_view
        # Normalising twice costs ~10% of a static model's time; do it here only if the model does not.
        self._normalize = not any(type(module).__name__ == "Normalize" for module in model)

    @property
    def prompts(self) -> dict[str, str]:
        """The non-empty prompts the model defines (e.g. `{"query": "query: "}`)."""
        return {key: value for key, value in self._model.prompts.items() if value}

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode_document(
            self._view(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self._normalize,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode_query(
            self._view(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            normalize_embeddings=self._normalize,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def _view(self, texts: Sequence[str]) -> list[str]:
        return [self.text_view(t) for t in texts] if self.text_view else list(texts)
