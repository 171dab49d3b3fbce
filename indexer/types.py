"""The indexer's shared vocabulary: plain, immutable records passed between discovery, chunking, embedding,
the store and retrieval. Nothing here does I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal

SearchMode = Literal["hybrid", "dense", "sparse"]
SEARCH_MODES: tuple[SearchMode, ...] = ("hybrid", "dense", "sparse")


class SkipReason(StrEnum):
    """Why a file was not indexed. Every skip is counted by reason in the run summary."""

    BINARY = "binary"
    TOO_LARGE = "too_large"
    MINIFIED = "minified"
    VENDORED = "vendored"
    SECRET = "secret"
    SYMLINK = "symlink"  # points outside the repository, dangles, or loops
    UNREADABLE = "unreadable"
    VANISHED = "vanished"  # listed, then gone before it could be read


@dataclass(frozen=True, slots=True)
class SourceFile:
    """A file discovery accepted: `rel_path` is POSIX-style, relative to the repository root."""

    rel_path: str
    abs_path: Path
    size: int


@dataclass(frozen=True, slots=True)
class Skip:
    rel_path: str
    reason: SkipReason
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A contiguous slice of a file. Chunks of one file concatenate back to its (decoded) text exactly.

    Lines are 1-based and inclusive. `symbol` is the enclosing definition path, e.g. `class Session > def send`,
    or "" at module level."""

    text: str
    start_line: int
    end_line: int
    symbol: str = ""


@dataclass(frozen=True, slots=True)
class SymbolDef:
    """A definition found in a file: what completion's symbol lookup serves."""

    name: str
    kind: str  # function, method, class, interface, struct, enum, module, type, constant, ...
    start_line: int
    end_line: int
    container: str = ""  # symbol path of the enclosing definition, "" at top level


@dataclass(frozen=True, slots=True)
class ParsedFile:
    language: str  # "python", "typescript", ..., or "text" for the line-window fallback
    chunks: tuple[Chunk, ...]
    symbols: tuple[SymbolDef, ...] = ()
    parser: Literal["tree-sitter", "lines"] = "tree-sitter"


@dataclass(frozen=True, slots=True)
class SparseVec:
    indices: tuple[int, ...]
    values: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class ChunkPoint:
    """One point for the vector store. `id` is a UUID string derived deterministically from its content, so
    re-upserting after a crash is idempotent."""

    id: str
    dense: tuple[float, ...] | Any  # a float32 numpy row is accepted
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SearchFilter:
    """Restricts retrieval. `repos=None` means every repository; an empty tuple means none (no access)."""

    repos: tuple[str, ...] | None = None
    languages: tuple[str, ...] | None = None
    path_prefix: str | None = None
    exclude_paths: tuple[tuple[str, str], ...] = field(default=())  # (repo, path) pairs, e.g. the open file
    # Only these (repo, path) pairs, e.g. the files the open file imports; None: no such restriction.
    only_paths: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    repo: str
    path: str
    language: str
    start_line: int
    end_line: int
    symbol: str
    score: float
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "score": self.score,
            "text": self.text,
            "language": self.language,
            "symbol": self.symbol,
        }
