"""One indexing run over one repository: discover → read → chunk → embed (dense + sparse) → upsert → record.

Only files whose content changed since the manifest last saw them are chunked and embedded; files that
disappeared (or are now skipped) lose their points. The crash-safety protocol is described in manifest.py."""

from __future__ import annotations

import hashlib
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, Sequence

from indexer.chunking import parse_file
from indexer.config import IndexerSettings
from indexer.discovery import discover, read_source
from indexer.embedding.protocol import Embedder
from indexer.languages import detect_language
from indexer.manifest import FileUpdate, Manifest
from indexer.sparse import encode_document
from indexer.store.protocol import VectorStore
from indexer.types import ChunkPoint, ParsedFile, Skip, SourceFile

_POINT_NAMESPACE = uuid.UUID("5f0b4a52-8c1e-4c6b-9d57-2f3c1a9e7d10")
# Flush the store and commit the manifest after this many chunks, bounding the work a crash can lose.
_BATCH_CHUNKS = 2048
_SYMBOL_TEXT_LINES = 60
_SYMBOL_TEXT_CHARS = 4000


class Progress(Protocol):
    """Receives progress of a run (the CLI draws a rich progress bar; the server feeds its job status)."""

    def start(self, repo: str, total_files: int) -> None: ...

    def advance(self, files: int, nbytes: int) -> None: ...

    def finish(self) -> None: ...


