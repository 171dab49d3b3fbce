"""Completion prompts: the text around the cursor plus repository context, in the model family's template, within
a token budget and a latency budget.

    build_completion_prompt(request, family=..., count_tokens=..., context_length=..., max_tokens=...,
                            source=index, settings=...)  ->  BuiltPrompt

1. Budget: `context_length - max_tokens - reserve_tokens`, less the empty template, planned
   `typing_headroom_tokens` below it (the next keystrokes fit without shedding anything). The prefix may use
   `prefix_share` of it (keeping its end, cut at a line boundary, the file's imports and enclosing headers
   kept above), the suffix `suffix_share` (keeping its start, at most `suffix_max_tokens`; none for models
   without FIM); context gets the rest.
2. Context, fetched side by side within `latency_budget_ms`: definitions of the names near the cursor (symbol
   table), hybrid retrieval on the tail of the prefix (current file excluded, caller's scope applied); plus the
   editor's snippets. Priority: definitions, editor snippets, retrieval; overlapping lines count once.
3. Chosen snippets are laid out by repository, path and line, never by score, and retrieval reads complete
   lines only, so consecutive keystrokes on one line produce the same text up to the cursor's line (the
   engine's prefix cache hits and only the line and the suffix are computed again).
4. The rendered prompt is counted whole; while it is over the budget the least important snippet goes, then
   the prefix shrinks. The result is never over `context_length - max_tokens - reserve_tokens`."""

from __future__ import annotations

import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

from appliance.prompts.errors import PromptTooLong
from appliance.prompts.families import ModelFamily, PromptParts
from appliance.prompts.identifiers import identifiers_near_cursor
from appliance.prompts.languages import LanguageSpec, get_language
from appliance.prompts.outline import keep_outline
from appliance.prompts.postprocess import CompletionMode, completion_mode, mode_stop_sequences
from appliance.prompts.snippets import Snippet, SnippetSelection, UsedSnippet, normalize, order_candidates
from appliance.prompts.sources import ContextSource, StageTiming, Stopwatch, call_with_deadline
from appliance.prompts.trimming import cached_counter, trim_prefix, trim_suffix
from indexer.resolution import OpenFile
from indexer.types import SearchFilter

TokenCounter = Callable[[str], int]


