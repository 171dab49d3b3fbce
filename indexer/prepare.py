"""Per-file work of an indexing run: read, hash, chunk, extract symbols, encode the sparse vectors.

Pure Python and GIL-bound, so large runs spread it over worker processes (`prepare_files`), which import
tree-sitter but never torch; the parent embeds and writes meanwhile. Everything here is picklable."""

from __future__ import annotations

import bisect
import hashlib
import multiprocessing
import os
import uuid
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Iterable, Iterator

from indexer.chunking import parse_file
from indexer.config import IndexerSettings
from indexer.discovery import read_source
from indexer.languages import detect_language
from indexer.manifest import FileUpdate
from indexer.sparse import encode_document
from indexer.types import Chunk, ChunkPoint, ParsedFile, Skip, SourceFile

_POINT_NAMESPACE = uuid.UUID("5f0b4a52-8c1e-4c6b-9d57-2f3c1a9e7d10")
_SYMBOL_TEXT_LINES = 60
_SYMBOL_TEXT_CHARS = 4000
# Below this many files the pool's start-up (a fresh interpreter per worker) costs more than it saves.
_PARALLEL_MIN_FILES = 64


@dataclass(frozen=True, slots=True)
class PrepareTask:
    repo: str
    source: SourceFile
    known_hash: str | None  # the manifest's hash for this path, if any
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Unchanged:
    """Content hashes equal: only the stat changed (a touch, a checkout), nothing to embed."""

    path: str
    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Prepared:
    update: FileUpdate
    points: tuple[ChunkPoint, ...]  # dense vectors still empty: the parent embeds them
    bytes_read: int
    redactions: int


PrepareResult = Prepared | Unchanged | Skip


def point_id(repo: str, path: str, ordinal: int, text: str) -> str:
    """Deterministic, so that re-upserting the same chunk after a crash overwrites instead of duplicating."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{repo}\0{path}\0{ordinal}\0{digest}"))


# Bumped when what `_points` feeds the sparse encoder changes, so that indexes built before re-encode.
_SPARSE_VERSION = 2


def vector_encoding(settings: IndexerSettings, dense: str) -> str:
    """What a chunk's vectors depend on besides its text (the lexical settings, the dense embedder's
    identity): recorded per repository by each run; a repository recorded otherwise is encoded again."""
    return f"v{_SPARSE_VERSION}:names={settings.name_weight:g}:dense={dense}"


def embedding_text(path: str, symbol: str, text: str) -> str:
    """What the vectors see: the path and the enclosing symbol carry meaning the chunk body often lacks."""
    head = f"{path} {symbol}".strip()
    return f"{head}\n{text}"


def prepare_file(task: PrepareTask, settings: IndexerSettings) -> PrepareResult:
    source = read_source(task.source, settings)
    if isinstance(source, Skip):
        return source
    content_hash = hashlib.blake2b(source.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    path = task.source.rel_path
    if task.known_hash == content_hash:
        return Unchanged(path, task.size, task.mtime_ns)
    language = detect_language(path, source.text[:200]) or "text"
    parsed = parse_file(
        source.text,
        language if settings.chunker == "cast" else None,
        budget=settings.chunk_budget,
        window_lines=settings.fallback_window_lines,
    )
    points = tuple(_points(task.repo, path, content_hash, parsed, settings.name_weight))
    update = FileUpdate(
        path,
        content_hash,
        parsed.language,
        task.size,
        task.mtime_ns,
        tuple(p.id for p in points),
        _symbol_texts(parsed, source.text),
    )
    return Prepared(update, points, source.size, source.redactions)


def _points(
    repo: str, path: str, content_hash: str, parsed: ParsedFile, name_weight: float
) -> Iterator[ChunkPoint]:
    starts = sorted((s.start_line, s.name) for s in parsed.symbols)
    for ordinal, chunk in enumerate(parsed.chunks):
        if not chunk.text.strip():
            continue  # whitespace between definitions carries no meaning worth a vector
        payload = {
            "repo": repo,
            "path": path,
            "language": parsed.language,
            "start_line": chunk.start_line,
            "end_line": chunk.end_line,
            "symbol": chunk.symbol,
            "content_hash": content_hash,
            "text": chunk.text,
        }
        yield ChunkPoint(
            id=point_id(repo, path, ordinal, chunk.text),
            dense=(),
            sparse=encode_document(
                chunk.text, names=_names_field(path, chunk, starts), name_weight=name_weight
            ),
            payload=payload,
        )


def _names_field(path: str, chunk: Chunk, starts: list[tuple[int, str]]) -> str:
    """The chunk's names: its path, its enclosing symbol and every definition that starts inside it."""
    lo = bisect.bisect_left(starts, (chunk.start_line, ""))
    hi = bisect.bisect_right(starts, (chunk.end_line, "\uffff"))
    return " ".join([path, chunk.symbol, *(name for _, name in starts[lo:hi])])


def _symbol_texts(parsed: ParsedFile, text: str) -> tuple:
    if not parsed.symbols:
        return ()
    lines = text.splitlines(keepends=True)
    out = []
    for sym in parsed.symbols:
        body = "".join(lines[sym.start_line - 1 : min(sym.end_line, sym.start_line - 1 + _SYMBOL_TEXT_LINES)])
        out.append((sym, body[:_SYMBOL_TEXT_CHARS]))
    return tuple(out)


# -- running many ----------------------------------------------------------------------------------------------

_worker_settings: IndexerSettings | None = None


def _init_worker(settings: IndexerSettings) -> None:
    global _worker_settings
    _worker_settings = settings


def _prepare_in_worker(task: PrepareTask) -> PrepareResult:
    if _worker_settings is None:
        raise RuntimeError("worker started without settings")  # the pool initializer sets them
    return prepare_file(task, _worker_settings)


def prepare_files(tasks: list[PrepareTask], settings: IndexerSettings) -> Iterator[PrepareResult]:
    """Results in task order. Parallel across processes for large runs; at most a bounded number of files is in
    flight, so memory stays flat whatever the repository's size."""
    workers = min(settings.workers or os.cpu_count() or 1, 8)
    if workers <= 1 or len(tasks) < _PARALLEL_MIN_FILES:
        for task in tasks:
            yield prepare_file(task, settings)
        return
    # spawn, not fork: the parent may already run torch's thread pools, which do not survive a fork.
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=(settings,)) as pool:
        yield from _ordered(pool, tasks, window=workers * 16)


def _ordered(pool: ProcessPoolExecutor, tasks: Iterable[PrepareTask], window: int) -> Iterator[PrepareResult]:
    pending: deque[Future[PrepareResult]] = deque()
    it = iter(tasks)
    for task in it:
        pending.append(pool.submit(_prepare_in_worker, task))
        if len(pending) >= window:
            break
    while pending:
        result = pending.popleft().result()
        nxt = next(it, None)
        if nxt is not None:
            pending.append(pool.submit(_prepare_in_worker, nxt))
        yield result