class _NoProgress:
    def start(self, repo: str, total_files: int) -> None:
        pass

    def advance(self, files: int, nbytes: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass
class IndexReport:
    repo: str
    root: str
    files: int = 0  # files in the index for this repository after the run
    files_changed: int = 0  # files (re)chunked and embedded in this run
    files_unchanged: int = 0
    files_removed: int = 0
    chunks: int = 0  # chunks written in this run
    total_chunks: int = 0  # chunks stored for this repository after the run
    symbols: int = 0
    bytes_read: int = 0
    redactions: int = 0
    skip_reasons: dict[str, int] = field(default_factory=dict)
    skipped_examples: list[dict[str, str]] = field(default_factory=list)
    orphans_swept: int = 0
    recovered_manifest: str | None = None
    last_commit: str | None = None
    seconds: float = 0.0

    @property
    def skipped(self) -> int:
        return sum(self.skip_reasons.values())

    def to_json(self) -> dict[str, object]:
        return {
            "repo": self.repo,
            "root": self.root,
            "files": self.files,
            "files_changed": self.files_changed,
            "files_unchanged": self.files_unchanged,
            "files_removed": self.files_removed,
            "chunks": self.chunks,
            "total_chunks": self.total_chunks,
            "symbols": self.symbols,
            "skipped": self.skipped,
            "skip_reasons": dict(sorted(self.skip_reasons.items())),
            "skipped_examples": self.skipped_examples,
            "redactions": self.redactions,
            "bytes": self.bytes_read,
            "orphans_swept": self.orphans_swept,
            "recovered_manifest": self.recovered_manifest,
            "last_commit": self.last_commit,
            "seconds": round(self.seconds, 3),
        }


def point_id(repo: str, path: str, ordinal: int, text: str) -> str:
    """Deterministic, so that re-upserting the same chunk after a crash overwrites instead of duplicating."""
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
    return str(uuid.uuid5(_POINT_NAMESPACE, f"{repo}\0{path}\0{ordinal}\0{digest}"))


def embedding_text(path: str, symbol: str, text: str) -> str:
    """What the vectors see: the path and the enclosing symbol carry meaning the chunk body often lacks."""
    head = f"{path} {symbol}".strip()
    return f"{head}\n{text}"


def git_head(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


@dataclass
class _Pending:
    update: FileUpdate
    points: list[ChunkPoint]


class IndexRun:
    """Indexes one repository into a store, keeping the manifest in step."""

    def __init__(
        self,
        settings: IndexerSettings,
        manifest: Manifest,
        store: VectorStore,
        embedder: Embedder,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.manifest = manifest
        self.store = store
        self.embedder = embedder
        self.progress = progress or _NoProgress()

    def run(self, root: Path, repo: str) -> IndexReport:
        started = time.perf_counter()
        root = root.resolve()
        report = IndexReport(repo=repo, root=str(root))
        if self.manifest.recovered_from is not None:
            report.recovered_manifest = str(self.manifest.recovered_from)

        entries = list(discover(root, self.settings))
        before = self.manifest.begin_run(repo, str(root))
        self._finish_pending_deletes(repo)

        known = self.manifest.files(repo)
        seen: set[str] = set()
        batch: list[_Pending] = []
        batch_chunks = 0
        touched: list[tuple[str, int, int]] = []
        self.progress.start(repo, sum(1 for e in entries if isinstance(e, SourceFile)))

        for entry in entries:
            if isinstance(entry, Skip):
                self._count_skip(report, entry)
                continue
            outcome = self._prepare(repo, entry, known.get(entry.rel_path), report, touched)
            self.progress.advance(1, entry.size)
            if outcome is None:
                continue
            seen.add(entry.rel_path)
            if isinstance(outcome, _Pending):
                batch.append(outcome)
                batch_chunks += len(outcome.points)
                if batch_chunks >= _BATCH_CHUNKS:
                    self._write(repo, batch, (), report)
                    batch, batch_chunks = [], 0

        removed = sorted(set(known) - seen)
        self._write(repo, batch, removed, report)
        report.files_removed = len(removed)
        if touched:
            self.manifest.touch_files(repo, touched)
        if before is not None and before.interrupted or report.recovered_manifest:
            report.orphans_swept = self._sweep(repo)
        if report.chunks:
            self.store.optimize()
        report.last_commit = git_head(root)
        self.manifest.finish_run(repo, report.last_commit)
        self.progress.finish()

        stats = self.manifest.file_stats(repo)
        report.files, report.total_chunks = stats["files"], stats["chunks"]
        report.symbols = self.manifest.symbol_count(repo)
        report.seconds = time.perf_counter() - started
        return report

    # -- per file ----------------------------------------------------------------------------------------------

    def _prepare(self, repo, entry: SourceFile, known, report: IndexReport, touched) -> _Pending | bool | None:
        """Returns a pending update for a changed file, True for an unchanged one, None when it was skipped."""
        try:
            st = entry.abs_path.stat()
        except OSError:
            st = None
        if known is not None and st is not None and known.size == st.st_size and known.mtime_ns == st.st_mtime_ns:
            report.files_unchanged += 1
            return True
        source = read_source(entry, self.settings)
        if isinstance(source, Skip):
            self._count_skip(report, source)
            return None
        report.bytes_read += entry.size
        report.redactions += source.redactions
        content_hash = hashlib.blake2b(source.text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()
        size, mtime = (st.st_size, st.st_mtime_ns) if st is not None else (entry.size, 0)
        if known is not None and known.content_hash == content_hash:
            touched.append((entry.rel_path, size, mtime))
            report.files_unchanged += 1
            return True
        language = detect_language(entry.rel_path, source.text[:200]) or "text"
        parsed = parse_file(source.text, language if self.settings.chunker == "cast" else None,
                            budget=self.settings.chunk_budget, window_lines=self.settings.fallback_window_lines)
        report.files_changed += 1
        return _Pending(
            update=FileUpdate(
                path=entry.rel_path,
                content_hash=content_hash,
                language=parsed.language,
                size=size,
                mtime_ns=mtime,
                point_ids=(),
                symbols=_symbol_texts(parsed, source.text),
            ),
            points=self._points(repo, entry.rel_path, content_hash, parsed),
        )

    def _points(self, repo: str, path: str, content_hash: str, parsed: ParsedFile) -> list[ChunkPoint]:
        points = []
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
            points.append(ChunkPoint(id=point_id(repo, path, ordinal, chunk.text), dense=(),
                                     sparse=encode_document(embedding_text(path, chunk.symbol, chunk.text)),
                                     payload=payload))
        return points

    # -- writing -----------------------------------------------------------------------------------------------

    def _write(self, repo: str, batch: Sequence[_Pending], removed: Sequence[str], report: IndexReport) -> None:
        points = [p for item in batch for p in item.points]
        if points:
            texts = [embedding_text(p.payload["path"], p.payload["symbol"], p.payload["text"]) for p in points]
            vectors = self.embedder.embed_documents(texts)
            points = [ChunkPoint(p.id, vectors[i], p.sparse, p.payload) for i, p in enumerate(points)]
            self.store.upsert(points)
            self.store.flush()
            report.chunks += len(points)
        if not batch and not removed:
            return
        updates = [_with_ids(item) for item in batch]
        superseded = self.manifest.commit_files(repo, updates, removed)
        if superseded:
            self.store.delete(superseded)
            self.store.flush()
            self.manifest.clear_pending(superseded)

    def _finish_pending_deletes(self, repo: str) -> None:
        pending = self.manifest.pending_deletes(repo)
        if pending:
            self.store.delete(pending)
            self.store.flush()
            self.manifest.clear_pending(pending)

    def _sweep(self, repo: str) -> int:
        """After an interrupted run: delete stored points of this repository that the manifest does not know."""
        wanted = self.manifest.all_point_ids(repo)
        orphans = [pid for pid in self.store.point_ids(repo) if pid not in wanted]
        if orphans:
            self.store.delete(orphans)
            self.store.flush()
        return len(orphans)

    @staticmethod
    def _count_skip(report: IndexReport, skip: Skip) -> None:
        report.skip_reasons[skip.reason.value] = report.skip_reasons.get(skip.reason.value, 0) + 1
        if len(report.skipped_examples) < 50:
            report.skipped_examples.append({"path": skip.rel_path, "reason": skip.reason.value,
                                            "detail": skip.detail})


def _with_ids(item: _Pending) -> FileUpdate:
    u = item.update
    return FileUpdate(u.path, u.content_hash, u.language, u.size, u.mtime_ns,
                      tuple(p.id for p in item.points), u.symbols)


def _symbol_texts(parsed: ParsedFile, text: str) -> tuple:
    if not parsed.symbols:
        return ()
    lines = text.splitlines(keepends=True)
    out = []
    for sym in parsed.symbols:
        body = "".join(lines[sym.start_line - 1: min(sym.end_line, sym.start_line - 1 + _SYMBOL_TEXT_LINES)])
        out.append((sym, body[:_SYMBOL_TEXT_CHARS]))
    return tuple(out)
