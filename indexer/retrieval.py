"""Hybrid retrieval: one query → dense vector + sparse vector → the store fuses both lists (RRF) → hits.

Called in-process by the gateway on every completion request, so the path is short: embed (a static
embedding: microseconds), tokenize (microseconds), one store query. Queries are validated here so a bad
request fails with a `QueryError` before any work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from indexer.embedding.protocol import Embedder
from indexer.errors import QueryError
from indexer.sparse import SparseEncoder
from indexer.store.protocol import VectorQuery, VectorStore
from indexer.types import SEARCH_MODES, Hit, SearchFilter, SearchMode

__all__ = ["DEFAULT_NEAR", "MAX_K", "MAX_QUERY_CHARS", "NO_FILTER", "NearWeights", "Retriever"]

NO_FILTER = SearchFilter()  # every repository, language and path
MAX_K = 1000
STORE_BATCH = 256
# Longer queries (a whole file pasted as a prefix) are cut: the tail is what matters for completion, and the
# head of a huge query only costs tokenizer time and posting-list scans.
MAX_QUERY_CHARS = 8000


@dataclass(frozen=True, slots=True)
class NearWeights:
    """How `search_near` fuses its lists: a hit at rank r of a list of weight w scores w / r (the store's own
    RRF with k = 1), summed over the lists it appears in. `focus`: the module named before the cursor;
    `imported`: every file the open file imports; `anywhere`: the plain search."""

    focus: float = 4.0
    imported: float = 2.0
    anywhere: float = 1.0


DEFAULT_NEAR = NearWeights()


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
        vectors = self._vectors(queries, mode)
        if not vectors:
            return []
        if len(vectors) == 1:
            v = vectors[0]
            return [self.store.query(dense=v.dense, sparse=v.sparse, mode=mode, k=k, flt=flt)]
        results: list[list[Hit]] = []
        for start in range(0, len(vectors), STORE_BATCH):  # bounds one request's size and memory
            part = vectors[start : start + STORE_BATCH]
            results.extend(self.store.query_batch(part, mode=mode, k=k, flt=flt))
        return results

    def search_near(
        self,
        query: str,
        *,
        imported: Sequence[tuple[str, str]] = (),
        focus: Sequence[tuple[str, str]] = (),
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = NO_FILTER,
        weights: NearWeights = DEFAULT_NEAR,
    ) -> list[Hit]:
        """The `k` best chunks for `query`, searching the (repo, path) files an open file imports and the one
        module named before its cursor as well as everywhere, fused by rank. Every list obeys `flt`, so the
        files searched first never widen what the caller may see."""
        _check_options(k, mode)
        (vector,) = self._vectors([query], mode)
        lists = [(weights.anywhere, flt)]
        for weight, files in ((weights.imported, imported), (weights.focus, focus)):
            if files and weight > 0:
                lists.append((weight, replace(flt, only_paths=_within(flt.only_paths, files))))
        scores: dict[tuple[str, str, int], float] = {}
        hits: dict[tuple[str, str, int], Hit] = {}
        for weight, list_filter in lists:
            found = self.store.query(
                dense=vector.dense, sparse=vector.sparse, mode=mode, k=k, flt=list_filter
            )
            for rank, hit in enumerate(found, 1):
                key = (hit.repo, hit.path, hit.start_line)
                scores[key] = scores.get(key, 0.0) + weight / rank
                hits.setdefault(key, hit)
        best = sorted(scores, key=lambda key: -scores[key])[:k]
        return [replace(hits[key], score=scores[key]) for key in best]

    def _vectors(self, queries: Sequence[str], mode: SearchMode) -> list[VectorQuery]:
        texts = [_clean(q, i, single=len(queries) == 1) for i, q in enumerate(queries)]
        if not texts:
            return []
        dense = self.embedder.embed_queries(texts) if mode != "sparse" else None
        sparse = [self.sparse.encode_query(t) for t in texts] if mode != "dense" else None
        return [
            VectorQuery(
                dense=dense[i] if dense is not None else None,
                sparse=sparse[i] if sparse is not None else None,
            )
            for i in range(len(texts))
        ]


def _within(
    allowed: tuple[tuple[str, str], ...] | None, files: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    wanted = tuple(dict.fromkeys(files))
    if allowed is None:
        return wanted
    permitted = set(allowed)
    return tuple(f for f in wanted if f in permitted)


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
