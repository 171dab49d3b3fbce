"""The bridge's services, built once per server and passed to every feature module.

`Bridge.reconfigure()` swaps the HTTP client when the URL, token or headers change (the old one is closed in
the background), resets the reported problems so a new token's trouble is reported afresh, and empties the
suggestion cache when the appliance changes."""

from __future__ import annotations

import asyncio
from typing import Any, Mapping

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from lsp.client import ApplianceClient
from lsp.completer import Completer
from lsp.config import BridgeConfig, resolve_config
from lsp.documents import DocumentTracker
from lsp.errors import ConfigError
from lsp.reporting import ProblemReporter
from lsp.telemetry import Telemetry

__all__ = ["Bridge"]


class Bridge:
    def __init__(self, server: LanguageServer, env: Mapping[str, str]) -> None:
        self.server = server
        self.env = dict(env)
        self.init_options: Mapping[str, Any] | None = None
        self.workspace_settings: Mapping[str, Any] | None = None
        self.reporter = ProblemReporter(self._show, self._log)
        try:
            self.config = resolve_config(env=self.env)
        except ConfigError:
            # `initialize` re-reads every layer and reports what is still wrong.
            self.config = BridgeConfig()
        self._client: ApplianceClient | None = None
        self.tracker = DocumentTracker()
        self.telemetry = Telemetry(self.client, enabled=self.config.telemetry, log=self._debug)
        self.completer = Completer(
            config=self.config,
            client_of=self.client,
            tracker=self.tracker,
            reporter=self.reporter,
            telemetry=self.telemetry,
            roots_of=self.roots,
        )
        self._closing: set[asyncio.Task[None]] = set()
        self._settling: asyncio.Task[None] | None = None

    def settle(self, update: "asyncio.Future[None] | asyncio.Task[None]") -> None:
        """Remember a configuration update in progress (a `workspace/configuration` round trip)."""
        self._settling = asyncio.ensure_future(update)

    async def settled(self, timeout_s: float = 2.0) -> None:
        """Wait for a configuration update in progress, so the first request after a settings change uses the
        new settings; a client slow to answer delays suggestions by `timeout_s` at most."""
        update = self._settling
        if update is not None and not update.done():
            await asyncio.wait({update}, timeout=timeout_s)

    # -- messages to the editor -------------------------------------------------------------------------------
    def _show(self, kind: types.MessageType, message: str) -> None:
        self.server.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _log(self, kind: types.MessageType, message: str) -> None:
        self.server.window_log_message(types.LogMessageParams(type=kind, message=message))

    def _debug(self, message: str) -> None:
        self._log(types.MessageType.Log, message)

    def info(self, message: str) -> None:
        self._show(types.MessageType.Info, message)

    # -- services ---------------------------------------------------------------------------------------------
    def client(self) -> ApplianceClient:
        if self._client is None:
            self._client = ApplianceClient(self.config)
        return self._client

    def roots(self) -> list[str]:
        workspace = self.server.workspace
        roots = [to_fs_path(folder.uri) for folder in workspace.folders.values()]
        if not roots and workspace.root_path:
            roots = [workspace.root_path]
        return [r for r in roots if r]

    def reconfigure(self) -> None:
        """Re-read every layer; on a bad setting keep the old configuration and say what is wrong."""
        try:
            config = resolve_config(
                init_options=self.init_options, workspace=self.workspace_settings, env=self.env
            )
        except ConfigError as exc:
            self.reporter.report(exc)
            return
        old = self.config
        self.reporter.forget("config")
        if config == old:
            return
        self.config = config
        self.completer.configure(config)
        self.telemetry.enabled = config.telemetry
        connection = (config.url, config.token, config.headers, config.model)
        if connection != (old.url, old.token, old.headers, old.model):
            if (old.url, old.model) != (config.url, config.model):
                self.completer.cache.clear()
            if self._client is not None:
                stale, self._client = self._client, None
                task = asyncio.get_running_loop().create_task(stale.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
            # A new URL or token may fail differently, or not at all: report afresh.
            self.reporter.reset()
        self._log(
            types.MessageType.Info,
            f"CodeMoat: using {config.url} (token {'set' if config.token else 'missing'})",
        )

    async def aclose(self) -> None:
        await self.telemetry.drain()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
