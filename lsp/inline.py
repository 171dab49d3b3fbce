"""`textDocument/inlineCompletion` (LSP 3.18: ghost text in VS Code, Neovim 0.11+, JetBrains) and
`textDocument/completion`, the fallback for clients without inline completion (Neovim 0.7–0.10, Helix, older
Emacs set-ups), which shows the suggestion as one item of the completion menu.

Both carry the command `codemoat.accepted` with the completion id: clients run an item's command when it is
accepted, which is how acceptance reaches the telemetry."""

from __future__ import annotations

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.workspace.position_codec import ServerTextPosition

from lsp.bridge import Bridge
from lsp.completer import Suggestion

__all__ = ["register", "inline_items", "completion_items", "ACCEPTED_COMMAND"]

ACCEPTED_COMMAND = "codemoat.accepted"
TRIGGER_CHARACTERS = [".", "(", "[", "{", ",", ":", "=", " "]


def _accept_command(suggestion: Suggestion) -> types.Command:
    return types.Command(
        title="CodeMoat: accepted", command=ACCEPTED_COMMAND, arguments=[suggestion.completion_id]
    )


def inline_items(suggestion: Suggestion | None, position: types.Position) -> types.InlineCompletionList:
    if suggestion is None or not suggestion.text.strip():
        return types.InlineCompletionList(items=[])
    return types.InlineCompletionList(
        items=[
            types.InlineCompletionItem(
                insert_text=suggestion.text,
                range=types.Range(start=position, end=position),
                command=_accept_command(suggestion),
            )
        ]
    )


def _word_before(line: str, character: int) -> str:
    start = character
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] == "_"):
        start -= 1
    return line[start:character]


def completion_items(
    suggestion: Suggestion | None, word: str, word_range: types.Range
) -> types.CompletionList:
    """One item whose edit replaces the identifier being typed (`word`, at `word_range`) with itself plus the
    suggestion, so clients that filter by the word before the cursor keep it."""
    if suggestion is None or not suggestion.text.strip():
        return types.CompletionList(is_incomplete=True, items=[])
    new_text = word + suggestion.text
    first_line = new_text.strip("\n").split("\n", 1)[0]
    label = first_line.strip() if len(first_line) <= 80 else first_line.strip()[:77] + "..."
    return types.CompletionList(
        # Incomplete: the next keystroke must ask again (the cache answers at once when it can).
        is_incomplete=True,
        items=[
            types.CompletionItem(
                label=label or new_text.strip()[:80],
                kind=types.CompletionItemKind.Snippet,
                detail="CodeMoat",
                documentation=types.MarkupContent(
                    kind=types.MarkupKind.Markdown, value=f"```{suggestion.language}\n{new_text}\n```"
                ),
                filter_text=new_text,
                sort_text="0",
                preselect=True,
                insert_text_format=types.InsertTextFormat.PlainText,
                text_edit=types.TextEdit(range=word_range, new_text=new_text),
                command=_accept_command(suggestion),
            )
        ],
    )


def register(server: LanguageServer, bridge: Bridge) -> None:
    @server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
    async def inline_completion(params: types.InlineCompletionParams) -> types.InlineCompletionList:
        await bridge.settled()
        document = server.workspace.get_text_document(params.text_document.uri)
        invoked = params.context.trigger_kind == types.InlineCompletionTriggerKind.Invoked
        suggestion = await bridge.completer.suggest(document, params.position, invoked=invoked)
        return inline_items(suggestion, params.position)

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS)
    )
    async def completion(params: types.CompletionParams) -> types.CompletionList:
        await bridge.settled()
        document = server.workspace.get_text_document(params.text_document.uri)
        invoked = params.context is None or params.context.trigger_kind == types.CompletionTriggerKind.Invoked
        suggestion = await bridge.completer.suggest(document, params.position, invoked=invoked)
        at = document.position_from_client_units(params.position)
        lines = document.lines
        word = _word_before(lines[at.line] if at.line < len(lines) else "", at.character)
        start = document.position_to_client_units(ServerTextPosition(at.line, at.character - len(word)))
        return completion_items(suggestion, word, types.Range(start=start, end=params.position))

    @server.command(ACCEPTED_COMMAND)
    def accepted(completion_id: str) -> None:
        bridge.telemetry.accepted(str(completion_id))
