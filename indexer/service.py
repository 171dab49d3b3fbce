"""`CodeIndex`: the indexer's Python API, used in-process by the CLI and the gateway.

One object owns the manifest, the vector store and the embedder of a data directory. The embedder loads on
first use, so a process that only looks up symbols never pays for it."""

from __future__ import annotations

import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from indexer.config import IndexerSettings
from indexer.diskspace import DiskSpace
from indexer.embedding import DEFAULT_EMBEDDER, dense_identity, load_embedder
from indexer.embedding.protocol import Embedder
from indexer.embedding.tuning import TuneReport
from indexer.errors import EmbedderError, QueryError, RepositoryPathError
from indexer.manifest import Manifest, SymbolHit
from indexer.pipeline import IndexReport, IndexRun, Progress
from indexer.resolution import ImportResolver, OpenFile, definition_hints
from indexer.retrieval import DEFAULT_NEAR, NearWeights, Retriever
from indexer.sparse import words
from indexer.store import open_store
from indexer.store.protocol import VectorStore
from indexer.types import Hit, SearchFilter, SearchMode

_REPO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,127}$")


@dataclass(frozen=True, slots=True)
class EmbedderTuning:
    report: TuneReport
    reindexed: list[IndexReport]
    # Repositories whose root is gone keep their old vectors until indexed again from where they now are.
    missing: list[str]


@dataclass(frozen=True, slots=True)
class RepoInfo:
    name: str
    root: str
    files: int
    chunks: int
    last_commit: str | None
    last_indexed: float | None
    interrupted: bool


def repo_name_for(root: Path) -> str:
    name = root.resolve().name or "root"
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)


