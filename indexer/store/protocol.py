"""The vector-store seam: Qdrant Edge in-process (embedded default) or a Qdrant server (scale-out).

Both keep one schema: a named dense vector `dense` (cosine), a named sparse vector `sparse` with the IDF
modifier, and payload `{repo, path, language, start_line, end_line, symbol, content_hash, text}` with indexes
on `repo`, `path` (prefix matching) and `language`."""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

from indexer.types import ChunkPoint, Hit, SearchFilter, SearchMode, SparseVec

DENSE = "dense"
SPARSE = "sparse"


class VectorStore(Protocol):
    def upsert(self, points: Sequence[ChunkPoint]) -> None: ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def flush(self) -> None:
        """Make every acknowledged write durable."""
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

    def count(self, repo: str | None = None) -> int: ...

    def point_ids(self, repo: str) -> Iterator[str]:
        """Every point id stored for a repository (used to sweep orphans after an interrupted run)."""
        ...

    def close(self) -> None: ...
