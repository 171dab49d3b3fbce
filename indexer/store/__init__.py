"""Vector stores behind one protocol: Qdrant Edge on disk (default) or a Qdrant server (`qdrant_url` set)."""

from __future__ import annotations

from indexer.config import IndexerSettings, IndexPaths
from indexer.errors import StoreError
from indexer.store.protocol import DEFAULT_FUSION, Fusion, VectorQuery, VectorStore

__all__ = ["DEFAULT_FUSION", "Fusion", "VectorQuery", "VectorStore", "open_store"]


def open_store(
    settings: IndexerSettings, paths: IndexPaths, *, dim: int, fusion: Fusion = DEFAULT_FUSION
) -> VectorStore:
    """The store the settings name: a Qdrant server when `store = "server"` or a `qdrant_url` is configured,
    otherwise the embedded Qdrant Edge shard at `paths.shard`. Creates the schema on first use."""
    if settings.store == "server" or settings.qdrant_url:
        if not settings.qdrant_url:
            raise StoreError(
                'store is "server" but no qdrant_url is configured (CODEMOAT_INDEXER__QDRANT_URL)'
            )
        from indexer.store.server import ServerStore

        api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None
        return ServerStore.connect(
            settings.qdrant_url, collection=settings.collection, dim=dim, api_key=api_key, fusion=fusion
        )
    from indexer.store.edge import EdgeStore

    return EdgeStore.open(paths.shard, dim=dim, fusion=fusion)
