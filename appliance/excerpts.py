"""Lines of an indexed file read back (a cited source's preview in the console, `read_file` over MCP): through
the indexer's own reader (the same skip rules and secret redaction as indexing), never outside the repository's
folder, and only for callers who may read the repository (checked by the caller of `read_excerpt`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.errors import InvalidInputError, NotFoundError

if TYPE_CHECKING:
    from indexer.config import IndexerSettings
    from indexer.service import CodeIndex

MAX_LINES = 2000  # a whole-file view; longer files show their first lines


@dataclass(frozen=True, slots=True)
class Excerpt:
    repo: str
    path: str
    language: str
    start_line: int
    end_line: int
    total_lines: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return {
            "repo": self.repo,
            "path": self.path,
            "language": self.language,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "total_lines": self.total_lines,
            "text": self.text,
        }


def read_excerpt(
    index: CodeIndex | None, settings: IndexerSettings, repo: str, path: str, start_line: int, end_line: int
) -> Excerpt:
    from indexer.discovery import read_source
    from indexer.discovery.paths import classify
    from indexer.types import Skip

    if start_line < 1 or end_line < start_line:
        raise InvalidInputError("start_line, end_line: 1 <= start_line <= end_line", param="start_line")
    if not path or path.startswith("/") or "\\" in path or ".." in path.split("/"):
        raise InvalidInputError("path: a path relative to the repository's root", param="path")
    if index is None:
        raise NotFoundError("the code index is not open", param="repo")
    info = next((r for r in index.repositories() if r.name == repo), None)
    if info is None:
        raise NotFoundError(f"repo: no indexed repository {repo!r}", param="repo")
    record = index.manifest.files(repo).get(path)
    if record is None:
        raise NotFoundError(f"path: {path!r} is not indexed in {repo!r}", param="path")
    found = classify(Path(info.root), path, settings.max_file_bytes)
    source = read_source(found, settings) if found is not None and not isinstance(found, Skip) else found
    if source is None or isinstance(source, Skip):
        reason = source.detail or source.reason.value if isinstance(source, Skip) else "not a file"
        raise NotFoundError(f"path: {path!r} cannot be read now ({reason})", param="path")
    lines = source.text.splitlines()
    end = min(end_line, len(lines), start_line + MAX_LINES - 1)
    if start_line > len(lines):
        raise NotFoundError(f"start_line: {path!r} has only {len(lines)} lines now", param="start_line")
    return Excerpt(
        repo, path, record.language, start_line, end, len(lines), "\n".join(lines[start_line - 1 : end])
    )