class CodeIndex:
    def __init__(self, settings: IndexerSettings, home: Path, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        self.paths = settings.data_paths(home)
        self.space = DiskSpace(self.paths.root, settings.min_free_mib * 2**20)
        self.manifest = Manifest(self.paths.manifest)
        self._embedder = embedder
        # A caller's own embedder (tests, benchmarks): its name is its identity.
        self._injected = embedder is not None
        self._base_embedder: Embedder | None = None
        self._identity: str | None = None  # dense_identity(), read from disk once
        self._embedder_lock = threading.Lock()
        self._store: VectorStore | None = None
        self._store_lock = threading.Lock()
        self._retriever: Retriever | None = None
        self.imports = ImportResolver(self.manifest)

    @classmethod
    def open(cls, settings: IndexerSettings, home: Path, *, embedder: Embedder | None = None) -> "CodeIndex":
        return cls(settings, home, embedder=embedder)

    # -- lazily built parts ------------------------------------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            with self._embedder_lock:
                if self._embedder is None:
                    self._embedder = load_embedder(self.settings, self.paths.tuned_embedder)
        return self._embedder

    @property
    def base_embedder(self) -> Embedder:
        """The configured embedder without the table tuned on this index's code: what `/v1/embeddings` serves,
        since tuned vectors are shaped by repositories a caller may not be allowed to read."""
        if self._injected or self.dense_identity() == self.settings.embedder:
            return self.embedder
        if self._base_embedder is None:
            with self._embedder_lock:
                if self._base_embedder is None:
                    self._base_embedder = load_embedder(self.settings, tuned=False)
        return self._base_embedder

    @property
    def store(self) -> VectorStore:
        if self._store is None:
            with self._store_lock:
                if self._store is None:
                    self._store = open_store(self.settings, self.paths, dim=self._dim())
        return self._store

    def _dim(self) -> int:
        """The vector size is recorded at first use, so opening the store for search need not load the model."""
        recorded = self.manifest.get_meta("embedder")
        if recorded is not None:
            name, dim = recorded.rsplit(":", 1)
            if self._embedder is None and name == self.settings.embedder:
                return int(dim)
        emb = self.embedder
        if recorded is None:
            self.manifest.set_meta("embedder", f"{self.settings.embedder}:{emb.dim}")
        elif recorded != f"{self.settings.embedder}:{emb.dim}":
            from indexer.errors import StoreError

            raise StoreError(
                f"the index was built with embedder {recorded.rsplit(':', 1)[0]!r}; the configuration now says "
                f"{self.settings.embedder!r}: set it back, or remove {self.paths.root} and index again"
            )
        return emb.dim

    # -- indexing ----------------------------------------------------------------------------------------------

    def index(self, root: Path, *, name: str | None = None, progress: Progress | None = None) -> IndexReport:
        root = Path(root)
        if not root.exists():
            raise RepositoryPathError(f"{root}: no such directory")
        if not root.is_dir():
            raise RepositoryPathError(f"{root}: not a directory")
        repo = name or repo_name_for(root)
        if not _REPO_NAME.match(repo):
            raise RepositoryPathError(
                f"invalid repository name {repo!r}: use letters, digits, '.', '_', '-' and '/' (at most 128)"
            )
        self.space.require(0, f"index {repo}")
        run = IndexRun(
            self.settings,
            self.manifest,
            self.store,
            lambda texts: self.embedder.embed_documents(texts),
            progress,
            self.space,
            dense=self.dense_identity(),
        )
        return run.run(root, repo)

    def dense_identity(self) -> str:
        """Which vectors this index's chunks carry (see `indexer.embedding.dense_identity`)."""
        if self._injected and self._embedder is not None:
            return self._embedder.name
        if self._identity is None:
            # Only tune_embedder / reset_embedder change it while this index is open (they hold the store).
            self._identity = dense_identity(self.settings, self.paths.tuned_embedder)
        return self._identity

    # -- the embedder tuned on this index's code -------------------------------------------------------------

    def tune_embedder(self, *, epochs: int = 5, progress: Progress | None = None) -> EmbedderTuning:
        """Fine-tune the bundled embedder on the docstrings of every indexed repository, keep it if it ranks
        held-out definitions better, and embed every repository again with it."""
        from indexer.embedding.tuning import docstring_pairs, tune_static_model
        from indexer.embedding.wordllama import build_wordllama_model

        self._require_bundled("tune")
        self.store  # noqa: B018 - fails now, before training, if another process holds the index
        pairs = docstring_pairs(self.manifest.definitions(("function", "method", "class")))
        # Always from the bundled table, so tuning twice on the same code gives the same table.
        report = tune_static_model(
            build_wordllama_model(self.settings.embed_device),
            pairs,
            self.paths.tuned_embedder,
            view=words,
            epochs=epochs,
        )
        reindexed, missing = self._reembed(progress) if report.kept else ([], [])
        return EmbedderTuning(report, reindexed, missing)

    def reset_embedder(self, *, progress: Progress | None = None) -> tuple[list[IndexReport], list[str]]:
        """Back to the bundled table; every repository is embedded again with it. Returns the reports and
        the repositories whose root is gone."""
        self._require_bundled("reset")
        self.store  # noqa: B018 - as in tune_embedder
        tuned = self.paths.tuned_embedder
        if not tuned.exists():
            return [], []
        gone = tuned.with_name(tuned.name + ".removed")
        shutil.rmtree(gone, ignore_errors=True)
        tuned.rename(gone)  # one step: a crash leaves either the tuned table or none
        shutil.rmtree(gone, ignore_errors=True)
        return self._reembed(progress)

    def _require_bundled(self, verb: str) -> None:
        if self.settings.embedder != DEFAULT_EMBEDDER or self._injected:
            raise EmbedderError(
                f"only the bundled embedder can be {verb} here; the configured one ({self.settings.embedder}) "
                "is a model directory of your own"
            )

    def _reembed(self, progress: Progress | None) -> tuple[list[IndexReport], list[str]]:
        with self._embedder_lock:
            # The next use loads the new table.
            self._embedder, self._retriever, self._identity = None, None, None
        reports, missing = [], []
        for repo in self.manifest.repos():
            root = Path(repo.root)
            if root.is_dir():
                reports.append(self.index(root, name=repo.name, progress=progress))
            else:
                missing.append(repo.name)
        return reports, missing

    def remove_repository(self, name: str) -> int:
        """Delete a repository's points and manifest rows; returns how many points were removed."""
        ids = sorted(self.manifest.all_point_ids(name) | set(self.store.point_ids(name)))
        self.manifest.add_pending(name, ids)
        self.manifest.remove_repo(name)
        if ids:
            self.store.delete(ids)
            self.store.flush()
        self.manifest.clear_pending(ids)
        return len(ids)

    def unknown_repositories(self, names: Sequence[str]) -> list[str]:
        """Those of `names` that are not indexed (a filter naming one would silently match nothing)."""
        known = {record.name for record in self.manifest.repos()}
        return [name for name in names if name not in known]

    def repositories(self) -> list[RepoInfo]:
        out = []
        for rec in self.manifest.repos():
            stats = self.manifest.file_stats(rec.name)
            out.append(
                RepoInfo(
                    rec.name,
                    rec.root,
                    stats["files"],
                    stats["chunks"],
                    rec.last_commit,
                    rec.run_finished,
                    rec.interrupted,
                )
            )
        return out

    # -- retrieval ---------------------------------------------------------------------------------------------

    @property
    def retriever(self) -> Retriever:
        if self._retriever is None:
            self._retriever = Retriever(self.embedder, self.store)
        return self._retriever

    def search(
        self, query: str, *, k: int = 10, mode: SearchMode = "hybrid", flt: SearchFilter = SearchFilter()
    ) -> list[Hit]:
        return self.retriever.search(query, k=k, mode=mode, flt=flt)

    def search_batch(
        self,
        queries: Sequence[str],
        *,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
    ) -> list[list[Hit]]:
        return self.retriever.search_batch(queries, k=k, mode=mode, flt=flt)

    def search_near(
        self,
        query: str,
        *,
        open_file: OpenFile,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
        weights: NearWeights = DEFAULT_NEAR,
    ) -> list[Hit]:
        """Like `search`, with the files `open_file` imports searched first and the module named before its
        cursor first of all (call site → definition: the code at a cursor mostly calls what its file imports)."""
        resolved = self.imports.resolve(open_file)
        repo = resolved.repo
        return self.retriever.search_near(
            query,
            imported=[(repo, p) for p in resolved.files],
            focus=[(repo, p) for p in resolved.focus(open_file.text)],
            k=k,
            mode=mode,
            flt=flt,
            weights=weights,
        )

    def lookup_symbols(
        self,
        names: Sequence[str],
        *,
        repos: Sequence[str] | None = None,
        limit: int = 20,
        open_file: OpenFile | None = None,
    ) -> list[SymbolHit]:
        """Definitions named `names`, in that order. With the open file, an alias is looked up by the name it
        stands for, and the definition the file imports (or whose class its receiver was built from) comes
        before namesakes elsewhere."""
        if limit < 0:
            raise QueryError("limit must be ≥ 0")
        if open_file is None:
            return self.manifest.lookup_symbols(names, repos=repos, limit=limit)
        hints = definition_hints(open_file, self.imports.resolve(open_file))
        wanted = hints.names(names)
        # Namesakes first in the table's order could push the meant definition past `limit`: ask for more.
        hits = self.manifest.lookup_symbols(wanted, repos=repos, limit=max(limit * 4, limit + 20))
        order = {name: i for i, name in enumerate(wanted)}
        hits.sort(key=lambda h: (order[h.name], hints.rank(h.name, h.path, h.container)))
        return hits[:limit]

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
            self._retriever = None
        self.manifest.close()

    def __enter__(self) -> "CodeIndex":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
