"""`codemoat-lsp` driven by a real LSP client (pytest-lsp) against a real `codemoat serve` on the CPU engine."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from lsprotocol import types

from tests.lsp.harness import Appliance, Relay, free_port

pytestmark = pytest.mark.slow

SOURCE = 'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n    if n'
CURSOR = types.Position(line=2, character=8)
MAX_TOKENS = 8
FAST = {"maxTokens": MAX_TOKENS, "timeoutMs": 60000, "debounceMs": 0, "debounceMaxMs": 0, "chatMaxTokens": 24}


def _options(appliance: Appliance, **extra: object) -> dict[str, object]:
    return {"url": appliance.url, "token": appliance.token, **FAST, **extra}


def _direct_completion(appliance: Appliance, prefix: str, suffix: str, path: str) -> str:
    """What the appliance answers to the same request, asked without the bridge."""
    response = httpx.post(
        f"{appliance.url}/v1/completions",
        headers={"Authorization": f"Bearer {appliance.token}"},
        json={
            "prompt": prefix,
            "suffix": suffix,
            "max_tokens": MAX_TOKENS,
            "temperature": 0.0,
            "path": path,
            "language": "python",
            "snippets": [],
        },
        timeout=120,
    )
    response.raise_for_status()
    return response.json()["choices"][0]["text"]


async def test_inline_completion_comes_from_the_model(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    bridge = await open_bridge(init_options=_options(appliance))
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    result = await bridge.inline(uri, CURSOR)
    assert len(result.items) == 1
    item = result.items[0]
    assert isinstance(item.insert_text, str) and item.insert_text.strip()
    assert item.range == types.Range(start=CURSOR, end=CURSOR)
    assert item.command is not None and item.command.command == "codemoat.accepted"
    # Greedy decoding: the same prompt straight to the appliance gives the same text.
    assert item.insert_text == _direct_completion(appliance, SOURCE, "", "fib.py")
    stats = await bridge.stats()
    assert (stats["sent"], stats["shown"], stats["errors"]) == (1, 1, 0)
    assert bridge.client.messages == []


async def test_completion_fallback_for_clients_without_inline(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    bridge = await open_bridge(init_options=_options(appliance))
    uri = (workspace / "fib.py").as_uri()
    text = SOURCE + " < 2:\n        return n\n    return fib"
    bridge.open(uri, text)
    position = types.Position(line=4, character=len("    return fib"))
    result = await bridge.client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=position)
    )
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    assert len(result.items) == 1
    item = result.items[0]
    expected = "fib" + _direct_completion(appliance, text, "", "fib.py")
    assert isinstance(item.text_edit, types.TextEdit)
    assert item.text_edit.new_text == expected
    assert item.text_edit.range == types.Range(start=types.Position(line=4, character=11), end=position)
    assert item.label and expected.strip().startswith(item.label.rstrip(".")[:10])


async def test_cancel_request_cancels_the_upstream_request(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    relay = await Relay(target_port=int(appliance.url.rsplit(":", 1)[1]), hold_answers=True).start()
    try:
        bridge = await open_bridge(
            init_options=_options(appliance, url=f"http://127.0.0.1:{relay.port}", maxTokens=400)
        )
        uri = (workspace / "fib.py").as_uri()
        bridge.open(uri, SOURCE)
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            position=CURSOR,
            context=types.InlineCompletionContext(trigger_kind=types.InlineCompletionTriggerKind.Invoked),
        )
        future = bridge.client.protocol.send_request(
            types.TEXT_DOCUMENT_INLINE_COMPLETION, params, msg_id="slow-1"
        )
        await asyncio.wait_for(relay.requests_seen.wait(), 30)
        bridge.client.protocol.notify(types.CANCEL_REQUEST, types.CancelParams(id="slow-1"))
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(
                asyncio.wrap_future(future) if not asyncio.isfuture(future) else future, 30
            )
        # The bridge hung up on the appliance before any answer: generation upstream stops.
        await asyncio.wait_for(relay.abandoned.wait(), 10)
        assert relay.abandoned_count == 1
        stats = await bridge.stats()
        assert stats["cancelled_upstream"] == 1 and stats["shown"] == 0
    finally:
        await relay.stop()


async def test_a_newer_keystroke_supersedes_the_older_request(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    bridge = await open_bridge(init_options=_options(appliance, debounceMs=150, debounceMaxMs=150))
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    first = asyncio.ensure_future(bridge.inline(uri, CURSOR, invoked=False))
    bridge.type_at(uri, 2, CURSOR, "r")
    after = types.Position(line=2, character=5)
    second = asyncio.ensure_future(bridge.inline(uri, after, invoked=False))
    older, newer = await asyncio.gather(first, second)
    assert len(older.items) == 0  # an empty answer, not an error
    assert len(newer.items) == 1
    stats = await bridge.stats()
    assert stats["superseded"] >= 1 and stats["sent"] == 1


async def test_typing_the_suggestion_is_served_from_the_cache(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    bridge = await open_bridge(init_options=_options(appliance))
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    suggestion = (await bridge.inline(uri, CURSOR)).items[0].insert_text
    assert isinstance(suggestion, str)
    typed = suggestion[: min(6, len(suggestion) - 1)]
    assert "\n" not in typed or typed.index("\n") == len(typed) - 1 or True
    line, character, version = CURSOR.line, CURSOR.character, 1
    for i, char in enumerate(typed, start=1):
        version += 1
        bridge.type_at(uri, version, types.Position(line=line, character=character), char)
        if char == "\n":
            line, character = line + 1, 0
        else:
            character += 1
        result = await bridge.inline(uri, types.Position(line=line, character=character), invoked=False)
        assert [item.insert_text for item in result.items] == [suggestion[i:]]
    stats = await bridge.stats()
    assert stats["sent"] == 1
    assert stats["cache_hits"] == len(typed)


async def test_code_actions_explain_and_rewrite(appliance: Appliance, open_bridge, workspace: Path) -> None:
    bridge = await open_bridge(init_options=_options(appliance, chatMaxTokens=160))
    path = workspace / "mathx.py"
    text = "def square(x):\n    return x * x\n"
    path.write_text(text)
    uri = path.as_uri()
    bridge.open(uri, text)
    selection = types.Range(
        start=types.Position(line=0, character=0), end=types.Position(line=2, character=0)
    )
    actions = await bridge.client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    assert actions is not None
    titles = {a.title: a for a in actions if isinstance(a, types.CodeAction)}
    assert set(titles) == {
        "CodeMoat: Explain",
        "CodeMoat: Add docstring",
        "CodeMoat: Write tests",
        "CodeMoat: Fix",
    }

    explain = titles["CodeMoat: Explain"].command
    assert explain is not None
    result = await bridge.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=explain.command, arguments=explain.arguments)
    )
    assert result is not None and result["kind"] == "explanation" and result["text"].strip()
    assert len(bridge.client.shown_documents) == 1
    shown = Path(bridge.client.shown_documents[0].uri.removeprefix("file://"))
    assert result["text"].strip() in shown.read_text()

    # What the model writes is not ours to choose; what reaches the file is: a docstring inserted and shown for
    # confirmation, or nothing at all and a message saying why. Never the function rewritten or cut off.
    for title in ("CodeMoat: Add docstring", "CodeMoat: Fix", "CodeMoat: Write tests"):
        command = titles[title].command
        assert command is not None
        edits_before, messages_before = len(bridge.applied_edits), len(bridge.client.messages)
        result = await bridge.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=command.command, arguments=command.arguments)
        )
        assert result is not None and result["kind"] == "edit"
        if not result["applied"]:
            assert result["reason"] and len(bridge.applied_edits) == edits_before
            assert any(result["reason"] in m.message for m in bridge.client.messages[messages_before:])
            continue
        edit = bridge.applied_edits[-1].edit
        assert edit.change_annotations and edit.change_annotations["codemoat"].needs_confirmation
        changes = [c for c in edit.document_changes if isinstance(c, types.TextDocumentEdit)]
        if title == "CodeMoat: Add docstring":
            (change,) = changes
            (inserted,) = change.edits
            assert change.text_document.uri == uri and inserted.range.start == inserted.range.end
            assert '"""' in inserted.new_text
        elif title == "CodeMoat: Fix":
            assert changes[0].edits[0].range == selection
        else:
            target = (workspace / "test_mathx.py").as_uri()
            assert result["uri"] == target and all(c.text_document.uri == target for c in changes)


