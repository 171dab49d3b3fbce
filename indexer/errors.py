"""Errors the indexer raises, each with a message written for the person at the terminal.

IndexerError
├── RepositoryPathError      the path to index is missing or not a directory
├── DataDirError             the data directory cannot be created, read or written
│   └── DiskFullError        too little free space on its disk for the next write
├── ManifestError            the manifest is corrupt or from an incompatible version
├── StoreError               the vector store refused an operation or cannot be opened
│   └── StoreInUseError      another process holds the embedded store (a running server, another index)
├── EmbedderError            the embedding model cannot be found or loaded
└── QueryError               a search request is malformed (empty query, bad mode, bad k)
"""

from __future__ import annotations

__all__ = [
    "IndexerError",
    "RepositoryPathError",
    "DataDirError",
    "DiskFullError",
    "ManifestError",
    "StoreError",
    "StoreInUseError",
    "EmbedderError",
    "QueryError",
]


class IndexerError(Exception):
    """Base class: `str(err)` is a one-line, user-facing reason."""

    exit_code: int = 1


class RepositoryPathError(IndexerError):
    exit_code = 2


class DataDirError(IndexerError):
    exit_code = 3


class DiskFullError(DataDirError):
    pass


class ManifestError(IndexerError):
    exit_code = 4


class StoreError(IndexerError):
    exit_code = 5


class StoreInUseError(StoreError):
    pass


class EmbedderError(IndexerError):
    exit_code = 6


class QueryError(IndexerError):
    exit_code = 2
