"""A small in-memory ContextSource over real files, for prompt tests that must not depend on the indexer's
models: lexical search over fixed line windows (honouring every SearchFilter field) and a symbol table from
Python's `ast` (plus `function NAME` for JavaScript). It records every call so tests can check what the prompt
builder asked for (scope, excluded paths, names)."""

from __future__ import annotations

import ast
import math
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from appliance.prompts.languages import get_language
from indexer.resolution import OpenFile
from indexer.types import Hit, SearchFilter, SearchMode

DATA = Path(__file__).parent / "data"
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_JS_FUNCTION = re.compile(r"^(?:export\s+)?function\s+([A-Za-z_]\w*)", re.MULTILINE)


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


def load_repos(*names: str) -> dict[tuple[str, str], str]:
    files: dict[tuple[str, str], str] = {}
    for name in names:
        root = DATA / name
        for file in sorted(root.rglob("*")):
            if file.is_file():
                files[(name, file.relative_to(root).as_posix())] = file.read_text()
    return files


class MemorySource:
    def __init__(self, files: dict[tuple[str, str], str], *, window: int = 10) -> None:
        self.files = files
        self.search_calls: list[tuple[str, int, str, SearchFilter]] = []
        self.symbol_calls: list[tuple[tuple[str, ...], tuple[str, ...] | None, int]] = []
        self.open_files: list[OpenFile] = []
        self._chunks: list[Hit] = []
        self._symbols: list[SymbolHit] = []
        for (repo, path), text in sorted(files.items()):
            lines = text.split("\n")
            language = get_language(None, path).name
            for start in range(0, len(lines), window):
                chunk = "\n".join(lines[start : start + window])
                if chunk.strip():
                    end = min(start + window, len(lines))
                    self._chunks.append(Hit(repo, path, language, start + 1, end, "", 0.0, chunk))
            self._symbols.extend(_symbols(repo, path, text))

    def search(
        self, query: str, *, k: int = 10, mode: SearchMode = "hybrid", flt: SearchFilter = SearchFilter()
    ) -> list[Hit]:
        self.search_calls.append((query, k, mode, flt))
        words = set(_WORD.findall(query))
        scored: list[Hit] = []
        for chunk in self._chunks:
            if not _allowed(chunk.repo, chunk.path, chunk.language, flt):
                continue
            chunk_words = _WORD.findall(chunk.text)
            overlap = len(words & set(chunk_words))
            if overlap:
                score = overlap / math.sqrt(len(chunk_words))
                scored.append(
                    Hit(
                        chunk.repo,
                        chunk.path,
                        chunk.language,
                        chunk.start_line,
                        chunk.end_line,
                        chunk.symbol,
                        score,
                        chunk.text,
                    )
                )
        scored.sort(key=lambda h: (-h.score, h.repo, h.path, h.start_line))
        return scored[:k]

    def search_near(
        self,
        query: str,
        *,
        open_file: OpenFile,
        k: int = 10,
        mode: SearchMode = "hybrid",
        flt: SearchFilter = SearchFilter(),
    ) -> list[Hit]:
        """No import resolution here (the indexer's own tests cover it): the plain search, with the open file
        recorded."""
        self.open_files.append(open_file)
        return self.search(query, k=k, mode=mode, flt=flt)

    def lookup_symbols(
        self,
        names: Sequence[str],
        *,
        repos: Sequence[str] | None = None,
        limit: int = 20,
        open_file: OpenFile | None = None,
    ) -> list[SymbolHit]:
        self.symbol_calls.append((tuple(names), None if repos is None else tuple(repos), limit))
        rank = {name: i for i, name in enumerate(dict.fromkeys(names))}
        hits = [s for s in self._symbols if s.name in rank and (repos is None or s.repo in repos)]
        hits.sort(key=lambda s: (rank[s.name], s.repo, s.path, s.start_line))
        return hits[:limit]


class BlockedSource(MemorySource):
    """Search blocks until `release` is set: a source that answers after the latency budget."""

    def __init__(self, files: dict[tuple[str, str], str]) -> None:
        super().__init__(files)
        self.release = threading.Event()
        self.entered = threading.Event()

    def search(
        self, query: str, *, k: int = 10, mode: SearchMode = "hybrid", flt: SearchFilter = SearchFilter()
    ) -> list[Hit]:
        self.entered.set()
        self.release.wait(timeout=30)
        return super().search(query, k=k, mode=mode, flt=flt)


class FailingSource(MemorySource):
    def lookup_symbols(
        self,
        names: Sequence[str],
        *,
        repos: Sequence[str] | None = None,
        limit: int = 20,
        open_file: OpenFile | None = None,
    ) -> list[SymbolHit]:
        raise RuntimeError("symbol table is locked")


def _allowed(repo: str, path: str, language: str, flt: SearchFilter) -> bool:
    if flt.repos is not None and repo not in flt.repos:
        return False
    if flt.languages is not None and language not in flt.languages:
        return False
    if flt.path_prefix is not None and not path.startswith(flt.path_prefix):
        return False
    return (repo, path) not in flt.exclude_paths


def _symbols(repo: str, path: str, text: str) -> list[SymbolHit]:
    lines = text.split("\n")
    out: list[SymbolHit] = []
    if path.endswith(".py"):
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                kind = "class" if isinstance(node, ast.ClassDef) else "function"
                end = node.end_lineno or node.lineno
                body = "\n".join(lines[node.lineno - 1 : end])
                out.append(SymbolHit(repo, path, node.name, kind, node.lineno, end, "", body))
    elif path.endswith(".js"):
        for match in _JS_FUNCTION.finditer(text):
            start = text.count("\n", 0, match.start()) + 1
            end = next((i for i in range(start, len(lines) + 1) if lines[i - 1].startswith("}")), start)
            out.append(
                SymbolHit(
                    repo, path, match.group(1), "function", start, end, "", "\n".join(lines[start - 1 : end])
                )
            )
    return out