async def test_configuration_changes_apply_without_restart(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    bridge = await open_bridge(init_options={**FAST, "url": closed, "token": appliance.token})
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    assert len((await bridge.inline(uri, CURSOR)).items) == 0
    assert len(bridge.client.messages) == 1 and closed in bridge.client.messages[0].message

    # Pull model: the client says "changed", the bridge asks workspace/configuration for section `codemoat`.
    bridge.client.set_configuration({"url": appliance.url}, section="codemoat")
    bridge.client.workspace_did_change_configuration(types.DidChangeConfigurationParams(settings=None))
    result = await bridge.inline(uri, CURSOR)
    assert len(result.items) == 1
    assert (await bridge.stats())["url"] == appliance.url

    # Push model: the settings ride in the notification; Python is switched off.
    bridge.client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"codemoat": {"url": appliance.url, "enabledLanguages": ["go"]}}
        )
    )
    before = await bridge.stats()
    assert len((await bridge.inline(uri, types.Position(line=0, character=3))).items) == 0
    after = await bridge.stats()
    assert after["disabled_language"] == before["disabled_language"] + 1 and after["sent"] == before["sent"]


async def test_appliance_down_one_message_no_crash_no_flood(open_bridge, workspace: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    bridge = await open_bridge(env={"CODEMOAT_URL": closed, "CODEMOAT_TOKEN": "whatever"}, init_options=FAST)
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    for _ in range(8):
        assert len((await bridge.inline(uri, CURSOR)).items) == 0
    completion = await bridge.client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri), position=CURSOR)
    )
    assert isinstance(completion, types.CompletionList) and len(completion.items) == 0
    assert len(bridge.client.messages) == 1
    message = bridge.client.messages[0]
    assert message.type == types.MessageType.Warning
    assert (
        "cannot reach" in message.message
        and closed in message.message
        and "codemoat serve" in message.message
    )
    stats = await bridge.stats()
    assert stats["errors"] == 9 and stats["problems"] == ["unreachable"]


