"""The manifest: SQLite bookkeeping that makes indexing incremental and crash-safe.

It maps (repo, path) → content hash → the point ids stored for that file, keeps the symbol table, and an intent
log of point ids to delete. The store and the manifest cannot share a transaction, so every change follows one
order: upsert new points and flush the store, then commit the manifest (recording superseded ids as pending
deletes in the same transaction), then delete those ids from the store and clear them. A crash at any point
leaves either orphan points that the next run re-upserts idempotently (ids are deterministic) or pending deletes
that the next run finishes; a run that never reached its end triggers a full sweep of the repository's ids."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from indexer.errors import DataDirError, ManifestError
from indexer.types import SymbolDef

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS repos (
    name TEXT PRIMARY KEY,
    root TEXT NOT NULL,
    created REAL NOT NULL,
    run_started REAL,
    run_finished REAL,
    last_commit TEXT
);
CREATE TABLE IF NOT EXISTS files (
    repo TEXT NOT NULL,
    path TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    language TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    point_ids TEXT NOT NULL,
    PRIMARY KEY (repo, path)
);
CREATE TABLE IF NOT EXISTS symbols (
    repo TEXT NOT NULL,
    path TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    end_line INTEGER NOT NULL,
    container TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS symbols_by_name ON symbols (name);
CREATE INDEX IF NOT EXISTS symbols_by_file ON symbols (repo, path);
CREATE TABLE IF NOT EXISTS pending_deletes (point_id TEXT PRIMARY KEY, repo TEXT NOT NULL);
"""


@dataclass(frozen=True, slots=True)
class FileRecord:
    path: str
    content_hash: str
    language: str
    size: int
    mtime_ns: int
    point_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RepoRecord:
    name: str
    root: str
    created: float
    run_started: float | None
    run_finished: float | None
    last_commit: str | None

    @property
    def interrupted(self) -> bool:
        """The last run started and never finished: the store may hold orphans only a sweep can find."""
        return self.run_started is not None and (
            self.run_finished is None or self.run_finished < self.run_started
        )


@dataclass(frozen=True, slots=True)
class SymbolHit:
    repo: str
    path: str
    name: str
    kind: str
    start_line: int
    end_line: int
    container: str
    text: str


@dataclass(frozen=True, slots=True)
class FileUpdate:
    """Everything the manifest records for one re-indexed file, committed atomically."""

    path: str
    content_hash: str
    language: str
    size: int
    mtime_ns: int
    point_ids: tuple[str, ...]
    symbols: tuple[tuple[SymbolDef, str], ...]  # definition and its source text


