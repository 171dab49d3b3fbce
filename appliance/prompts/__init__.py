"""Prompt building for the gateway: model-family templates, repository-aware completion context, post-processing
of completions, and chat context with citations. Pure functions over plain records; context sources (the
indexer's `CodeIndex`) come in through the small `ContextSource` protocol."""

from appliance.prompts.chat import BuiltChat, ChatSettings, Citation, build_chat_prompt
from appliance.prompts.completion import (
    BuiltPrompt,
    CompletionSettings,
    CursorContext,
    EditorSnippet,
    assemble_completion_prompt,
    build_completion_prompt,
    gather_context,
)
from appliance.prompts.errors import PromptError, PromptTooLong, UnknownModelFamily
from appliance.prompts.families import (
    ContextBlock,
    ModelFamily,
    PromptParts,
    family_for_model,
    family_names,
    get_family,
    register_family,
)
from appliance.prompts.languages import LanguageSpec, get_language
from appliance.prompts.postprocess import CompletionMode, completion_mode, postprocess_completion
from appliance.prompts.snippets import Snippet, UsedSnippet
from appliance.prompts.sources import ContextSource, StageTiming, SymbolRecord
from appliance.prompts.trimming import cached_counter

__all__ = [
    "BuiltChat",
    "BuiltPrompt",
    "ChatSettings",
    "Citation",
    "CompletionMode",
    "CursorContext",
    "CompletionSettings",
    "ContextBlock",
    "ContextSource",
    "EditorSnippet",
    "LanguageSpec",
    "ModelFamily",
    "PromptError",
    "PromptParts",
    "PromptTooLong",
    "Snippet",
    "StageTiming",
    "SymbolRecord",
    "UnknownModelFamily",
    "UsedSnippet",
    "assemble_completion_prompt",
    "build_chat_prompt",
    "build_completion_prompt",
    "completion_mode",
    "family_for_model",
    "family_names",
    "gather_context",
    "get_family",
    "get_language",
    "cached_counter",
    "postprocess_completion",
    "register_family",
]
