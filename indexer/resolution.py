"""An open file's imports, resolved to the indexed files that define them.

This is what the symbol table and the index know before any similarity search: the modules a file imports
are where the code at its cursor is most likely to call into, a name imported from a module is defined in that
module, and `alias.` at the cursor names the one module the next word comes from. Retrieval uses it to search
those files first (`indexer.service.CodeIndex.search_near`), symbol lookup to prefer the definition the file
actually imports over a namesake elsewhere.

The paths of a repository are held in memory per index run (a dict from file stem to paths, built from the
manifest on first use and rebuilt when a run finishes), so resolving a file's imports costs a few dictionary
lookups, not a query per import."""

from __future__ import annotations

import posixpath
import re
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Iterable

from indexer.imports import ImportRef, parse_imports
from indexer.manifest import Manifest

__all__ = [
    "DefinitionHints",
    "ImportResolver",
    "OpenFile",
    "ResolvedImports",
    "cursor_module_alias",
    "definition_hints",
]

# A folder's own module file: `pkg/__init__.py` is what `import pkg` means, `lib/index.ts` what "./lib" means.
_PACKAGE_FILES = frozenset(["__init__", "index", "mod", "lib", "main"])
# One ambiguous suffix (`utils`) may match many files; the nearest few to the importer are enough.
MAX_MATCHES_PER_IMPORT = 3
# Files searched first at most: a file importing 200 modules says little about where its cursor goes.
MAX_IMPORTED_FILES = 64
_ALIAS_AT_CURSOR = re.compile(r"([A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)\s*(?:\.|::|->)\s*[\w$]*\Z")


@dataclass(frozen=True, slots=True)
class OpenFile:
    """The file in the editor: its repository, path and text up to the cursor (or whole)."""

    repo: str
    path: str
    text: str
    language: str


@dataclass(frozen=True, slots=True)
class ResolvedImports:
    """`files`: every indexed file the open file imports, in import order. `modules`: a local name bound to a
    module → its files. `names`: a local name bound to something a module defines → (the defined name, the
    files it may come from)."""

    repo: str
    files: tuple[str, ...] = ()
    modules: dict[str, tuple[str, ...]] = field(default_factory=dict)
    names: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)

    def focus(self, text_before_cursor: str) -> tuple[str, ...]:
        """The files of the module named right before the cursor (`ledger.` or `ledger.po`), if it is one;
        for a dotted chain (`os.path.`) the longest leading part that names an imported module."""
        chain = cursor_module_alias(text_before_cursor)
        parts = chain.split(".") if chain else []
        for end in range(len(parts), 0, -1):
            found = self.modules.get(".".join(parts[:end]))
            if found:
                return found
        return ()


def cursor_module_alias(text_before_cursor: str) -> str | None:
    """`x` (or `x.y`) when the text before the cursor ends in `x.`, `x.y.partial`, `x::` or `x->`."""
    match = _ALIAS_AT_CURSOR.search(text_before_cursor[-200:])
    return match.group(1) if match else None


class _PathTable:
    """A repository's indexed paths by stem (the path without its extension, and a package file's folder)."""

    def __init__(self, paths: Iterable[str]) -> None:
        self.by_stem: dict[str, list[str]] = defaultdict(list)
        self.by_last: dict[str, set[str]] = defaultdict(set)  # the stem's last segment → stems
        self.by_folder: dict[str, list[str]] = defaultdict(list)
        for path in paths:
            stem, _ = posixpath.splitext(path)
            folder, base = posixpath.split(stem)
            stems = [stem]
            if base in _PACKAGE_FILES and folder:
                stems.append(folder)
            for s in stems:
                self.by_stem[s].append(path)
                self.by_last[s.rsplit("/", 1)[-1]].add(s)
            self.by_folder[folder].append(path)
        self.folders_by_last: dict[str, set[str]] = defaultdict(set)
        for folder in self.by_folder:
            self.folders_by_last[folder.rsplit("/", 1)[-1]].add(folder)

    def find(self, ref: ImportRef, importer: str) -> list[str]:
        if ref.folder:
            folders = [ref.stem] if ref.exact else _suffix_matches(self.folders_by_last, ref.stem)
            return sorted(p for f in _nearest(folders, importer) for p in self.by_folder.get(f, ()))
        if ref.exact:
            return sorted(self.by_stem.get(ref.stem, ()))
        stems = _suffix_matches(self.by_last, ref.stem)
        return sorted(p for s in _nearest(stems, importer) for p in self.by_stem[s])


def _suffix_matches(table: dict[str, set[str]], stem: str) -> list[str]:
    last = stem.rsplit("/", 1)[-1]
    return [s for s in table.get(last, ()) if s == stem or s.endswith("/" + stem)]


