"""Scale-out: a Qdrant server or cluster through `qdrant-client`, with the same schema as the embedded shard.

Also runs over qdrant-client's local mode (`QdrantClient(path=...)` or `":memory:"`), which implements
Qdrant's query semantics in Python: that is how the shared store tests exercise this class where no server
is reachable."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

from qdrant_client import QdrantClient, models

from indexer.errors import StoreError
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

_SCROLL_PAGE = 1024
_TIMEOUT_S = 30


class ServerStore:
    """`VectorStore` over one collection of a Qdrant server (or of qdrant-client's local mode)."""

    def __init__(
        self,
        client: QdrantClient,
        collection: str,
        *,
        dim: int,
        where: str = "the Qdrant server",
        fusion: Fusion = DEFAULT_FUSION,
    ) -> None:
        """Use `client` (the store closes it); create `collection` with our schema if it is missing, check the
        schema if it exists."""
        self._client: QdrantClient | None = client
        self.collection = collection
        self.dim = dim
        self.where = where
        self.fusion = fusion
        self._closing = threading.Lock()
        self._ensure_collection()

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        collection: str,
        dim: int,
        api_key: str | None = None,
        fusion: Fusion = DEFAULT_FUSION,
    ) -> ServerStore:
        try:
            client = QdrantClient(url=url, api_key=api_key, timeout=_TIMEOUT_S, check_compatibility=False)
        except Exception as exc:  # bad URL, bad scheme: qdrant-client raises ValueError or its own types
            raise StoreError(f"cannot use the Qdrant URL {url}: {_first_line(exc)}") from exc
        return cls(client, collection, dim=dim, where=f"the Qdrant server at {url}", fusion=fusion)

    # -- schema ------------------------------------------------------------------------------------------------

    def _ensure_collection(self) -> None:
        if not self._call("reach", "collection_exists", self.collection):
            self._call(
                "create the collection in",
                "create_collection",
                self.collection,
                vectors_config={DENSE: models.VectorParams(size=self.dim, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
            )
        else:
            self._check_schema()
        with warnings.catch_warnings():
            # Local mode warns that payload indexes do nothing there; a server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect", category=UserWarning)
            for name, prefix in INDEXED_FIELDS:
                schema: Any = (
                    models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, prefix=True)
                    if prefix
                    else models.PayloadSchemaType.KEYWORD
                )
                self._call(
                    "index payload in",
                    "create_payload_index",
                    self.collection,
                    name,
                    field_schema=schema,
                    wait=True,
                )

    def _check_schema(self) -> None:
        info = self._call("read the collection from", "get_collection", self.collection)
        params = info.config.params
        vectors = params.vectors if isinstance(params.vectors, dict) else {}
        sparse = params.sparse_vectors or {}
        problems = []
        dense = vectors.get(DENSE)
        if dense is None:
            problems.append(f"no dense vector named {DENSE!r}")
        else:
            if dense.size != self.dim:
                problems.append(f"dense vectors have {dense.size} dimensions, the embedder makes {self.dim}")
            if dense.distance != models.Distance.COSINE:
                problems.append(f"dense distance is {dense.distance}, not Cosine")
        if SPARSE not in sparse:
            problems.append(f"no sparse vector named {SPARSE!r}")
        elif sparse[SPARSE].modifier != models.Modifier.IDF:
            problems.append("the sparse vector has no IDF modifier")
        if problems:
            raise StoreError(
                f"collection {self.collection!r} on {self.where} has a different schema: {'; '.join(problems)}; "
                "use another collection name or delete it and index again"
            )

    # -- writes ------------------------------------------------------------------------------------------------

    def upsert(self, points: Sequence[ChunkPoint]) -> None:
        for batch in batches(points):
            structs = [
                models.PointStruct(
                    id=p.id,
                    vector={DENSE: dense_list(p.dense), SPARSE: _sparse(p.sparse)},
                    payload=dict(p.payload),
                )
                for p in batch
            ]
            self._call("write points to", "upsert", self.collection, points=structs, wait=True)

    def delete(self, ids: Sequence[str]) -> None:
        for batch in batches(list(ids)):
            selector = models.PointIdsList(points=list(batch))
            self._call("delete points from", "delete", self.collection, points_selector=selector, wait=True)

    def flush(self) -> None:
        """Writes are sent with `wait=True`: acknowledged means applied and in the server's WAL."""

    def optimize(self) -> None:
        """The server's optimizers build HNSW in the background."""

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
        return self.query_batch([VectorQuery(dense, sparse)], mode=mode, k=k, flt=flt)[0]

    def query_batch(
        self, queries: Sequence[VectorQuery], *, mode: SearchMode, k: int, flt: SearchFilter
    ) -> list[list[Hit]]:
        for q in queries:
            check_query(q.dense, q.sparse, mode, k)
        if matches_nothing(flt) or not queries:
            return [[] for _ in queries]
        flt_model = _filter(flt)
        requests = [_request(q, mode, k, flt_model, self.fusion) for q in queries]
        responses = self._call("search", "query_batch_points", self.collection, requests=requests)
        return [[hit_from_payload(p.payload, p.score) for p in r.points] for r in responses]

    def count(self, repo: str | None = None) -> int:
        flt = _filter(SearchFilter(repos=(repo,))) if repo is not None else None
        result = self._call("count points in", "count", self.collection, count_filter=flt, exact=True)
        return int(result.count)

    def point_ids(self, repo: str) -> Iterator[str]:
        flt = _filter(SearchFilter(repos=(repo,)))
        offset: Any = None
        while True:
            records, offset = self._call(
                "list points in",
                "scroll",
                self.collection,
                scroll_filter=flt,
                limit=_SCROLL_PAGE,
                offset=offset,
                with_payload=False,
                with_vectors=False,
            )
            for record in records:
                yield str(record.id)
            if offset is None:
                return

    def close(self) -> None:
        with self._closing:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- internals ---------------------------------------------------------------------------------------------

    def _call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """`client.method(...)`, with qdrant-client's errors turned into `StoreError`."""
        client = self._client
        if client is None:
            raise StoreError(f"cannot {what} {self.where}: the store is closed")
        try:
            return getattr(client, method)(*args, **kwargs)
        except Exception as exc:  # httpx, grpc, UnexpectedResponse, ValueError from local mode
            raise StoreError(f"cannot {what} {self.where}: {_first_line(exc)}") from exc


def _sparse(vec: SparseVec) -> models.SparseVector:
    return models.SparseVector(indices=list(vec.indices), values=list(vec.values))


def _filter(flt: SearchFilter) -> models.Filter | None:
    must: list[Any] = []
    if flt.repos is not None:
        must.append(models.FieldCondition(key="repo", match=models.MatchAny(any=list(flt.repos))))
    if flt.languages is not None:
        must.append(models.FieldCondition(key="language", match=models.MatchAny(any=list(flt.languages))))
    if flt.path_prefix:
        must.append(models.FieldCondition(key="path", match=models.MatchPrefix(prefix=flt.path_prefix)))
    if flt.only_paths is not None:
        must.append(models.Filter(should=[_file(repo, path) for repo, path in flt.only_paths]))
    must_not: list[Any] = [_file(repo, path) for repo, path in flt.exclude_paths]
    if not must and not must_not:
        return None
    return models.Filter(must=must or None, must_not=must_not or None)


def _file(repo: str, path: str) -> models.Filter:
    return models.Filter(
        must=[
            models.FieldCondition(key="repo", match=models.MatchValue(value=repo)),
            models.FieldCondition(key="path", match=models.MatchValue(value=path)),
        ]
    )


def _request(
    q: VectorQuery, mode: SearchMode, k: int, flt: models.Filter | None, fusion: Fusion
) -> models.QueryRequest:
    if mode == "dense":
        return models.QueryRequest(
            query=dense_list(q.dense),
            using=DENSE,
            limit=k,
            filter=flt,
            params=models.SearchParams(hnsw_ef=hnsw_ef(k)),
            with_payload=True,
            with_vector=False,
        )
    if mode == "sparse":
        return models.QueryRequest(
            query=_sparse(q.sparse),
            using=SPARSE,
            limit=k,
            filter=flt,  # type: ignore[arg-type]
            with_payload=True,
            with_vector=False,
        )
    n = prefetch_limit(k)
    prefetch = [
        models.Prefetch(
            query=dense_list(q.dense),
            using=DENSE,
            limit=n,
            filter=flt,
            params=models.SearchParams(hnsw_ef=hnsw_ef(n)),
        ),
        models.Prefetch(query=_sparse(q.sparse), using=SPARSE, limit=n, filter=flt),  # type: ignore[arg-type]
    ]
    fused: Any = (
        models.FusionQuery(fusion=models.Fusion.DBSF)
        if fusion.method == "dbsf"
        else models.RrfQuery(rrf=models.Rrf(k=fusion.k, weights=[fusion.dense_weight, fusion.sparse_weight]))
    )  # weights in prefetch order: dense, sparse
    return models.QueryRequest(
        prefetch=prefetch, query=fused, limit=k, filter=flt, with_payload=True, with_vector=False
    )


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
