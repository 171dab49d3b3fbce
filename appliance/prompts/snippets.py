"""Context snippets for completion: candidates from the symbol table, the editor and retrieval are deduplicated
by line (same file, overlapping lines count once), chosen by priority within a token budget, then laid out in a
stable order — by repository, path and line, never by score — so that consecutive keystrokes that find the
same snippets render the same context and the engine's prefix cache hits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Literal, Sequence

from appliance.prompts.families import ContextBlock
from appliance.prompts.languages import LanguageSpec, get_language

SnippetSource = Literal["symbol", "editor", "retrieval"]
# Lower is more important: a definition of a name at the cursor beats an open file beats a similar chunk.
PRIORITY: dict[str, int] = {"symbol": 0, "editor": 1, "retrieval": 2}

TokenCounter = Callable[[str], int]


@dataclass(frozen=True, slots=True)
class Snippet:
    """A candidate. Lines are 1-based and inclusive; `start_line == 0` means the position is unknown (editor
    text sent without one), and such snippets are deduplicated by text instead of by line."""

    repo: str
    path: str
    start_line: int
    text: str
    source: SnippetSource
    rank: int = 0  # position within its source, 0 = best
    score: float | None = None
    symbol: str = ""

    @property
    def lines(self) -> list[str]:
        return self.text.split("\n")

    @property
    def end_line(self) -> int:
        # Derived from the text, not taken from the caller: a symbol's text may be truncated.
        return self.start_line + len(self.lines) - 1 if self.start_line > 0 else 0


@dataclass(frozen=True, slots=True)
class UsedSnippet:
    """Provenance of a snippet that went into the prompt (returned to the API for logs and debugging)."""

    repo: str
    path: str
    start_line: int
    end_line: int
    source: SnippetSource
    score: float | None
    symbol: str
    tokens: int

    def to_json(self) -> dict[str, object]:
        return {
            "repo": self.repo,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "source": self.source,
            "score": self.score,
            "symbol": self.symbol,
            "tokens": self.tokens,
        }


@dataclass(frozen=True, slots=True)
class _Accepted:
    snippet: Snippet
    lines: tuple[tuple[int, str], ...]  # (line number, text) not already covered; (0, text) lines if unplaced
    tokens: int


def normalize(text: str, max_lines: int) -> str:
    """Drop trailing newlines and whitespace-only edge lines, and keep at most `max_lines` lines."""
    lines = text.rstrip("\n").split("\n")
    return "\n".join(lines[:max_lines]).rstrip()


def order_candidates(candidates: Iterable[Snippet]) -> list[Snippet]:
    return sorted(candidates, key=lambda s: (PRIORITY[s.source], s.rank))


class SnippetSelection:
    """Greedy selection by priority: each candidate costs only the lines it adds; a candidate that does not fit
    is skipped and smaller ones after it may still fit."""

    def __init__(self, count_tokens: TokenCounter, *, header_tokens: int = 8) -> None:
        self._count = count_tokens
        self._header_tokens = header_tokens  # a file's path line and separators in the rendered template
        self.accepted: list[_Accepted] = []
        self._covered: dict[tuple[str, str], set[int]] = {}
        self._unplaced: dict[tuple[str, str], list[str]] = {}
        self.tokens = 0

    def offer(self, snippet: Snippet, budget: int) -> bool:
        key = (snippet.repo, snippet.path)
        if not snippet.text.strip():
            return False
        if snippet.start_line <= 0:
            body = snippet.text.strip()
            if any(body in other for other in self._unplaced.get(key, ())) or self._inside_placed(key, body):
                return False
            new_lines: tuple[tuple[int, str], ...] = tuple((0, line) for line in snippet.lines)
        else:
            covered = self._covered.get(key, set())
            new_lines = tuple(
                (n, line) for n, line in enumerate(snippet.lines, snippet.start_line) if n not in covered
            )
            if not new_lines:
                return False
        new_file = key not in self._covered  # every accepted file gets an entry, placed or not
        # Line by line, so that a cached counter serves the same definitions again at the next keystroke.
        cost = sum(self._count(line + "\n") for _, line in new_lines)
        cost += self._header_tokens if new_file else 0
        if self.tokens + cost > budget:
            return False
        self.accepted.append(_Accepted(snippet, new_lines, cost))
        self.tokens += cost
        if snippet.start_line > 0:
            self._covered.setdefault(key, set()).update(n for n, _ in new_lines)
        else:
            self._unplaced.setdefault(key, []).append(snippet.text.strip())
        self._covered.setdefault(key, set())
        return True

    def _inside_placed(self, key: tuple[str, str], body: str) -> bool:
        placed = "\n".join(
            line
            for acc in self.accepted
            if acc.snippet.start_line > 0 and (acc.snippet.repo, acc.snippet.path) == key
            for _, line in acc.lines
        )
        return bool(placed) and body in placed

    def used(self, count: int | None = None) -> tuple[UsedSnippet, ...]:
        chosen = self.accepted if count is None else self.accepted[:count]
        return tuple(
            UsedSnippet(
                a.snippet.repo,
                a.snippet.path,
                a.snippet.start_line,
                a.snippet.end_line,
                a.snippet.source,
                a.snippet.score,
                a.snippet.symbol,
                a.tokens,
            )
            for a in sorted(chosen, key=lambda a: (a.snippet.repo, a.snippet.path, a.snippet.start_line))
        )

    def blocks(self, language: LanguageSpec, count: int | None = None) -> tuple[ContextBlock, ...]:
        """The first `count` accepted snippets, merged per file and laid out in stable order."""
        return layout_blocks(self.accepted if count is None else self.accepted[:count], language)


def layout_blocks(accepted: Sequence[_Accepted], fallback: LanguageSpec) -> tuple[ContextBlock, ...]:
    placed: dict[tuple[str, str], dict[int, str]] = {}
    unplaced: dict[tuple[str, str], list[str]] = {}
    for acc in accepted:
        key = (acc.snippet.repo, acc.snippet.path)
        if acc.snippet.start_line > 0:
            placed.setdefault(key, {}).update(acc.lines)
        else:
            unplaced.setdefault(key, []).append("\n".join(line for _, line in acc.lines))
    blocks: list[ContextBlock] = []
    for key in sorted(set(placed) | set(unplaced)):
        repo, path = key
        lang = get_language(None, path)
        lang = fallback if lang.name == "text" else lang
        runs = _runs(placed.get(key, {}))
        runs.extend(sorted(unplaced.get(key, [])))  # editor text without position: by content, for stability
        gap = f"\n{lang.comment('...')}\n"
        blocks.append(ContextBlock(repo=repo, path=path, text=gap.join(runs), language=lang))
    return tuple(blocks)


def _runs(lines: dict[int, str]) -> list[str]:
    """Contiguous line ranges, each as text, in line order."""
    runs: list[list[str]] = []
    previous = None
    for number in sorted(lines):
        if previous is None or number != previous + 1:
            runs.append([])
        runs[-1].append(lines[number])
        previous = number
    return ["\n".join(run) for run in runs]


__all__ = [
    "PRIORITY",
    "Snippet",
    "SnippetSelection",
    "SnippetSource",
    "UsedSnippet",
    "normalize",
    "order_candidates",
]