def _nearest(candidates: list[str], importer: str) -> list[str]:
    """Candidates sharing the longest leading folders with the importer first (a monorepo's own `utils`)."""
    here = importer.split("/")

    def shared(candidate: str) -> int:
        n = 0
        for a, b in zip(here, candidate.split("/")):
            if a != b:
                break
            n += 1
        return n

    return sorted(candidates, key=lambda c: (-shared(c), len(c), c))[:MAX_MATCHES_PER_IMPORT]


class ImportResolver:
    """Resolves open files' imports against one manifest. Thread-safe; tables are rebuilt per index run."""

    def __init__(self, manifest: Manifest) -> None:
        self._manifest = manifest
        self._tables: dict[str, tuple[object, _PathTable]] = {}
        self._lock = threading.Lock()

    def resolve(self, open_file: OpenFile) -> ResolvedImports:
        refs = parse_imports(open_file.text, open_file.language, open_file.path)
        if not refs:
            return ResolvedImports(open_file.repo)
        table = self._table(open_file.repo)
        if table is None:
            return ResolvedImports(open_file.repo)
        files: dict[str, None] = {}
        modules: dict[str, tuple[str, ...]] = {}
        names: dict[str, tuple[str, tuple[str, ...]]] = {}
        for ref in refs:
            found = tuple(p for p in table.find(ref, open_file.path) if p != open_file.path)
            if not found:
                continue
            files.update(dict.fromkeys(found))
            if ref.alias:
                modules[ref.alias] = found
            for local, original in ref.names:
                names.setdefault(local, (original, found))
        return ResolvedImports(open_file.repo, tuple(list(files)[:MAX_IMPORTED_FILES]), modules, names)

    def _table(self, repo: str) -> _PathTable | None:
        record = self._manifest.repo(repo)
        if record is None:
            return None
        version = (record.run_started, record.run_finished)
        with self._lock:
            cached = self._tables.get(repo)
            if cached is not None and cached[0] == version:
                return cached[1]
        table = _PathTable(self._manifest.paths(repo))
        with self._lock:
            self._tables[repo] = (version, table)
        return table


_ATTRIBUTE = re.compile(r"\b([A-Za-z_$][\w$]*)\s*(?:\.|::|->)\s*([A-Za-z_$][\w$]*)")
_TYPED = re.compile(
    r"\b([a-z_$][\w$]*)\s*(?::\s*([A-Z][\w$]*)|=\s*(?:new\s+)?([A-Z][\w$]*)\s*[({])"
)  # `x: Ledger`, `x = Ledger(`, `x = new Ledger(`, `x := Ledger{`
_LOOKBACK_CHARS = 4000
_WORDS = re.compile(r"[\w$]+")  # a container is a symbol path: `class Book`, `impl Ledger > fn post`


@dataclass(frozen=True, slots=True)
class DefinitionHints:
    """What the open file says about the names near its cursor: the name each local alias stands for, the
    files each name is imported from or reached through (`ledger.post`: `post` from ledger's files), and the
    class a receiver was built from (`book = Ledger(...)`; `book.post` → `Ledger.post`)."""

    lookup: dict[str, str] = field(default_factory=dict)  # local name → the name to look up
    files: dict[str, frozenset[str]] = field(default_factory=dict)  # looked-up name → preferred paths
    classes: dict[str, frozenset[str]] = field(default_factory=dict)  # looked-up name → preferred containers

    def names(self, names: Iterable[str]) -> list[str]:
        return list(dict.fromkeys(self.lookup.get(n, n) for n in names))

    def rank(self, name: str, path: str, container: str) -> int:
        """0: the definition the file means (its class or module), 1: no opinion, 2: a namesake elsewhere."""
        classes, files = self.classes.get(name), self.files.get(name)
        owner = _WORDS.findall(container)
        if classes and owner and owner[-1] in classes or files and path in files:
            return 0
        return 2 if classes or files else 1


def definition_hints(open_file: OpenFile, resolved: ResolvedImports) -> DefinitionHints:
    tail = open_file.text[-_LOOKBACK_CHARS:]
    lookup = {local: original for local, (original, _) in resolved.names.items() if local != original}
    files: dict[str, set[str]] = {}
    for local, (original, found) in resolved.names.items():
        files.setdefault(original, set()).update(found)
    receivers: dict[str, str] = {}
    for match in _TYPED.finditer(open_file.text[-4 * _LOOKBACK_CHARS :]):
        receivers[match.group(1)] = match.group(2) or match.group(3)
    classes: dict[str, set[str]] = {}
    for match in _ATTRIBUTE.finditer(tail):
        owner, attribute = match.groups()
        if owner in resolved.modules:
            files.setdefault(attribute, set()).update(resolved.modules[owner])
        elif owner in receivers:
            cls = receivers[owner]
            classes.setdefault(attribute, set()).add(lookup.get(cls, cls))
    return DefinitionHints(
        lookup,
        {name: frozenset(paths) for name, paths in files.items()},
        {name: frozenset(names) for name, names in classes.items()},
    )
