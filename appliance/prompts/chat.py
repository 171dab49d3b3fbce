"""Chat context: retrieve code for the question (and for code the user pasted), number it as sources in a
system message, and fit the conversation into the model's context by dropping the oldest turns.

    build_chat_prompt(messages, source=index, scope=..., count_tokens=..., context_length=..., max_tokens=...)
        -> BuiltChat(messages, citations, stages, prompt_tokens, dropped_messages)

Each retrieval query (the question's prose, each pasted block) runs side by side within the latency budget;
their hits are fused by reciprocal rank (a chunk several queries found comes first), and a hit overlapping one
already taken (same file, overlapping lines) is dropped. Sources are numbered in that order: `[1] repo/path:10-42`,
and `citations` carries the same numbers for the response and the stream."""

from __future__ import annotations

import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict, Field

from appliance.prompts.errors import PromptError, PromptTooLong
from appliance.prompts.languages import get_language
from appliance.prompts.snippets import normalize
from appliance.prompts.sources import ContextSource, StageTiming, call_with_deadline
from indexer.types import Hit, SearchFilter

TokenCounter = Callable[[str], int]

DEFAULT_INSTRUCTIONS = (
    "You are CodeMoat, a coding assistant for the user's own repositories. Answer the question using the "
    "numbered sources below when they are relevant, and cite each source you use inline as [n]. If the "
    "sources do not answer the question, say so and answer from general knowledge. Be concise and show code "
    "where it helps."
)
_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_RRF_K = 60  # reciprocal rank fusion constant (the original paper's value, as in the indexer)
_ROLES = {"system", "user", "assistant"}


class ChatSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    instructions: str = DEFAULT_INSTRUCTIONS
    source_share: float = Field(0.5, ge=0, le=1)  # at most this share of the prompt budget goes to sources
    k_per_query: int = Field(8, ge=0)
    max_sources: int = Field(8, ge=0)
    max_code_queries: int = Field(3, ge=0)
    max_question_chars: int = Field(1000, ge=16)
    max_code_query_lines: int = Field(40, ge=1)
    max_source_lines: int = Field(80, ge=1)
    preview_chars: int = Field(160, ge=0)
    latency_budget_ms: float = Field(250.0, ge=0)
    message_overhead_tokens: int = Field(4, ge=0)  # role markers the chat template adds around each message
    reserve_tokens: int = Field(8, ge=0)  # the template's generation prompt and special tokens


@dataclass(frozen=True, slots=True)
class Citation:
    index: int
    repo: str
    path: str
    start_line: int
    end_line: int
    preview: str

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "repo": self.repo,
            "path": self.path,
            "start_line": self.start_line,
            "end_line": self.end_line,
            "preview": self.preview,
        }


@dataclass(frozen=True, slots=True)
class BuiltChat:
    messages: tuple[dict[str, str], ...]  # system message with sources first, then the kept conversation
    citations: tuple[Citation, ...]
    stages: tuple[StageTiming, ...]
    prompt_tokens: int  # estimate: content tokens plus `message_overhead_tokens` per message
    dropped_messages: int
    context_note: str | None = None  # why no repository source is in the prompt; None when some are


# Words of a message that asks nothing of the code: a greeting, thanks, an acknowledgement.
_SMALL_TALK = frozenset(
    "hi hello hey hiya howdy yo thanks thank you thx ty cheers ok okay k cool great nice perfect awesome good "
    "morning afternoon evening night bye goodbye see later please yes no yep nope sure lol welcome much very so "
    "got it that helps helped works worked".split()
)


def is_small_talk(question: str) -> bool:
    """Whether a message is only greetings and courtesies ("hi", "thanks, that works!"): retrieval for it would
    spend a thousand prompt tokens on sources nobody asked about. Anything else counts as a question about code."""
    words = re.findall(r"\w+", question.lower())
    return bool(words) and len(words) <= 8 and "`" not in question and all(w in _SMALL_TALK for w in words)


