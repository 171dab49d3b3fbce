"""Hybrid retrieval: one query → dense vector + sparse vector → the store fuses both lists (RRF) → hits.

Called in-process by the gateway on every completion request, so the path is short: embed (a static
embedding: microseconds), tokenize (microseconds), one store query. Queries are validated here so a bad
request fails with a `QueryError` before any work."""

from __future__ import annotations

from collections.abc import Sequence

from indexer.embedding.protocol import Embedder
from indexer.errors import QueryError
from indexer.sparse import SparseEncoder
from indexer.store.protocol import VectorQuery, VectorStore
from indexer.types import SEARCH_MODES, Hit, SearchFilter, SearchMode

__all__ = ["MAX_K", "MAX_QUERY_CHARS", "NO_FILTER", "Retriever"]

NO_FILTER = SearchFilter()  # every repository, language and path
MAX_K = 1000
STORE_BATCH = 256
# Longer queries (a whole file pasted as a prefix) are cut: the tail is what matters for completion, and the
# head of a huge query only costs tokenizer time and posting-list scans.
MAX_QUERY_CHARS = 8000


class Retriever:
    """Searches one store with one embedder. Thread-safe when the store is (both stores are)."""

    def __init__(
        self, embedder: Embedder, store: VectorStore, *, sparse: SparseEncoder | None = None
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.sparse = sparse or SparseEncoder()

    def search(
        self, query: str, *, k: int = 10, mode: SearchMode = "hybrid", flt: SearchFilter = NO_FILTER
    ) -> list[Hit]:
        """The `k` best chunks for `query`, best first."""
        return self.search_batch([query], k=k, mode=mode, flt=flt)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = NO_FILTER,
    ) -> list[list[Hit]]:
        """One list of hits per query, in order. Dense vectors for all queries come from one embedder batch
        and the store plans the searches together, so thousands of evaluation queries run in one pass."""
        if isinstance(queries, str):
            raise QueryError("search_batch takes a list of queries, not one string")
        _check_options(k, mode)
        texts = [_clean(q, i, single=len(queries) == 1) for i, q in enumerate(queries)]
        if not texts:
            return []
        dense = self.embedder.embed_queries(texts) if mode != "sparse" else None
        sparse = [self.sparse.encode_query(t) for t in texts] if mode != "dense" else None
        vectors = [
            VectorQuery(
                dense=dense[i] if dense is not None else None,
                sparse=sparse[i] if sparse is not None else None,
            )
            for i in range(len(texts))
        ]
        if len(vectors) == 1:
            v = vectors[0]
            return [self.store.query(dense=v.dense, sparse=v.sparse, mode=mode, k=k, flt=flt)]
        results: list[list[Hit]] = []
        for start in range(0, len(vectors), STORE_BATCH):  # bounds one request's size and memory
            part = vectors[start : start + STORE_BATCH]
            results.extend(self.store.query_batch(part, mode=mode, k=k, flt=flt))
        return results


def _check_options(k: int, mode: str) -> None:
    if mode not in SEARCH_MODES:
        raise QueryError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise QueryError(f"k must be an integer from 1 to {MAX_K}, got {k!r}")


def _clean(query: object, position: int, *, single: bool) -> str:
    which = "the query" if single else f"query {position + 1}"
    if not isinstance(query, str):
        raise QueryError(f"{which} is not text")
    text = query.strip()
    if not text:
        raise QueryError(f"{which} is empty")
    return text[-MAX_QUERY_CHARS:]