class Manifest:
    """One SQLite database per data directory. Writes come from one indexing run at a time; reads (symbol lookup
    on every keystroke) use a connection per thread so they never wait on a lock held by Python code."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.recovered_from: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DataDirError(
                f"cannot create the index directory {path.parent}: {exc.strerror or exc}"
            ) from None
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._open_checked()

    # -- connection handling ---------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.OperationalError as exc:
            raise DataDirError(f"cannot open the index manifest {self.path}: {exc}") from None
        return conn

    def _open_checked(self) -> None:
        """Open, verify integrity and schema; a corrupt file is moved aside and rebuilt, never used silently."""
        try:
            conn = self._connect()
            ok = conn.execute("PRAGMA quick_check").fetchone()[0]
            if ok != "ok":
                raise sqlite3.DatabaseError(ok)
            conn.executescript(_SCHEMA)
            version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            if version is None:
                conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            elif int(version[0]) != SCHEMA_VERSION:
                raise ManifestError(
                    f"the index manifest {self.path} has schema version {version[0]}, this CodeMoat expects "
                    f"{SCHEMA_VERSION}: remove the index directory and re-index"
                )
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise DataDirError(f"the index manifest {self.path} is locked by another process") from None
            self._quarantine(exc)
            conn = self._connect()
            conn.executescript(_SCHEMA)
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        self._local.conn = conn

    def _quarantine(self, exc: Exception) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        try:
            for suffix in ("", "-wal", "-shm"):
                src = Path(str(self.path) + suffix)
                if src.exists():
                    src.rename(Path(str(target) + suffix))
        except OSError as move_exc:
            raise ManifestError(
                f"the index manifest {self.path} is corrupt ({exc}) and could not be moved aside: {move_exc}"
            ) from None
        self.recovered_from = target

    @property
    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            else:
                conn.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- metadata --------------------------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        row = self._conn.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    # -- repositories and runs -------------------------------------------------------------------------------

    def repo(self, name: str) -> RepoRecord | None:
        row = self._conn.execute(
            "SELECT name, root, created, run_started, run_finished, last_commit FROM repos WHERE name=?",
            (name,),
        ).fetchone()
        return RepoRecord(*row) if row else None

    def repos(self) -> list[RepoRecord]:
        rows = self._conn.execute(
            "SELECT name, root, created, run_started, run_finished, last_commit FROM repos ORDER BY name"
        ).fetchall()
        return [RepoRecord(*r) for r in rows]

    def begin_run(self, name: str, root: str) -> RepoRecord | None:
        """Mark a run as started; returns the record as it was before (to see whether a run was interrupted)."""
        before = self.repo(name)
        now = time.time()
        with self._tx() as conn:
            if before is None:
                conn.execute(
                    "INSERT INTO repos (name, root, created, run_started) VALUES (?, ?, ?, ?)",
                    (name, root, now, now),
                )
            else:
                conn.execute("UPDATE repos SET root=?, run_started=? WHERE name=?", (root, now, name))
        return before

    def finish_run(self, name: str, last_commit: str | None) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE repos SET run_finished=?, last_commit=? WHERE name=?",
                (time.time(), last_commit, name),
            )

    def remove_repo(self, name: str) -> None:
        with self._tx() as conn:
            conn.execute("DELETE FROM files WHERE repo=?", (name,))
            conn.execute("DELETE FROM symbols WHERE repo=?", (name,))
            conn.execute("DELETE FROM repos WHERE name=?", (name,))

    # -- files -----------------------------------------------------------------------------------------------

    def files(self, repo: str) -> dict[str, FileRecord]:
        rows = self._conn.execute(
            "SELECT path, content_hash, language, size, mtime_ns, point_ids FROM files WHERE repo=?", (repo,)
        ).fetchall()
        return {r[0]: FileRecord(r[0], r[1], r[2], r[3], r[4], tuple(json.loads(r[5]))) for r in rows}

    def paths(self, repo: str) -> list[str]:
        """Every indexed path of `repo` (without the per-file records `files` decodes)."""
        return [r[0] for r in self._conn.execute("SELECT path FROM files WHERE repo=?", (repo,))]

    def file_stats(self, repo: str) -> dict[str, int]:
        files, chunks = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(json_array_length(point_ids)), 0) FROM files WHERE repo=?", (repo,)
        ).fetchone()
        return {"files": files, "chunks": chunks}

    def all_point_ids(self, repo: str) -> set[str]:
        ids: set[str] = set()
        for (raw,) in self._conn.execute("SELECT point_ids FROM files WHERE repo=?", (repo,)):
            ids.update(json.loads(raw))
        return ids

    def touch_files(self, repo: str, stats: Iterable[tuple[str, int, int]]) -> None:
        """Record new (size, mtime) for files whose content hash did not change, so the next run skips reading."""
        with self._tx() as conn:
            conn.executemany(
                "UPDATE files SET size=?, mtime_ns=? WHERE repo=? AND path=?",
                [(size, mtime, repo, path) for path, size, mtime in stats],
            )

    def commit_files(self, repo: str, updates: Sequence[FileUpdate], removed: Sequence[str]) -> list[str]:
        """Record re-indexed and removed files in one transaction; returns the point ids they superseded, which
        are now pending deletion (the caller deletes them from the store, then calls `clear_pending`)."""
        superseded: list[str] = []
        with self._tx() as conn:
            for path in [u.path for u in updates] + list(removed):
                row = conn.execute(
                    "SELECT point_ids FROM files WHERE repo=? AND path=?", (repo, path)
                ).fetchone()
                if row:
                    superseded.extend(json.loads(row[0]))
            for path in removed:
                conn.execute("DELETE FROM files WHERE repo=? AND path=?", (repo, path))
                conn.execute("DELETE FROM symbols WHERE repo=? AND path=?", (repo, path))
            for u in updates:
                conn.execute(
                    "INSERT OR REPLACE INTO files VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        repo,
                        u.path,
                        u.content_hash,
                        u.language,
                        u.size,
                        u.mtime_ns,
                        json.dumps(list(u.point_ids)),
                    ),
                )
                conn.execute("DELETE FROM symbols WHERE repo=? AND path=?", (repo, u.path))
                conn.executemany(
                    "INSERT INTO symbols VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (repo, u.path, s.name, s.kind, s.start_line, s.end_line, s.container, text)
                        for s, text in u.symbols
                    ],
                )
            kept = {pid for u in updates for pid in u.point_ids}
            superseded = sorted(set(superseded) - kept)
            conn.executemany(
                "INSERT OR IGNORE INTO pending_deletes VALUES (?, ?)", [(p, repo) for p in superseded]
            )
        return superseded

    # -- the intent log --------------------------------------------------------------------------------------

    def pending_deletes(self, repo: str | None = None) -> list[str]:
        if repo is None:
            rows = self._conn.execute("SELECT point_id FROM pending_deletes").fetchall()
        else:
            rows = self._conn.execute("SELECT point_id FROM pending_deletes WHERE repo=?", (repo,)).fetchall()
        return [r[0] for r in rows]

    def add_pending(self, repo: str, ids: Iterable[str]) -> None:
        with self._tx() as conn:
            conn.executemany("INSERT OR IGNORE INTO pending_deletes VALUES (?, ?)", [(p, repo) for p in ids])

    def clear_pending(self, ids: Sequence[str]) -> None:
        with self._tx() as conn:
            conn.executemany("DELETE FROM pending_deletes WHERE point_id=?", [(p,) for p in ids])

    # -- symbols ---------------------------------------------------------------------------------------------

    def lookup_symbols(
        self, names: Sequence[str], *, repos: Sequence[str] | None = None, limit: int = 20
    ) -> list[SymbolHit]:
        """Definitions named exactly as given, in the order the names were asked for."""
        names = list(dict.fromkeys(n for n in names if n))
        if not names or (repos is not None and not repos) or limit <= 0:
            return []
        sql = (
            "SELECT repo, path, name, kind, start_line, end_line, container, text FROM symbols "
            f"WHERE name IN ({','.join('?' * len(names))})"
        )
        params: list[object] = list(names)
        if repos is not None:
            # Unary + keeps SQLite on symbols_by_name: by repo it would scan every symbol of the repository.
            sql += f" AND +repo IN ({','.join('?' * len(repos))})"
            params.extend(repos)
        rank = {n: i for i, n in enumerate(names)}
        hits = [SymbolHit(*row) for row in self._conn.execute(sql, params)]
        hits.sort(key=lambda h: (rank[h.name], h.repo, h.path, h.start_line))
        return hits[:limit]

    def definitions(self, kinds: Sequence[str]) -> Iterator[tuple[str, str, str]]:
        """(path, name, text) of every definition of these kinds, in every repository."""
        sql = f"SELECT path, name, text FROM symbols WHERE kind IN ({','.join('?' * len(kinds))})"
        yield from self._conn.execute(sql, list(kinds))

    def symbol_count(self, repo: str) -> int:
        return self._conn.execute("SELECT COUNT(*) FROM symbols WHERE repo=?", (repo,)).fetchone()[0]
