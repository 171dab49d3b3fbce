"""The embedded default: Qdrant Edge, the Qdrant engine in-process, one shard on disk under the data directory.

A shard is opened by one process at a time. Qdrant Edge locks its write-ahead log itself, but only after a
load has begun: a second load, refused with `WouldBlock`, has by then rewritten the sparse vectors' tracker
journals under the first opener, whose next flush fails ("tracker journal ... is shorter than expected").
So our own lock, an `flock` on a file next to the shard, is taken before Qdrant Edge sees the path, and a second
opener is refused as "in use by another process" with nothing touched."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import qdrant_edge as qe

from indexer.errors import DataDirError, StoreError, StoreInUseError
from indexer.store.common import (
    INDEXED_FIELDS,
    batches,
    check_query,
    dense_list,
    hit_from_payload,
    matches_nothing,
)
from indexer.store.protocol import (
    DEFAULT_FUSION,
    DENSE,
    SPARSE,
    Fusion,
    VectorQuery,
    hnsw_ef,
    prefetch_limit,
)
from indexer.types import ChunkPoint, Hit, SearchFilter, SearchMode, SparseVec

_CONFIG_FILE = "edge_config.json"
_SCROLL_PAGE = 1024


class EdgeStore:
    """`VectorStore` over a Qdrant Edge shard. Thread-safe: the shard does its own locking; ours only guards
    against use after `close()`."""

    def __init__(
        self, shard: qe.EdgeShard, path: Path, dim: int, fusion: Fusion = DEFAULT_FUSION, *, lock_fd: int = -1
    ) -> None:
        self._shard: qe.EdgeShard | None = shard
        self._lock_fd = lock_fd
        self.path = path
        self.dim = dim
        self.fusion = fusion
        self._closing = threading.Lock()

    @classmethod
    def open(cls, path: Path, *, dim: int, fusion: Fusion = DEFAULT_FUSION) -> EdgeStore:
        """Open the shard at `path`, creating it (and its payload indexes) when it does not exist yet."""
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(f"cannot create the index directory {path}: {exc.strerror or exc}") from exc
        lock_fd = _lock(path)
        try:
            config = _config(dim)
            exists = (path / _CONFIG_FILE).is_file()
            shard = qe.EdgeShard.load(str(path), config) if exists else qe.EdgeShard.create(str(path), config)
        except BaseException as exc:
            os.close(lock_fd)
            if isinstance(exc, Exception):  # qdrant_edge raises bare Exception with a message
                raise _open_error(path, exc) from exc
            raise
        store = cls(shard, path, dim, fusion, lock_fd=lock_fd)
        try:
            store._ensure_payload_indexes()
        except BaseException:
            with contextlib.suppress(StoreError):
                store.close()  # releases the shard and our lock: a later open must not find them held
            raise
        return store

    # -- writes ------------------------------------------------------------------------------------------------

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        for batch in batches(points):
            edge_points = [
                qe.Point(
                    p.id,
                    {DENSE: dense_list(p.dense), SPARSE: _sparse(p.sparse)},
                    dict(p.payload),
                )
                for p in batch
            ]
            self._call("write points", "update", qe.UpdateOperation.upsert_points(edge_points))

    def delete(self, ids: Sequence[str]) -> None:
        for batch in batches(list(ids)):
            self._call("delete points", "update", qe.UpdateOperation.delete_points(list(batch)))

    def flush(self) -> None:
        self._call("flush", "flush")

    def optimize(self) -> None:
        self._call("optimize", "optimize")

    # -- reads -------------------------------------------------------------------------------------------------

    def query(
        self,
        *,
        dense: Sequence[float] | None,
        sparse: SparseVec | None,
        mode: SearchMode,
        k: int,
        flt: SearchFilter,
    ) -> list[Hit]:
        check_query(dense, sparse, mode, k)
        if matches_nothing(flt):
            return []
        request = _request(VectorQuery(dense, sparse), mode, k, _filter(flt), self.fusion)
        points = self._call("search", "query", request)
        return [hit_from_payload(p.payload, p.score) for p in points]

    def query_batch(
        self, queries: Sequence[VectorQuery], *, mode: SearchMode, k: int, flt: SearchFilter
    ) -> list[list[Hit]]:
        for q in queries:
            check_query(q.dense, q.sparse, mode, k)
        if matches_nothing(flt) or not queries:
            return [[] for _ in queries]
        edge_filter = _filter(flt)
        batch = qe.QueryBatchRequest([_request(q, mode, k, edge_filter, self.fusion) for q in queries])
        results = self._call("search", "query_batch", batch)
        return [[hit_from_payload(p.payload, p.score) for p in points] for points in results]

    def count(self, repo: str | None = None) -> int:
        flt = _filter(SearchFilter(repos=(repo,))) if repo is not None else None
        return self._call("count points", "count", qe.CountRequest(exact=True, filter=flt))

    def point_ids(self, repo: str) -> Iterator[str]:
        flt = _filter(SearchFilter(repos=(repo,)))
        offset: Any = None
        while True:
            request = qe.ScrollRequest(
                offset=offset, limit=_SCROLL_PAGE, filter=flt, with_payload=False, with_vector=False
            )
            records, offset = self._call("list points", "scroll", request)
            for record in records:
                yield str(record.id)
            if offset is None:
                return

    def close(self) -> None:
        with self._closing:
            shard, self._shard = self._shard, None
        if shard is None:
            return
        failure: Exception | None = None
        for step in (shard.flush, shard.close):  # close even when the flush fails, to release the lock
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - qdrant_edge raises bare Exception; re-raised below
                failure = failure or exc
        if self._lock_fd >= 0:
            os.close(self._lock_fd)  # releases the flock, after Qdrant Edge let go of its files
            self._lock_fd = -1
        if failure is not None:
            raise StoreError(f"cannot close the index at {self.path}: {_first_line(failure)}") from failure

    # -- internals ---------------------------------------------------------------------------------------------

    def _call(self, what: str, method: str, *args: Any) -> Any:
        """`shard.method(*args)`, with Qdrant Edge's errors (bare `Exception`s) turned into `StoreError`."""
        shard = self._shard
        if shard is None:
            raise StoreError(f"cannot {what}: the index at {self.path} is closed")
        try:
            return getattr(shard, method)(*args)
        except Exception as exc:
            raise StoreError(f"cannot {what} in the index at {self.path}: {_first_line(exc)}") from exc

    def _ensure_payload_indexes(self) -> None:
        existing = self._call("read the schema", "info").payload_schema
        for name, prefix in INDEXED_FIELDS:
            info = existing.get(name)
            if info is not None and (not prefix or (info.params is not None and info.params.prefix)):
                continue
            schema: Any = qe.KeywordIndexParams(prefix=True) if prefix else qe.PayloadSchemaType.Keyword
            self._call("index payload", "update", qe.UpdateOperation.create_field_index(name, schema))