async def test_bad_token_one_message(appliance: Appliance, open_bridge, workspace: Path) -> None:
    bridge = await open_bridge(init_options={**FAST, "url": appliance.url, "token": "not-a-real-token"})
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    for _ in range(4):
        assert len((await bridge.inline(uri, CURSOR)).items) == 0
    assert len(bridge.client.messages) == 1
    message = bridge.client.messages[0]
    assert message.type == types.MessageType.Error
    assert "token" in message.message and "codemoat token create" in message.message


async def test_acceptance_telemetry_never_bothers_the_user(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    bridge = await open_bridge(init_options=_options(appliance))
    uri = (workspace / "fib.py").as_uri()
    bridge.open(uri, SOURCE)
    item = (await bridge.inline(uri, CURSOR)).items[0]
    assert item.command is not None
    await bridge.client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=item.command.command, arguments=item.command.arguments)
    )
    stats = await bridge.stats()
    assert stats["telemetry"]["shown"] == 1 and stats["telemetry"]["accepted"] == 1
    # Whether or not the appliance collects telemetry yet (404 switches it off), the user hears nothing.
    assert bridge.client.messages == []
    status = httpx.post(
        f"{appliance.url}/v1/telemetry/completions",
        headers={"Authorization": f"Bearer {appliance.token}"},
        json={"event": "shown", "completion_id": "probe", "language": "python", "model": "m"},
    ).status_code
    if status == 404:
        assert stats["telemetry_enabled"] is False


async def test_a_late_suggestion_is_dropped_and_its_request_abandoned(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    relay = await Relay(target_port=int(appliance.url.rsplit(":", 1)[1]), hold_answers=True).start()
    try:
        bridge = await open_bridge(
            init_options=_options(
                appliance, url=f"http://127.0.0.1:{relay.port}", maxTokens=400, timeoutMs=300
            )
        )
        uri = (workspace / "fib.py").as_uri()
        bridge.open(uri, SOURCE)
        assert len((await bridge.inline(uri, CURSOR)).items) == 0
        await asyncio.wait_for(relay.abandoned.wait(), 10)
        stats = await bridge.stats()
        assert (stats["timeouts"], stats["cancelled_upstream"], stats["shown"]) == (1, 1, 0)
        # Said once, with the longer wait that follows (lsp/timeouts.py).
        (late,) = bridge.client.messages
        assert late.type == types.MessageType.Warning and "did not arrive within 0.3 s" in late.message
        assert "now wait up to 0.6 s" in late.message
    finally:
        await relay.stop()


async def test_a_slow_appliance_is_waited_for_and_said_so_once(
    appliance: Appliance, open_bridge, workspace: Path
) -> None:
    # A 50 ms floor on the CPU model: the first suggestions cannot arrive in time. The wait doubles after each
    # miss until one arrives, the developer hears about it once, and later suggestions keep arriving.
    bridge = await open_bridge(init_options=_options(appliance, timeoutMs=50, maxTokens=4))
    results = []
    for i in range(12):
        uri = (workspace / f"slow{i}.py").as_uri()
        bridge.open(uri, SOURCE)
        results.append(await bridge.inline(uri, CURSOR))
        if results[-1].items and len(results) >= 2 and results[-2].items:
            break
    assert not results[0].items and results[-1].items and results[-2].items
    stats = await bridge.stats()
    assert stats["timeouts"] >= 1 and stats["shown"] >= 2
    shown = [m for m in bridge.client.messages if "did not arrive within 0.1 s" in m.message]
    assert len(shown) == 1 and "suggestions now wait up to" in shown[0].message
