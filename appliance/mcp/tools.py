"""What each MCP tool answers, for one caller: plain functions over the code index, the state of its scope, and
the repositories' folders. No MCP types here (appliance/mcp/server.py adapts them), so every rule is testable
through the tools and the protocol alike.

The scope rule is retrieval's: a caller reads the repositories its token may read (`Principal.repos`), and a
repository it may not read is answered exactly like one that does not exist, so that a tool never tells an
agent which repositories exist beyond its scope."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.errors import ApplianceError
from appliance.excerpts import read_excerpt
from appliance.jobs.errors import SyncError
from appliance.jobs.git import Git
from indexer.errors import IndexerError
from indexer.types import SearchFilter

if TYPE_CHECKING:
    from appliance.auth.principal import Principal
    from appliance.mcp.config import McpSettings
    from indexer.config import IndexerSettings
    from indexer.service import CodeIndex, RepoInfo

__all__ = ["CodeTools", "ToolInputError"]

_IDENTIFIER = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*")


class ToolInputError(ApplianceError):
    """A tool call that cannot be answered as asked: the message goes back to the agent as the tool's error."""

    status = 400
    code = "invalid_tool_call"


@dataclass(frozen=True, slots=True)
class CodeTools:
    principal: Principal
    index: CodeIndex | None
    indexer: IndexerSettings
    settings: McpSettings
    git: Git

    # -- repositories -----------------------------------------------------------------------------------------

    def list_repositories(self) -> dict[str, Any]:
        return {
            "repositories": [
                {
                    "name": r.name,
                    "files": r.files,
                    "chunks": r.chunks,
                    "last_commit": r.last_commit,
                    "interrupted": r.interrupted,
                }
                for r in self._readable()
            ]
        }

    def recent_changes(self, repo: str, limit: int = 20) -> dict[str, Any]:
        info = self._repository(repo)
        limit = self._bounded("limit", limit, self.settings.max_commits)
        try:
            commits = self.git.recent_commits(Path(info.root), limit)
        except SyncError:
            # Not git's message: it names the folder on the appliance, which agents are not shown.
            raise ToolInputError(f"repo: {repo!r} has no git history to read here") from None
        indexed = set(self._index().manifest.files(repo))
        return {
            "repo": repo,
            "commits": [
                {
                    "sha": c.sha,
                    "author": c.author,
                    "date": c.date,
                    "subject": c.subject,
                    # Only files the index holds: a secret or skipped file's name is not the agent's to see.
                    "files": [p for p in c.paths if p in indexed],
                    "other_files": sum(1 for p in c.paths if p not in indexed),
                }
                for c in commits
            ],
        }

    # -- code -------------------------------------------------------------------------------------------------

    def search_code(
        self,
        query: str,
        repos: list[str] | None = None,
        path_prefix: str | None = None,
        languages: list[str] | None = None,
        limit: int = 10,
    ) -> dict[str, Any]:
        if not query.strip():
            raise ToolInputError("query: give the words or code to look for")
        limit = self._bounded("limit", limit, self.settings.max_results)
        flt = SearchFilter(
            repos=self._scope(repos),
            languages=tuple(languages) if languages else None,
            path_prefix=path_prefix or None,
        )
        hits = self._index().search(query, k=limit, flt=flt)
        return {
            "query": query,
            "results": [h.to_json() | {"score": round(h.score, 4)} for h in hits],
        }

    def go_to_definition(self, name: str, repos: list[str] | None = None, limit: int = 20) -> dict[str, Any]:
        """Definitions named `name`; `Class.method` (any depth) narrows to definitions inside that container."""
        base, container = self._symbol(name)
        limit = self._bounded("limit", limit, self.settings.max_results)
        hits = self._index().lookup_symbols([base], repos=self._scope(repos), limit=10 * limit)
        if container:
            hits = [h for h in hits if f".{_dotted(h.container)}".endswith(f".{container}")]
        return {
            "name": name,
            "definitions": [
                {
                    "repo": h.repo,
                    "path": h.path,
                    "kind": h.kind,
                    "container": _dotted(h.container),
                    "start_line": h.start_line,
                    "end_line": h.end_line,
                    "text": h.text,
                }
                for h in hits[:limit]
            ],
        }

    def find_references(self, name: str, repos: list[str] | None = None, limit: int = 50) -> dict[str, Any]:
        """Lines that use `name` as a whole word, outside its own definitions: lexical search over the index
        finds the chunks, each line is checked for the word (not a longer identifier containing it)."""
        base, _ = self._symbol(name)
        limit = self._bounded("limit", limit, self.settings.max_results)
        scope = self._scope(repos)
        index = self._index()
        definitions = {
            (h.repo, h.path, h.start_line) for h in index.lookup_symbols([base], repos=scope, limit=1000)
        }
        word = re.compile(rf"(?<![\w$]){re.escape(base)}(?![\w$])")
        seen: set[tuple[str, str, int]] = set()
        references = []
        for hit in index.search(base, k=max(4 * limit, 40), mode="sparse", flt=SearchFilter(repos=scope)):
            for offset, line in enumerate(hit.text.splitlines()):
                number = hit.start_line + offset
                key = (hit.repo, hit.path, number)
                if key in seen or key in definitions or not word.search(line):
                    continue
                seen.add(key)
                references.append({"repo": hit.repo, "path": hit.path, "line": number, "text": line.strip()})
        references.sort(key=lambda r: (r["repo"], r["path"], r["line"]))
        return {"name": name, "references": references[:limit], "truncated": len(references) > limit}

    def read_file(
        self, repo: str, path: str, start_line: int = 1, end_line: int | None = None
    ) -> dict[str, Any]:
        self._repository(repo)
        asked = end_line if end_line is not None else start_line + self.settings.max_lines - 1
        # Its refusals (a path outside the root, lines past the end) are ApplianceErrors: tool errors as they are.
        excerpt = read_excerpt(
            self.index,
            self.indexer,
            repo,
            path,
            start_line,
            min(asked, start_line + self.settings.max_lines - 1),
        )
        # True when lines that were asked for (and exist) are left out: read again from end_line + 1.
        return excerpt.to_json() | {"truncated": excerpt.end_line < min(asked, excerpt.total_lines)}

    # -- scope ------------------------------------------------------------------------------------------------

    def _index(self) -> CodeIndex:
        if self.index is None:
            raise ToolInputError("the code index is not open on this server; ask its operator")
        return self.index

    def _readable(self) -> list[RepoInfo]:
        return [r for r in self._index().repositories() if self.principal.may_read(r.name)]

    def _repository(self, repo: str) -> RepoInfo:
        for info in self._readable():
            if info.name == repo:
                return info
        raise ToolInputError(self._unknown(repo))

    def _scope(self, repos: list[str] | None) -> tuple[str, ...] | None:
        """The repositories to search: those named (each readable and indexed), else all the caller reads."""
        if not repos:
            return self.principal.repos
        readable = {r.name for r in self._readable()}
        for repo in repos:
            if repo not in readable:
                raise ToolInputError(self._unknown(repo))
        return tuple(repos)

    def _unknown(self, repo: str) -> str:
        names = ", ".join(r.name for r in self._readable()) or "none"
        return f"repo: no repository named {repo!r} that this token may read (it may read: {names})"

    @staticmethod
    def _symbol(name: str) -> tuple[str, str]:
        name = name.strip()
        if not _IDENTIFIER.fullmatch(name):
            raise ToolInputError(f"name: {name!r} is not an identifier (such as parse or Session.request)")
        container, _, base = name.rpartition(".")
        return base, container

    @staticmethod
    def _bounded(field: str, value: int, most: int) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise ToolInputError(f"{field}: between 1 and {most}")
        return value


def _dotted(container: str) -> str:
    """The symbol table's `class A > class B` as an agent writes it: `A.B`."""
    return ".".join(segment.split()[-1] for segment in container.split(" > ") if segment.strip())


# The indexer's own errors (a malformed query, a store that failed) reach the agent as tool errors too.
TOOL_ERRORS: tuple[type[Exception], ...] = (ApplianceError, IndexerError)
