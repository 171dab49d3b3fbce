"""What the bridge knows about the editor's documents beyond pygls' workspace: which were edited recently
(closed ones included, their last text kept), when the last keystroke in each happened, their language, and
their path relative to the workspace root.

pygls drops a document from its workspace before our didClose handler runs, so the tracker keeps a reference
to the document object on every change; its text is still readable after the close."""

from __future__ import annotations

import time
from collections import OrderedDict
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Protocol, Sequence

from pygls.uris import to_fs_path

from lsp.snippets import Candidate

__all__ = ["DocumentTracker", "TrackedDocument", "language_of", "relative_path"]


class TrackedDocument(Protocol):
    uri: str
    version: int | None
    language_id: str | None

    @property
    def source(self) -> str: ...


# File extension → LSP language id, for clients that send no languageId (or "plaintext"). The bridge keeps its
# own table: it runs on laptops without the indexer (whose table the appliance uses), in LSP's vocabulary.
_EXTENSIONS = {
    ".py": "python",
    ".pyi": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascriptreact",
    ".ts": "typescript",
    ".tsx": "typescriptreact",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".kt": "kotlin",
    ".kts": "kotlin",
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hpp": "cpp",
    ".hh": "cpp",
    ".cs": "csharp",
    ".rb": "ruby",
    ".php": "php",
    ".sh": "shellscript",
    ".bash": "shellscript",
    ".swift": "swift",
    ".scala": "scala",
    ".lua": "lua",
    ".sql": "sql",
}


def language_of(uri: str, language_id: str | None) -> str:
    if language_id and language_id not in {"plaintext", "text"}:
        return language_id
    suffix = PurePosixPath(uri).suffix.lower()
    return _EXTENSIONS.get(suffix, language_id or "plaintext")


def relative_path(uri: str, roots: Sequence[str]) -> str:
    """The document's path relative to the workspace folder that contains it (POSIX separators)."""
    fs_path = to_fs_path(uri) if uri.startswith("file:") else None
    if fs_path is None:
        return PurePosixPath(uri.split(":", 1)[-1]).name or "untitled"
    path = Path(fs_path)
    # The deepest root wins when folders nest.
    for root in sorted(roots, key=len, reverse=True):
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            continue
    return path.name


class DocumentTracker:
    def __init__(self, *, keep_recent: int = 20, clock: Callable[[], float] = time.monotonic) -> None:
        self._recent: OrderedDict[str, TrackedDocument] = OrderedDict()
        self._last_edit: dict[str, float] = {}
        self._open: set[str] = set()
        self._keep = keep_recent
        self._clock = clock

    def opened(self, document: TrackedDocument) -> None:
        self._open.add(document.uri)
        self._remember(document)

    def changed(self, document: TrackedDocument) -> float:
        """Record a keystroke; returns its time."""
        now = self._clock()
        self._last_edit[document.uri] = now
        self._remember(document)
        return now

    def closed(self, uri: str) -> None:
        self._open.discard(uri)

    def last_edit(self, uri: str) -> float | None:
        return self._last_edit.get(uri)

    def _remember(self, document: TrackedDocument) -> None:
        self._recent[document.uri] = document
        self._recent.move_to_end(document.uri)
        while len(self._recent) > self._keep:
            uri, _ = self._recent.popitem(last=False)
            self._last_edit.pop(uri, None)

    def candidates(self, exclude_uri: str, roots: Sequence[str], limit: int = 12) -> Iterable[Candidate]:
        """Open and recently edited documents other than `exclude_uri`, most recently touched first."""
        count = 0
        for uri in reversed(self._recent):
            if uri == exclude_uri:
                continue
            document = self._recent[uri]
            yield Candidate(
                path=relative_path(uri, roots),
                text=document.source,
                cache_key=(uri, document.version, uri in self._open),
            )
            count += 1
            if count >= limit:
                return
