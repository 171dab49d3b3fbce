"""What both stores share: the payload schema, argument checks and the payload → `Hit` mapping."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from indexer.errors import QueryError
from indexer.types import SEARCH_MODES, Hit, SearchFilter, SearchMode, SparseVec

# Payload fields with an index: (name, needs prefix matching).
INDEXED_FIELDS: tuple[tuple[str, bool], ...] = (("repo", False), ("path", True), ("language", False))
# Points per write request: bounds request size and memory on the server path.
UPSERT_BATCH = 1024


def check_query(dense: Any, sparse: SparseVec | None, mode: SearchMode, k: int) -> None:
    if mode not in SEARCH_MODES:
        raise QueryError(f"unknown search mode {mode!r}: use one of {', '.join(SEARCH_MODES)}")
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise QueryError(f"k must be a positive integer, got {k!r}")
    if mode in ("dense", "hybrid") and dense is None:
        raise QueryError(f"a {mode} search needs a dense query vector")
    if mode in ("sparse", "hybrid") and sparse is None:
        raise QueryError(f"a {mode} search needs a sparse query vector")


def matches_nothing(flt: SearchFilter) -> bool:
    """An empty allow-list (no repositories, no languages) admits no point: answer without asking the store."""
    return (
        flt.repos is not None
        and not flt.repos
        or flt.languages is not None
        and not flt.languages
        or flt.only_paths is not None
        and not flt.only_paths
    )


def dense_list(vector: Any) -> list[float]:
    """A numpy row, tuple or list → a plain list of floats (what both Qdrant bindings accept)."""
    return np.asarray(vector, dtype=np.float32).ravel().tolist()


def hit_from_payload(payload: Mapping[str, Any] | None, score: float) -> Hit:
    payload = payload or {}
    return Hit(
        repo=str(payload.get("repo", "")),
        path=str(payload.get("path", "")),
        language=str(payload.get("language", "")),
        start_line=int(payload.get("start_line", 0)),
        end_line=int(payload.get("end_line", 0)),
        symbol=str(payload.get("symbol", "")),
        score=float(score),
        text=str(payload.get("text", "")),
    )


def batches(items: Sequence[Any], size: int = UPSERT_BATCH) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
