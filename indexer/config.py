"""The indexer's settings: one pydantic model, embedded in the appliance's Settings and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

DEFAULT_SKIP_DIRS: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    "node_modules",
    "bower_components",
    "vendor",
    "third_party",
    "Pods",
    ".venv",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".tox",
    ".nox",
    "dist",
    "build",
    "target",
    "out",
    ".next",
    ".nuxt",
    ".gradle",
    ".idea",
    ".vscode",
    "coverage",
    ".terraform",
    ".cache",
    "site-packages",
    ".eggs",
)


class IndexerSettings(BaseModel):
    """What to index, how to split it, how to embed it and where to store it."""

    model_config = {"extra": "forbid"}

    # Discovery
    max_file_bytes: int = Field(1_000_000, ge=1, description="Files larger than this are skipped.")
    skip_dirs: list[str] = Field(default_factory=lambda: list(DEFAULT_SKIP_DIRS))
    max_line_length: int = Field(1_000, ge=80, description="A longer average line marks minified code.")
    min_alnum_share: float = Field(
        0.25, ge=0, le=1, description="Less alphanumeric content marks generated data."
    )

    # Chunking: "cast" = tree-sitter split-then-merge; "lines" = plain line windows (for comparison).
    chunker: Literal["cast", "lines"] = "cast"
    chunk_budget: int = Field(1_500, ge=100, description="Non-whitespace characters per chunk.")
    fallback_window_lines: int = Field(40, ge=5, description="Line window for text without a grammar.")

    # Lexical search: how much a word in a chunk's names (path, enclosing symbol, definitions) counts against
    # the same word in its body (BM25F field weight; see bench/RESULTS.md "Retrieval quality").
    name_weight: float = Field(5.0, ge=0, le=20)

    # Processes that read, chunk and encode files in large runs (0: one per core, at most 8).
    workers: int = Field(0, ge=0, le=64)

    # Dense embeddings: "wordllama" (bundled StaticEmbedding) or a local sentence-transformers directory.
    embedder: str = "wordllama"
    embed_batch_size: int = Field(256, ge=1)
    embed_device: str = "cpu"

    # Vector store: Qdrant Edge on disk unless a Qdrant server URL is configured.
    store: Literal["edge", "server"] = "edge"
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    collection: str = "codemoat_chunks"
    min_free_mib: int = Field(
        64,
        ge=0,
        description="Indexing stops with a reason when the data directory's disk would have less free than this "
        "after the next write (the store's memory-mapped files would otherwise kill the process with SIGBUS).",
    )

    def data_paths(self, home: Path) -> "IndexPaths":
        return IndexPaths(root=home / "index")


class IndexPaths(BaseModel):
    """Where the indexer keeps its files under the data directory."""

    root: Path

    @property
    def shard(self) -> Path:
        return self.root / "qdrant-edge"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.sqlite3"

    @property
    def tuned_embedder(self) -> Path:
        """The bundled embedder fine-tuned on this index's code (`codemoat embedder tune`), when there is one."""
        return self.root / "embedder-tuned"