class CompletionSettings(BaseModel):
    """Tuning of completion prompts; embeddable in the appliance's Settings as is."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    prefix_share: float = Field(0.60, gt=0, le=1)
    suffix_share: float = Field(0.15, ge=0, lt=1)
    # At most this many suffix tokens. In fill-in-the-middle order the suffix follows the cursor, so every
    # keystroke computes it again: on a CPU engine a short one keeps typing fast (the gateway caps it at
    # CPU_SUFFIX_TOKENS there unless this is set).
    suffix_max_tokens: int | None = Field(None, ge=0)
    latency_budget_ms: float = Field(60.0, ge=0)
    use_symbols: bool = True
    use_retrieval: bool = True
    # Resolve the open file's imports: the definition a name is imported from first, the files it imports
    # (and the module named before the cursor) searched first. Call site → definition MRR@10 0.11 → 0.35 on
    # the standard library, 0.22 → 0.32 on third-party packages (bench/RESULTS.md "Retrieval quality").
    use_imports: bool = True
    identifier_lines_before: int = Field(8, ge=0)
    identifier_lines_after: int = Field(3, ge=0)
    max_identifiers: int = Field(8, ge=0)
    symbol_limit: int = Field(12, ge=0)
    retrieval_k: int = Field(8, ge=0)
    retrieval_query_lines: int = Field(12, ge=1)
    retrieval_query_chars: int = Field(1500, ge=16)
    retrieval_same_language: bool = True
    max_snippet_lines: int = Field(60, ge=1)
    # The prefix's first kept line moves in steps of this many lines, so typing on one line keeps the prompt's
    # start (and the engine's prefix cache) unchanged.
    prefix_anchor_lines: int = Field(16, ge=1)
    # When the prefix is cut, the file's imports and the headers enclosing the cursor are kept above the
    # nearest lines, within this share of the prefix's budget (appliance.prompts.outline).
    outline_share: float = Field(0.35, ge=0, le=1)
    # Tokens left unplanned for what the user types next (see assemble_completion_prompt).
    typing_headroom_tokens: int = Field(32, ge=0)
    # Tokens the engine may add that a text counter does not see (BOS, EOS): kept free in the budget.
    reserve_tokens: int = Field(2, ge=0)

    @model_validator(mode="after")
    def _shares_fit(self) -> "CompletionSettings":
        if self.prefix_share + self.suffix_share > 1:
            raise ValueError("prefix_share + suffix_share must not exceed 1")
        return self


@dataclass(frozen=True, slots=True)
class EditorSnippet:
    """Text the editor sends from an open file. Without `start_line` it is deduplicated by text only."""

    path: str
    text: str
    start_line: int | None = None
    repo: str | None = None


@dataclass(frozen=True, slots=True)
class CursorContext:
    prefix: str
    suffix: str = ""
    path: str = ""
    language: str | None = None
    repo: str | None = None
    editor_snippets: tuple[EditorSnippet, ...] = ()
    # What the caller may see: `repos=None` every repository, `()` none (no retrieval at all).
    scope: SearchFilter = field(default_factory=SearchFilter)
    mode: CompletionMode | None = None  # the client's choice; None: guessed from the cursor


@dataclass(frozen=True, slots=True)
class BuiltPrompt:
    prompt: str
    stop: tuple[str, ...]
    mode: CompletionMode
    family: str
    prefix: str  # the prefix as it went into the prompt (post-processing compares against it)
    suffix: str
    snippets: tuple[UsedSnippet, ...]
    stages: tuple[StageTiming, ...]
    prompt_tokens: int
    prefix_tokens: int
    suffix_tokens: int
    context_tokens: int
    budget_tokens: int
    affinity_key: str

    def to_json(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "mode": self.mode,
            "prompt_tokens": self.prompt_tokens,
            "prefix_tokens": self.prefix_tokens,
            "suffix_tokens": self.suffix_tokens,
            "context_tokens": self.context_tokens,
            "budget_tokens": self.budget_tokens,
            "snippets": [s.to_json() for s in self.snippets],
            "stages": [s.to_json() for s in self.stages],
        }


@dataclass(frozen=True, slots=True)
class GatheredContext:
    candidates: tuple[Snippet, ...]
    stages: tuple[StageTiming, ...]


def _suffix_budget(available: int, settings: CompletionSettings) -> int:
    share = int(available * settings.suffix_share)
    return share if settings.suffix_max_tokens is None else min(share, settings.suffix_max_tokens)


def _query_tail(prefix: str, settings: CompletionSettings) -> str:
    # Complete lines only (the line being typed too when it is the only one): the query, and so the snippets
    # and the prompt's start, stay the same while the user types on one line, and the engine's cache holds.
    lines = prefix.split("\n")
    if len(lines) > 1:
        lines.pop()
    tail = "\n".join(lines[-settings.retrieval_query_lines :])
    return tail[-settings.retrieval_query_chars :].strip()


def _retrieval_filter(
    request: CursorContext, language: LanguageSpec, settings: CompletionSettings
) -> SearchFilter:
    scope = request.scope
    exclude = scope.exclude_paths
    if request.path:
        exclude = (*exclude, (request.repo or "", request.path))
    languages = scope.languages
    if settings.retrieval_same_language and languages is None and language.name != "text":
        languages = (language.name,)
    return SearchFilter(
        repos=scope.repos, languages=languages, path_prefix=scope.path_prefix, exclude_paths=exclude
    )


async def gather_context(
    request: CursorContext,
    source: ContextSource | None,
    settings: CompletionSettings,
    *,
    started: float | None = None,
    executor: Executor | None = None,
) -> GatheredContext:
    """Symbol lookup and retrieval side by side, until the latency budget (counted from `started`, a
    `time.perf_counter()` value, default now) runs out; then the editor's snippets. All as candidates."""
    started = time.perf_counter() if started is None else started
    language = get_language(request.language, request.path)
    stages: list[StageTiming] = []
    calls: dict[str, Callable[[], Any]] = {}
    no_access = request.scope.repos is not None and len(request.scope.repos) == 0
    if source is None or no_access:
        reason = "no context source" if source is None else "caller may see no repository"
        stages += [
            StageTiming("symbols", 0.0, "skipped", reason),
            StageTiming("retrieval", 0.0, "skipped", reason),
        ]
    else:
        names: list[str] = []
        if settings.use_symbols and settings.max_identifiers and settings.symbol_limit:
            t = time.perf_counter()
            names = identifiers_near_cursor(
                request.prefix,
                request.suffix,
                language,
                lines_before=settings.identifier_lines_before,
                lines_after=settings.identifier_lines_after,
                limit=settings.max_identifiers,
            )
            stages.append(StageTiming("identifiers", (time.perf_counter() - t) * 1000, "ok", ",".join(names)))
        # The open file's imports say which definition a name means and which files its cursor calls into.
        open_file = (
            OpenFile(request.repo, request.path, request.prefix, language.name)
            if request.repo and request.path and settings.use_imports
            else None
        )
        if names:
            repos = request.scope.repos
            calls["symbols"] = lambda: source.lookup_symbols(
                names, repos=repos, limit=settings.symbol_limit, open_file=open_file
            )
        else:
            stages.append(StageTiming("symbols", 0.0, "skipped", "no identifiers near the cursor"))
        query = (
            _query_tail(request.prefix, settings) if settings.use_retrieval and settings.retrieval_k else ""
        )
        if query:
            flt = _retrieval_filter(request, language, settings)
            k = settings.retrieval_k
            calls["retrieval"] = (
                (lambda: source.search_near(query, open_file=open_file, k=k, mode="hybrid", flt=flt))
                if open_file is not None
                else (lambda: source.search(query, k=k, mode="hybrid", flt=flt))
            )
        else:
            stages.append(StageTiming("retrieval", 0.0, "skipped", "disabled or empty query"))
    remaining = settings.latency_budget_ms / 1000 - (time.perf_counter() - started)
    results, timings = await call_with_deadline(calls, timeout_s=remaining, executor=executor)
    stages += timings
    return GatheredContext(_candidates(request, results, settings), tuple(stages))


