"""The vector-store seam: Qdrant Edge in-process (embedded default) or a Qdrant server (scale-out).

Both keep one schema: a named dense vector `dense` (cosine), a named sparse vector `sparse` with the IDF
modifier, and payload `{repo, path, language, start_line, end_line, symbol, content_hash, text}` with indexes
on `repo`, `path` (prefix matching) and `language`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Protocol, Sequence

from indexer.types import ChunkPoint, Hit, SearchFilter, SearchMode, SparseVec

DENSE = "dense"
SPARSE = "sparse"
# Reciprocal rank fusion constant: score = Σ 1 / (RRF_K + rank). 60 is the value of the original paper; a
# small k lets the top of one list dominate, which hurts when one mode is confidently wrong.
RRF_K = 60


def prefetch_limit(k: int) -> int:
    """How many candidates each side of a hybrid query contributes to the fusion."""
    return max(4 * k, 50)


def hnsw_ef(limit: int) -> int:
    """HNSW beam width for a dense search returning `limit` points. Measured on CPython's standard library
    (22k chunks, wordllama vectors): recall@50 against exact search is 0.93 at Qdrant's default, 0.98 at 256,
    for +0.2 ms."""
    return min(max(128, 4 * limit), 1024)


@dataclass(frozen=True, slots=True)
class VectorQuery:
    """One query's vectors: `dense` is needed for dense and hybrid, `sparse` for sparse and hybrid."""

    dense: Sequence[float] | None
    sparse: SparseVec | None


class VectorStore(Protocol):
    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        """Insert or overwrite points by id (re-upserting the same ids is idempotent)."""
        ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def flush(self) -> None:
        """Make every acknowledged write durable."""
        ...

    def optimize(self) -> None:
        """Compact segments and build the HNSW graph after a large write (a no-op where the server does it)."""
        ...

    def query(
        self,
        *,
        dense: Sequence[float] | None,
        sparse: SparseVec | None,
        mode: SearchMode,
        k: int,
        flt: SearchFilter,
    ) -> list[Hit]: ...

    def query_batch(
        self, queries: Sequence[VectorQuery], *, mode: SearchMode, k: int, flt: SearchFilter
    ) -> list[list[Hit]]:
        """Several queries with the same mode, k and filter, planned together; one list of hits per query."""
        ...

    def count(self, repo: str | None = None) -> int: ...

    def point_ids(self, repo: str) -> Iterator[str]:
        """Every point id stored for a repository (used to sweep orphans after an interrupted run)."""
        ...

    def close(self) -> None: ...
