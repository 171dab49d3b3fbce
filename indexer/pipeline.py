"""One indexing run over one repository: discover → read → chunk → embed (dense + sparse) → upsert → record.

Only files whose content changed since the manifest last saw them are chunked and embedded; files that
disappeared (or are now skipped) lose their points. The crash-safety protocol is described in manifest.py."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol, Sequence

import numpy as np

from indexer.config import IndexerSettings
from indexer.discovery import discover
from indexer.diskspace import DiskSpace, point_bytes
from indexer.manifest import FileRecord, Manifest
from indexer.prepare import (
    Prepared,
    PrepareTask,
    Unchanged,
    embedding_text,
    prepare_files,
    vector_encoding,
)
from indexer.store.protocol import VectorStore
from indexer.types import ChunkPoint, Skip, SourceFile

# Flush the store and commit the manifest after this many chunks, bounding the work a crash can lose.
_BATCH_CHUNKS = 2048


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


def git_head(root: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


class IndexRun:
    """Indexes one repository into a store, keeping the manifest in step."""

    def __init__(
        self,
        settings: IndexerSettings,
        manifest: Manifest,
        store: VectorStore,
        embed_documents: Callable[[Sequence[str]], np.ndarray],
        progress: Progress | None = None,
        space: DiskSpace | None = None,
        *,
        dense: str | None = None,
    ) -> None:
        """`embed_documents` is called only when something changed, so a run with nothing to do never loads
        the embedding model. `space`, when given, is asked before each write whether the disk can hold it.
        `dense`: the identity of the vectors `embed_documents` makes (default: the configured embedder)."""
        self.encoding = vector_encoding(settings, dense or settings.embedder)
        self.space = space
        self.settings = settings
        self.manifest = manifest
        self.store = store
        self.embed_documents = embed_documents
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
        # Files encoded under other settings (an upgrade, a changed name weight, a tuned embedder) are encoded
        # again, even though their contents did not change; their point ids stay, so the upsert replaces them.
        encoding = self.encoding
        stale = bool(known) and self.manifest.get_meta(f"encoding:{repo}") != encoding
        seen: set[str] = set()
        touched: list[tuple[str, int, int]] = []
        tasks: list[PrepareTask] = []
        self.progress.start(repo, sum(1 for e in entries if isinstance(e, SourceFile)))

        for entry in entries:
            if isinstance(entry, Skip):
                self._count_skip(report, entry)
            elif (task := self._task(repo, entry, known.get(entry.rel_path), stale)) is None:
                seen.add(entry.rel_path)
                report.files_unchanged += 1
                self.progress.advance(1, entry.size)
            else:
                tasks.append(task)

        batch: list[Prepared] = []
        batch_chunks = 0
        for task, result in zip(tasks, prepare_files(tasks, self.settings)):
            self.progress.advance(1, task.source.size)
            if isinstance(result, Skip):
                self._count_skip(report, result)
                continue
            seen.add(task.source.rel_path)
            if isinstance(result, Unchanged):
                touched.append((result.path, result.size, result.mtime_ns))
                report.files_unchanged += 1
                continue
            report.files_changed += 1
            report.bytes_read += result.bytes_read
            report.redactions += result.redactions
            batch.append(result)
            batch_chunks += len(result.points)
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
        self.manifest.set_meta(f"encoding:{repo}", encoding)
        self.manifest.finish_run(repo, report.last_commit)
        self.progress.finish()

        stats = self.manifest.file_stats(repo)
        report.files, report.total_chunks = stats["files"], stats["chunks"]
        report.symbols = self.manifest.symbol_count(repo)
        report.seconds = time.perf_counter() - started
        return report

    # -- per file ----------------------------------------------------------------------------------------------

    @staticmethod
    def _task(repo: str, entry: SourceFile, known: FileRecord | None, stale: bool) -> PrepareTask | None:
        """None when the stat matches the manifest (the file is taken as unchanged without reading it);
        `stale`: the file must be encoded again whatever its stat and contents."""
        try:
            st = entry.abs_path.stat()
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size, mtime = entry.size, 0  # vanished: reading it will say so
        if stale:
            return PrepareTask(repo, entry, None, size, mtime)
        if known is not None and known.size == size and known.mtime_ns == mtime and mtime:
            return None
        return PrepareTask(repo, entry, known.content_hash if known else None, size, mtime)

    # -- writing -----------------------------------------------------------------------------------------------

    def _write(
        self, repo: str, batch: Sequence[Prepared], removed: Sequence[str], report: IndexReport
    ) -> None:
        points = [p for item in batch for p in item.points]
        if points:
            texts = [
                embedding_text(p.payload["path"], p.payload["symbol"], p.payload["text"]) for p in points
            ]
            vectors = self.embed_documents(texts)
            if self.space is not None:
                needed = sum(
                    point_bytes(vectors.shape[1], len(p.sparse.indices), len(p.payload["text"].encode()))
                    for p in points
                )
                self.space.require(needed, f"write {len(points)} chunks of {repo}")
            self.store.upsert(
                [ChunkPoint(p.id, vectors[i], p.sparse, p.payload) for i, p in enumerate(points)]
            )
            self.store.flush()
            report.chunks += len(points)
        if not batch and not removed:
            return
        superseded = self.manifest.commit_files(repo, [item.update for item in batch], removed)
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
            report.skipped_examples.append(
                {"path": skip.rel_path, "reason": skip.reason.value, "detail": skip.detail}
            )
