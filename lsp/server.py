"""`codemoat-lsp`: the Language Server, wired in one place.

    codemoat-lsp [--stdio] [--tcp --host H --port P] [--version]

Feature modules register their handlers on the server: lsp.inline (inline completion, completion fallback),
lsp.actions (code actions and their commands). This module adds document tracking, configuration
(`initialize`, `initialized`, `workspace/didChangeConfiguration`), the `codemoat/telemetry` notification and
the `codemoat/stats` request (counters for benchmarks and tests)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any, Mapping, Sequence

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from lsp import __version__, actions, inline
from lsp.bridge import Bridge
from lsp.config import SECTION

__all__ = ["create_server", "main", "STATS_METHOD", "TELEMETRY_METHOD"]

STATS_METHOD = "codemoat/stats"
TELEMETRY_METHOD = "codemoat/telemetry"


def _as_mapping(value: Any) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        return value
    # pygls hands custom objects over as attrs-like namespaces; settings come as plain JSON objects.
    return getattr(value, "__dict__", None)


def create_server(env: Mapping[str, str] | None = None) -> tuple[LanguageServer, Bridge]:
    server = LanguageServer(
        "codemoat-lsp", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental
    )
    bridge = Bridge(server, os.environ if env is None else env)

    @server.feature(types.INITIALIZE)
    def initialize(params: types.InitializeParams) -> None:
        bridge.init_options = _as_mapping(params.initialization_options)
        bridge.reconfigure()

    @server.feature(types.INITIALIZED)
    def initialized(params: types.InitializedParams) -> None:
        bridge.settle(_pull_configuration(server, bridge))

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    def did_change_configuration(params: types.DidChangeConfigurationParams) -> None:
        settings = _as_mapping(params.settings)
        if settings and isinstance(settings.get(SECTION), Mapping):
            # Push model (Neovim, Helix, Emacs): the new settings ride in the notification.
            bridge.workspace_settings = settings[SECTION]
            bridge.reconfigure()
        else:
            # Pull model (VS Code): the notification only says that something changed.
            bridge.settle(_pull_configuration(server, bridge))

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(params: types.DidOpenTextDocumentParams) -> None:
        bridge.tracker.opened(server.workspace.get_text_document(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(params: types.DidChangeTextDocumentParams) -> None:
        bridge.completer.keystroke(server.workspace.get_text_document(params.text_document.uri))

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(params: types.DidCloseTextDocumentParams) -> None:
        bridge.tracker.closed(params.text_document.uri)
        bridge.completer.debounce.forget(params.text_document.uri)

    @server.feature(TELEMETRY_METHOD)
    def telemetry(params: Any) -> None:
        data = _as_mapping(params) or {}
        completion_id = str(data.get("completionId") or data.get("completion_id") or "")
        event = data.get("event")
        if event == "accepted":
            bridge.telemetry.accepted(completion_id)
        elif event == "rejected":
            bridge.telemetry.rejected(completion_id)

    @server.feature(STATS_METHOD)
    def stats(params: Any) -> dict[str, Any]:
        return {
            **bridge.completer.stats.as_dict(),
            "telemetry": dict(bridge.telemetry.counts),
            "telemetry_enabled": bridge.telemetry.enabled,
            "problems": sorted(bridge.reporter.active),
            "url": bridge.config.url,
            "cache_entries": len(bridge.completer.cache),
        }

    @server.feature(types.SHUTDOWN)
    async def shutdown(params: Any) -> None:
        await bridge.aclose()

    inline.register(server, bridge)
    actions.register(server, bridge)
    return server, bridge


async def _pull_configuration(server: LanguageServer, bridge: Bridge) -> None:
    workspace = server.client_capabilities.workspace
    if not (workspace and workspace.configuration):
        return
    try:
        answer = await server.workspace_configuration_async(
            types.ConfigurationParams(items=[types.ConfigurationItem(section=SECTION)])
        )
    except Exception as exc:  # noqa: BLE001 - a client that fails this request must not stop the bridge
        server.window_log_message(
            types.LogMessageParams(
                type=types.MessageType.Warning, message=f"CodeMoat: no workspace settings ({exc})"
            )
        )
        return
    settings = answer[0] if answer else None
    bridge.workspace_settings = _as_mapping(settings)
    bridge.reconfigure()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="codemoat-lsp", description="CodeMoat's editor bridge (LSP).")
    parser.add_argument("--stdio", action="store_true", help="talk LSP over stdin/stdout (the default)")
    parser.add_argument("--tcp", action="store_true", help="listen on TCP instead (for debugging)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2087)
    parser.add_argument("--log-file", help="write the bridge's own log here")
    parser.add_argument("--version", action="version", version=f"codemoat-lsp {__version__}")
    args = parser.parse_args(argv)
    if args.log_file:
        logging.basicConfig(filename=args.log_file, level=logging.INFO)
    else:
        # stdout carries the protocol; the log goes to stderr, which editors show in their LSP log.
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    server, _ = create_server()
    if args.tcp:
        server.start_tcp(args.host, args.port)
    else:
        server.start_io()


if __name__ == "__main__":
    main()