def _candidates(
    request: CursorContext, results: dict[str, Any], settings: CompletionSettings
) -> tuple[Snippet, ...]:
    current = (request.repo or "", request.path)
    repo = request.repo or ""
    limit = settings.max_snippet_lines
    out: list[Snippet] = []
    for rank, hit in enumerate(results.get("symbols", ())):
        if (hit.repo, hit.path) != current:
            out.append(
                Snippet(
                    hit.repo,
                    hit.path,
                    max(hit.start_line, 1),
                    normalize(hit.text, limit),
                    "symbol",
                    rank,
                    None,
                    hit.name,
                )
            )
    for rank, snip in enumerate(request.editor_snippets):
        if snip.path != request.path:
            out.append(
                Snippet(
                    snip.repo or repo,
                    snip.path,
                    snip.start_line or 0,
                    normalize(snip.text, limit),
                    "editor",
                    rank,
                )
            )
    for rank, hit in enumerate(results.get("retrieval", ())):
        if (hit.repo, hit.path) != current:
            out.append(
                Snippet(
                    hit.repo,
                    hit.path,
                    max(hit.start_line, 1),
                    normalize(hit.text, limit),
                    "retrieval",
                    rank,
                    hit.score,
                    hit.symbol,
                )
            )
    return tuple(order_candidates(out))