def _config(dim: int) -> qe.EdgeConfig:
    return qe.EdgeConfig(
        vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
        sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
    )


def _sparse(vec: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(list(vec.indices), list(vec.values))


def _filter(flt: SearchFilter) -> qe.Filter | None:
    must: list[Any] = []
    if flt.repos is not None:
        must.append(qe.FieldCondition("repo", match=qe.MatchAny(list(flt.repos))))
    if flt.languages is not None:
        must.append(qe.FieldCondition("language", match=qe.MatchAny(list(flt.languages))))
    if flt.path_prefix:
        must.append(qe.FieldCondition("path", match=qe.MatchPrefix(flt.path_prefix)))
    if flt.only_paths is not None:
        must.append(qe.Filter(should=[_file(repo, path) for repo, path in flt.only_paths]))
    must_not: list[Any] = [_file(repo, path) for repo, path in flt.exclude_paths]
    if not must and not must_not:
        return None
    return qe.Filter(must=must or None, must_not=must_not or None)


def _file(repo: str, path: str) -> qe.Filter:
    return qe.Filter(
        must=[
            qe.FieldCondition("repo", match=qe.MatchValue(repo)),
            qe.FieldCondition("path", match=qe.MatchValue(path)),
        ]
    )


def _request(
    q: VectorQuery, mode: SearchMode, k: int, flt: qe.Filter | None, fusion: Fusion
) -> qe.QueryRequest:
    if mode == "dense":
        query: Any = qe.Query.Nearest(dense_list(q.dense), using=DENSE)
        return qe.QueryRequest(
            limit=k,
            query=query,
            filter=flt,
            params=qe.SearchParams(hnsw_ef=hnsw_ef(k)),
            with_payload=True,
            with_vector=False,
        )
    if mode == "sparse":
        query = qe.Query.Nearest(_sparse(q.sparse), using=SPARSE)  # type: ignore[arg-type]
        return qe.QueryRequest(limit=k, query=query, filter=flt, with_payload=True, with_vector=False)
    n = prefetch_limit(k)
    prefetches = [
        qe.Prefetch(
            limit=n,
            query=qe.Query.Nearest(dense_list(q.dense), using=DENSE),
            filter=flt,
            params=qe.SearchParams(hnsw_ef=hnsw_ef(n)),
        ),
        qe.Prefetch(limit=n, query=qe.Query.Nearest(_sparse(q.sparse), using=SPARSE), filter=flt),  # type: ignore[arg-type]
    ]
    fused: Any = (
        qe.Fusion.Dbsf()
        if fusion.method == "dbsf"
        else qe.Fusion.Rrf(k=fusion.k, weights=[fusion.dense_weight, fusion.sparse_weight])  # prefetch order
    )
    return qe.QueryRequest(
        limit=k, prefetches=prefetches, query=fused, filter=flt, with_payload=True, with_vector=False
    )


def _lock(path: Path) -> int:
    """An exclusive `flock` on `<shard>.lock`, held until `close()`; per open file, so a second open in this
    process is refused as well."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise DataDirError(f"cannot create the index lock {lock_path}: {exc.strerror or exc}") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise _open_error(path, Exception("WouldBlock")) from None
    except OSError as exc:  # ENOLCK on some network file systems
        os.close(fd)
        raise DataDirError(f"cannot lock the index at {path}: {exc.strerror or exc}") from None
    return fd


def _open_error(path: Path, exc: Exception) -> StoreError:
    message = _first_line(exc)
    if "WouldBlock" in message or "Resource temporarily unavailable" in message:
        return StoreInUseError(
            f"the index at {path} is in use by another process (a running `codemoat serve` or `codemoat index`): "
            "while the server runs, `codemoat index` hands it the work, and its console (Administration > "
            "Repositories) adds and re-indexes repositories; otherwise wait for the other run or use another "
            "data directory"
        )
    if "incompatible" in message.lower():
        return StoreError(
            f"the index at {path} was built with a different schema ({message}); remove {path} and index again"
        )
    return StoreError(f"cannot open the index at {path}: {message}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