def message_text(message: Mapping[str, Any], index: int) -> tuple[str, str]:
    """(role, text) of an OpenAI chat message; content may be a string or a list of text parts."""
    role = message.get("role")
    if role not in _ROLES:
        raise PromptError(f"messages[{index}].role must be one of system, user, assistant", param="messages")
    content = message.get("content")
    if isinstance(content, str):
        return role, content
    if isinstance(content, list):
        texts = []
        for part in content:
            if (
                not isinstance(part, Mapping)
                or part.get("type") != "text"
                or not isinstance(part.get("text"), str)
            ):
                raise PromptError(f"messages[{index}].content parts must be text parts", param="messages")
            texts.append(part["text"])
        return role, "\n".join(texts)
    if content is None and role == "assistant":
        return role, ""
    raise PromptError(f"messages[{index}].content must be a string or a list of text parts", param="messages")


def retrieval_queries(question: str, settings: ChatSettings) -> list[str]:
    """The question's prose (code blocks removed), then each pasted code block."""
    blocks = [b.strip("\n") for b in _FENCE.findall(question) if b.strip()]
    prose = " ".join(_FENCE.sub(" ", question).split())[: settings.max_question_chars]
    queries = [prose] if prose else []
    for block in blocks[: settings.max_code_queries]:
        queries.append("\n".join(block.split("\n")[: settings.max_code_query_lines]))
    return queries


def fuse(result_lists: Sequence[Sequence[Hit]], limit: int) -> list[Hit]:
    """Reciprocal rank fusion over the queries' hit lists, then drop hits overlapping a better one."""
    scores: dict[tuple[str, str, int, int], float] = {}
    first_seen: dict[tuple[str, str, int, int], Hit] = {}
    for hits in result_lists:
        for rank, hit in enumerate(hits):
            key = (hit.repo, hit.path, hit.start_line, hit.end_line)
            scores[key] = scores.get(key, 0.0) + 1.0 / (_RRF_K + rank + 1)
            first_seen.setdefault(key, hit)
    ordered = sorted(scores, key=lambda key: (-scores[key], key))
    taken: list[Hit] = []
    for key in ordered:
        hit = first_seen[key]
        if any(
            h.repo == hit.repo
            and h.path == hit.path
            and h.start_line <= hit.end_line
            and hit.start_line <= h.end_line
            for h in taken
        ):
            continue
        taken.append(hit)
        if len(taken) >= limit:
            break
    return taken


def _preview(text: str, chars: int) -> str:
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    preview = " ".join(lines)
    return preview if len(preview) <= chars else preview[: max(chars - 1, 0)].rstrip() + "…"


def _source_block(index: int, hit: Hit, text: str, end_line: int) -> str:
    lang = get_language(hit.language, hit.path).name
    fence = "" if lang == "text" else lang
    return f"[{index}] {hit.repo}/{hit.path}:{hit.start_line}-{end_line}\n```{fence}\n{text}\n```"


