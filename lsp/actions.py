"""Code actions on a selection — Explain, Add docstring, Write tests, Fix — answered by the chat endpoint.

`textDocument/codeAction` offers them as commands (cheap: nothing is asked of the model until one is picked);
`workspace/executeCommand` runs one. Edits travel as `WorkspaceEdit`s through `workspace/applyEdit`;
explanations open as a Markdown document through `window/showDocument` where the client supports it, else
as a `window/showMessage`. Every command also returns its result, so an extension can show it its own way."""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument

from lsp.action_edits import Refused, check_code, docstring_insertion, refuse_cut_off
from lsp.action_prompts import ACTIONS, Action, extract_code, messages_for, reindent, where_tests_go
from lsp.bridge import Bridge
from lsp.documents import language_of, relative_path
from lsp.errors import BridgeError

__all__ = ["register", "code_actions"]

_ANNOTATION = "codemoat"

CHAT_TIMEOUT_S = 300.0


def code_actions(params: types.CodeActionParams) -> list[types.CodeAction]:
    """The actions for a selection; none for a bare cursor unless a diagnostic there asks for a fix."""
    selection = params.range
    diagnostics = list(params.context.diagnostics or [])
    empty = selection.start == selection.end
    if empty and not diagnostics:
        return []
    if empty:
        selection = diagnostics[0].range
    argument = {
        "uri": params.text_document.uri,
        "range": {
            "start": {"line": selection.start.line, "character": selection.start.character},
            "end": {"line": selection.end.line, "character": selection.end.character},
        },
        "diagnostics": [d.message for d in diagnostics],
    }
    kinds = {
        "explain": types.CodeActionKind.Empty,
        "docstring": types.CodeActionKind.RefactorRewrite,
        "tests": types.CodeActionKind.Source,
        "fix": types.CodeActionKind.QuickFix,
    }
    wanted = set(params.context.only or [])
    actions = []
    for action in ACTIONS.values():
        if empty and action.name != "fix":
            continue
        kind = kinds[action.name]
        if wanted and not any(kind == w or str(kind).startswith(f"{w}.") for w in wanted):
            continue
        actions.append(
            types.CodeAction(
                title=action.title,
                kind=kind,
                diagnostics=diagnostics if action.name == "fix" else None,
                command=types.Command(title=action.title, command=action.command, arguments=[argument]),
            )
        )
    return actions


def _range(raw: dict[str, Any]) -> types.Range:
    return types.Range(
        start=types.Position(line=int(raw["start"]["line"]), character=int(raw["start"]["character"])),
        end=types.Position(line=int(raw["end"]["line"]), character=int(raw["end"]["character"])),
    )