def assemble_completion_prompt(
    request: CursorContext,
    candidates: Sequence[Snippet],
    *,
    family: ModelFamily,
    count_tokens: TokenCounter,
    context_length: int,
    max_tokens: int,
    settings: CompletionSettings = CompletionSettings(),
    stages: Sequence[StageTiming] = (),
) -> BuiltPrompt:
    """The pure half of prompt building: trimming, selection, layout and rendering of given candidates."""
    count_tokens = cached_counter(count_tokens, maxsize=4096)  # lines are counted again by later steps
    watch = Stopwatch()
    language = get_language(request.language, request.path)
    budget = context_length - max_tokens - settings.reserve_tokens
    empty = PromptParts("", "", request.path, language, request.repo or None)
    with watch.stage("template"):
        overhead = count_tokens(family.render(empty))
    available = budget - overhead
    if available <= 0:
        raise PromptTooLong(
            f"max_tokens={max_tokens} leaves no room for a prompt in the model's context of "
            f"{context_length} tokens"
        )
    # Plan below the budget: the next keystrokes make the prompt a little longer, and a prompt at the budget's
    # edge would then shed a snippet at its start, which costs the engine's cache for the whole prompt.
    if available > 4 * settings.typing_headroom_tokens:
        available -= settings.typing_headroom_tokens
    with watch.stage("trim"):
        prefix, prefix_tokens = keep_outline(
            request.prefix,
            int(available * settings.prefix_share),
            count_tokens,
            language,
            anchor_lines=settings.prefix_anchor_lines,
            outline_share=settings.outline_share,
        )
        suffix, suffix_tokens = ("", 0)
        if family.uses_suffix:
            suffix, suffix_tokens = trim_suffix(
                request.suffix, _suffix_budget(available, settings), count_tokens
            )
    with watch.stage("select"):
        selection = SnippetSelection(count_tokens)
        context_budget = available - prefix_tokens - suffix_tokens
        for snippet in candidates:
            selection.offer(snippet, context_budget)
        spare = context_budget - selection.tokens
        if spare > 0 and len(prefix) < len(request.prefix):
            # Context did not need its share: a longer prefix is the next best use of it.
            prefix, prefix_tokens = keep_outline(
                request.prefix,
                prefix_tokens + spare,
                count_tokens,
                language,
                anchor_lines=settings.prefix_anchor_lines,
                outline_share=settings.outline_share,
            )
    with watch.stage("render"):
        kept = len(selection.accepted)
        parts = PromptParts(
            prefix, suffix, request.path, language, request.repo or None, selection.blocks(language, kept)
        )
        prompt = family.render(parts)
        total = count_tokens(prompt)
        # Token counts do not add up exactly across boundaries: shed context, then prefix, until it fits.
        while total > budget:
            over = total - budget
            if kept > 0:
                kept -= 1
            elif prefix:
                prefix, prefix_tokens = trim_prefix(prefix, max(prefix_tokens - over, 0), count_tokens)
            elif suffix:
                suffix, suffix_tokens = trim_suffix(suffix, max(suffix_tokens - over, 0), count_tokens)
            else:
                raise PromptTooLong(f"the prompt template alone does not fit in {budget} tokens")
            parts = PromptParts(
                prefix, suffix, request.path, language, request.repo or None, selection.blocks(language, kept)
            )
            prompt = family.render(parts)
            total = count_tokens(prompt)
    mode = request.mode or completion_mode(request.prefix, request.suffix, language)
    stop = tuple(dict.fromkeys((*family.stop_tokens, *mode_stop_sequences(request.prefix, mode, language))))
    used = selection.used(kept)
    return BuiltPrompt(
        prompt=prompt,
        stop=stop,
        mode=mode,
        family=family.name,
        prefix=prefix,
        suffix=suffix,
        snippets=used,
        stages=(*stages, *watch.stages),
        prompt_tokens=total,
        prefix_tokens=prefix_tokens,
        suffix_tokens=suffix_tokens,
        context_tokens=sum(s.tokens for s in used),
        budget_tokens=budget,
        affinity_key=f"{request.repo or ''}:{request.path}",
    )


async def build_completion_prompt(
    request: CursorContext,
    *,
    family: ModelFamily,
    count_tokens: TokenCounter,
    context_length: int,
    max_tokens: int,
    source: ContextSource | None = None,
    settings: CompletionSettings = CompletionSettings(),
    executor: Executor | None = None,
) -> BuiltPrompt:
    """Gather context within the latency budget, then assemble the prompt. Raises PromptTooLong when
    `max_tokens` leaves no room for a prompt."""
    started = time.perf_counter()
    if context_length - max_tokens <= 0:
        raise PromptTooLong(
            f"max_tokens={max_tokens} must be below the model's context length {context_length}"
        )
    gathered = await gather_context(request, source, settings, started=started, executor=executor)
    return assemble_completion_prompt(
        request,
        gathered.candidates,
        family=family,
        count_tokens=count_tokens,
        context_length=context_length,
        max_tokens=max_tokens,
        settings=settings,
        stages=gathered.stages,
    )


__all__ = [
    "BuiltPrompt",
    "CursorContext",
    "CompletionSettings",
    "EditorSnippet",
    "GatheredContext",
    "assemble_completion_prompt",
    "build_completion_prompt",
    "gather_context",
]