async def build_chat_prompt(
    messages: Sequence[Mapping[str, Any]],
    *,
    count_tokens: TokenCounter,
    context_length: int,
    max_tokens: int,
    source: ContextSource | None = None,
    scope: SearchFilter = SearchFilter(),
    settings: ChatSettings = ChatSettings(),
    executor: Executor | None = None,
    retrieve: bool | None = None,
) -> BuiltChat:
    """`retrieve`: True always searches the repositories, False never, None when the question is not small talk."""
    if not messages:
        raise PromptError("messages must not be empty", param="messages")
    turns = [message_text(m, i) for i, m in enumerate(messages)]
    user_indexes = [i for i, (role, _) in enumerate(turns) if role == "user"]
    if not user_indexes:
        raise PromptError("messages must contain a user message", param="messages")
    last_user = user_indexes[-1]
    question = turns[last_user][1]
    budget = context_length - max_tokens - settings.reserve_tokens
    overhead = settings.message_overhead_tokens

    stages: list[StageTiming] = []
    hit_lists: list[Sequence[Hit]] = []
    no_access = scope.repos is not None and len(scope.repos) == 0
    queries = retrieval_queries(question, settings) if settings.k_per_query and settings.max_sources else []
    skipped: str | None = None
    if retrieve is False:
        skipped = "the client turned repository context off (codemoat.context: false)"
    elif retrieve is None and is_small_talk(question):
        skipped = "the message does not ask about code"
    elif source is None:
        skipped = "no repository is indexed"
    elif no_access:
        skipped = "the caller may read no repository"
    elif not queries:
        skipped = "the message has nothing to search for"
    if skipped is not None:
        stages.append(StageTiming("retrieval", 0.0, "skipped", skipped))
    else:
        calls = {
            f"retrieval[{i}]": (
                lambda q=q: source.search(q, k=settings.k_per_query, mode="hybrid", flt=scope)
            )
            for i, q in enumerate(queries)
        }
        results, timings = await call_with_deadline(
            calls, timeout_s=settings.latency_budget_ms / 1000, executor=executor
        )
        stages += timings
        hit_lists = [results[name] for name in calls if name in results]

    t = time.perf_counter()
    client_system = "\n\n".join(text for role, text in turns if role == "system" and text.strip())
    conversation = [(role, text) for role, text in turns if role != "system"]
    # The last user message and anything after it (an assistant prefix to continue) are never dropped.
    keep_from = sum(1 for role, _ in turns[:last_user] if role != "system")
    header = settings.instructions + ("\n\n" + client_system if client_system else "")
    must_keep = (
        count_tokens(header)
        + overhead
        + sum(count_tokens(text) + overhead for _, text in conversation[keep_from:])
    )
    if must_keep > budget:
        raise PromptTooLong(
            f"the last message does not fit in the model's context ({context_length} tokens, "
            f"{max_tokens} reserved for the answer)",
            param="messages",
        )
    source_budget = min(int(budget * settings.source_share), budget - must_keep)
    blocks: list[str] = []
    citations: list[Citation] = []
    used = 0
    for hit in fuse(hit_lists, settings.max_sources):
        text = normalize(hit.text, settings.max_source_lines)
        end_line = hit.start_line + text.count("\n")  # what is shown, not what was indexed
        block = _source_block(len(citations) + 1, hit, text, end_line)
        cost = count_tokens(block) + 2
        if not text or used + cost > source_budget:
            continue
        used += cost
        blocks.append(block)
        citations.append(
            Citation(
                len(citations) + 1,
                hit.repo,
                hit.path,
                hit.start_line,
                end_line,
                _preview(text, settings.preview_chars),
            )
        )
    if blocks:
        sources_text = "Sources:\n\n" + "\n\n".join(blocks)
    elif skipped is not None:
        sources_text = "No repository sources were looked up for this message."
    else:
        sources_text = "No repository sources matched."
    system = f"{header}\n\n{sources_text}"
    total = (
        count_tokens(system)
        + overhead
        + sum(count_tokens(text) + overhead for _, text in conversation[keep_from:])
    )
    first = keep_from
    while first > 0:
        cost = count_tokens(conversation[first - 1][1]) + overhead
        if total + cost > budget:
            break
        total += cost
        first -= 1
    kept = [{"role": "system", "content": system}] + [
        {"role": r, "content": c} for r, c in conversation[first:]
    ]
    stages.append(StageTiming("assemble", (time.perf_counter() - t) * 1000))
    note = None if citations else skipped or "no repository source matched the question"
    return BuiltChat(tuple(kept), tuple(citations), tuple(stages), total, first, note)


__all__ = [
    "BuiltChat",
    "ChatSettings",
    "Citation",
    "build_chat_prompt",
    "fuse",
    "is_small_talk",
    "message_text",
    "retrieval_queries",
]
