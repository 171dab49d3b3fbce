"""The dense-embedding seam."""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np


class Embedder(Protocol):
    """Turns text into L2-normalised float32 vectors of a fixed dimension. Queries and documents may be
    embedded differently (models with query/document prompts)."""

    name: str
    dim: int

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...