def _end_of(text: str) -> types.Position:
    lines = text.split("\n")
    return types.Position(line=len(lines) - 1, character=len(lines[-1].encode("utf-16-le")) // 2)


class ActionRunner:
    def __init__(self, server: LanguageServer, bridge: Bridge) -> None:
        self.server = server
        self.bridge = bridge
        self._explanations = Path(tempfile.gettempdir()) / "codemoat-lsp"

    def _capabilities(self) -> types.ClientCapabilities:
        return self.server.client_capabilities

    def _supports_show_document(self) -> bool:
        window = self._capabilities().window
        return bool(window and window.show_document and window.show_document.support)

    def _supports_document_changes(self) -> tuple[bool, bool]:
        workspace = self._capabilities().workspace
        edit = workspace.workspace_edit if workspace else None
        if edit is None:
            return False, False
        create = types.ResourceOperationKind.Create in (edit.resource_operations or [])
        return bool(edit.document_changes), bool(edit.document_changes) and create

    async def run(self, action: Action, argument: dict[str, Any]) -> dict[str, Any] | None:
        uri = str(argument["uri"])
        document = self.server.workspace.get_text_document(uri)
        selection = _range(argument["range"])
        code = document.source[
            document.offset_at_position(selection.start) : document.offset_at_position(selection.end)
        ]
        if not code.strip():
            self.bridge.info(f"{action.title}: select some code first")
            return None
        roots = self.bridge.roots()
        path = relative_path(uri, roots)
        language = language_of(uri, document.language_id)
        messages = messages_for(
            action, code=code, language=language, path=path, diagnostics=argument.get("diagnostics") or ()
        )
        try:
            async with asyncio.timeout(CHAT_TIMEOUT_S):
                answer = await self.bridge.client().chat(
                    messages, max_tokens=self.bridge.config.chat_max_tokens
                )
        except TimeoutError:
            self.bridge.info(f"{action.title}: the appliance did not answer within {CHAT_TIMEOUT_S:.0f} s")
            return None
        except BridgeError as exc:
            # Asked for explicitly: always say why it failed (one message per click is no flood).
            self.server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Error, message=exc.message)
            )
            return None
        self.bridge.reporter.recovered()
        if action.result == "explanation":
            return await self._explain(action, answer.text, path, selection)
        written = extract_code(answer.text)
        refused = refuse_cut_off(answer.finish_reason)
        if refused is None and action.name == "docstring":
            insertion = docstring_insertion(code, written, language)
            if isinstance(insertion, Refused):
                refused = insertion
            else:
                at = types.Position(line=selection.start.line + insertion.line, character=0)
                edit = self._edit(
                    document,
                    [types.TextEdit(range=types.Range(start=at, end=at), new_text=insertion.text)],
                )
                return await self._apply(action, edit, answer.text)
        if refused is None:
            refused = check_code(written, language)
        if refused is not None:
            self.bridge.info(f"{action.title}: {refused.reason}")
            return {"kind": "edit", "applied": False, "answer": answer.text, "reason": refused.reason}
        if action.result == "replace":
            new_code = reindent(written, code)
            if not code.endswith("\n"):
                new_code = new_code.rstrip("\n")
            edit = self._edit(document, [types.TextEdit(range=selection, new_text=new_code)])
            return await self._apply(action, edit, answer.text)
        return await self._tests(action, document, path, language, written)

    def _supports_annotations(self) -> bool:
        workspace = self._capabilities().workspace
        edit = workspace.workspace_edit if workspace else None
        return bool(edit and edit.document_changes and edit.change_annotation_support)

    def _edit_uri(self, uri: str, version: int | None, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
        document_changes, _ = self._supports_document_changes()
        if document_changes:
            identifier = types.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version)
            return types.WorkspaceEdit(
                document_changes=[types.TextDocumentEdit(text_document=identifier, edits=edits)]
            )
        return types.WorkspaceEdit(changes={uri: edits})

    def _edit(self, document: TextDocument, edits: list[types.TextEdit]) -> types.WorkspaceEdit:
        return self._edit_uri(document.uri, document.version, edits)

    def _for_confirmation(self, action: Action, edit: types.WorkspaceEdit) -> types.WorkspaceEdit:
        """Clients that support it (LSP 3.16 change annotations) show the model's edit before applying it."""
        if not self._supports_annotations() or not edit.document_changes:
            return edit
        changes: list[Any] = []
        for change in edit.document_changes:
            if isinstance(change, types.TextDocumentEdit):
                annotated = [
                    types.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=_ANNOTATION)
                    for e in change.edits
                ]
                change = types.TextDocumentEdit(text_document=change.text_document, edits=annotated)
            changes.append(change)
        label = types.ChangeAnnotation(
            label=action.title, needs_confirmation=True, description="written by the code model"
        )
        return types.WorkspaceEdit(document_changes=changes, change_annotations={_ANNOTATION: label})

    async def _apply(self, action: Action, edit: types.WorkspaceEdit, answer: str) -> dict[str, Any]:
        result = await self.server.workspace_apply_edit_async(
            types.ApplyWorkspaceEditParams(edit=self._for_confirmation(action, edit), label=action.title)
        )
        if not result.applied:
            self.bridge.info(
                f"{action.title}: the editor did not apply the edit ({result.failure_reason or 'refused'})"
            )
        return {"kind": "edit", "applied": bool(result.applied), "answer": answer}

    async def _explain(self, action: Action, text: str, path: str, selection: types.Range) -> dict[str, Any]:
        result: dict[str, Any] = {"kind": "explanation", "text": text}
        if self._supports_show_document():
            self._explanations.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha1(f"{path}:{selection}".encode()).hexdigest()[:8]
            target = self._explanations / f"explain-{Path(path).stem or 'selection'}-{digest}.md"
            target.write_text(
                f"# {path}, lines {selection.start.line + 1}–{selection.end.line + 1}\n\n{text}\n"
            )
            uri = from_fs_path(str(target)) or target.as_uri()
            shown = await self.server.window_show_document_async(
                types.ShowDocumentParams(uri=uri, take_focus=True)
            )
            result["uri"] = uri
            if shown.success:
                return result
        self.server.window_show_message(types.ShowMessageParams(type=types.MessageType.Info, message=text))
        return result

    def _current_text(self, uri: str) -> str | None:
        """The text of `uri` as the editor has it (open) or as it is on disk; None when it does not exist."""
        open_document = self.server.workspace.text_documents.get(uri)
        if open_document is not None:
            return open_document.source
        fs_path = to_fs_path(uri)
        if fs_path and Path(fs_path).is_file():
            return Path(fs_path).read_text(encoding="utf-8", errors="replace")
        return None

    @staticmethod
    def _append(text: str, code: str) -> types.TextEdit:
        at = _end_of(text)
        separator = "" if not text or text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
        return types.TextEdit(range=types.Range(start=at, end=at), new_text=separator + code)

    async def _tests(
        self, action: Action, document: TextDocument, path: str, language: str, code: str
    ) -> dict[str, Any]:
        """Tests go to the conventional test file next to the source: appended when it exists, created when the
        client can create files; otherwise they are shown for the developer to paste."""
        if not code.strip():
            self.bridge.info(f"{action.title}: the model wrote no test code")
            return {"kind": "edit", "applied": False, "answer": ""}
        fs_path = to_fs_path(document.uri) if document.uri.startswith("file:") else None
        if fs_path is not None:
            target = Path(fs_path).with_name(where_tests_go(path, language))
            target_uri = from_fs_path(str(target)) or target.as_uri()
            existing = self._current_text(target_uri)
            if existing is not None:
                edit = self._edit_uri(target_uri, None, [self._append(existing, code)])
                return {**await self._apply(action, edit, code), "uri": target_uri}
            if self._supports_document_changes()[1]:
                origin = types.Position(line=0, character=0)
                edit = types.WorkspaceEdit(
                    document_changes=[
                        types.CreateFile(
                            uri=target_uri, options=types.CreateFileOptions(ignore_if_exists=True)
                        ),
                        types.TextDocumentEdit(
                            text_document=types.OptionalVersionedTextDocumentIdentifier(
                                uri=target_uri, version=None
                            ),
                            edits=[
                                types.TextEdit(range=types.Range(start=origin, end=origin), new_text=code)
                            ],
                        ),
                    ]
                )
                outcome = await self._apply(action, edit, code)
                if outcome["applied"] and self._supports_show_document():
                    await self.server.window_show_document_async(types.ShowDocumentParams(uri=target_uri))
                return {**outcome, "uri": target_uri}
        # Never into the module under test: without a file to put them in, the tests are shown, not written.
        name = where_tests_go(path, language)
        self.server.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Info,
                message=f"{action.title}: create {name} (your editor cannot create files from here), "
                f"then paste:\n\n{code}",
            )
        )
        return {"kind": "edit", "applied": False, "answer": code, "reason": f"cannot create {name}"}


def register(server: LanguageServer, bridge: Bridge) -> None:
    runner = ActionRunner(server, bridge)

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[
                types.CodeActionKind.QuickFix,
                types.CodeActionKind.RefactorRewrite,
                types.CodeActionKind.Source,
            ]
        ),
    )
    def code_action(params: types.CodeActionParams) -> list[types.CodeAction]:
        return code_actions(params)

    for command, action in ACTIONS.items():

        def make(action: Action):
            async def handler(*arguments: Any) -> dict[str, Any] | None:
                if not arguments or not isinstance(arguments[0], dict) or "uri" not in arguments[0]:
                    bridge.info(f"{action.title}: expected an argument with `uri` and `range`")
                    return None
                return await runner.run(action, arguments[0])

            return handler

        server.command(command)(make(action))
