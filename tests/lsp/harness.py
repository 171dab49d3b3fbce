"""Real parts for the bridge's end-to-end tests and benchmarks: a `codemoat serve` subprocess on the CPU engine
with its own CODEMOAT_HOME and a token from `codemoat token create`, `codemoat-lsp` driven by pytest-lsp's
client, and a TCP relay that sits between the two to watch connections open and close."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

import httpx
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

REPO_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
# CODEMOAT_TEST_CLI: run against another `codemoat` executable (an installed appliance, a release candidate).
CODEMOAT = os.environ.get("CODEMOAT_TEST_CLI") or str(VENV_BIN / "codemoat")
CODEMOAT_LSP = str(VENV_BIN / "codemoat-lsp")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_available() -> bool:
    result = subprocess.run([CODEMOAT, "serve", "--help"], capture_output=True, text=True, timeout=120)
    return result.returncode == 0


def engine_cache_dir() -> Path:
    root = Path(os.environ.get("CODEMOAT_TEST_CACHE") or Path.home() / ".cache" / "codemoat-tests")
    return root / "engine-models"


@dataclass
class Appliance:
    url: str
    token: str
    home: Path
    process: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_appliance(home: Path, *, ready_timeout_s: float = 300.0) -> Appliance:
    """`codemoat token create` then `codemoat serve` on a free port; returns once /readyz says the model is loaded."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "CODEMOAT_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # Converted model copies shared between test sessions: a restart loads in well under a second.
        "CODEMOAT_ENGINE__CACHE_DIR": str(engine_cache_dir()),
    }
    created = subprocess.run(
        [CODEMOAT, "token", "create", "lsp-tests", "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if created.returncode != 0:
        raise RuntimeError(f"codemoat token create failed: {created.stderr.strip()}")
    token = json.loads(created.stdout)["token"]
    port = free_port()
    log = home / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [CODEMOAT, "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    appliance = Appliance(f"http://127.0.0.1:{port}", token, home, process, log)
    deadline = time.monotonic() + ready_timeout_s
    delay = 0.1
    with httpx.Client(timeout=5.0) as http:
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"codemoat serve exited with {process.returncode}:\n{log.read_text()[-3000:]}"
                )
            try:
                if _engine_ready(http.get(f"{appliance.url}/readyz")):
                    return appliance
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                appliance.stop()
                raise RuntimeError(
                    f"codemoat serve not ready after {ready_timeout_s} s:\n{log.read_text()[-3000:]}"
                )
            time.sleep(delay)  # readiness has no event to await across processes; poll with backoff
            delay = min(delay * 1.5, 1.0)


def _engine_ready(response: httpx.Response) -> bool:
    """Ready, or at least the model is loaded: the bridge needs nothing else (an empty index only means no
    repository context)."""
    if response.status_code == 200:
        return True
    try:
        return bool(response.json()["checks"]["engine"]["ok"])
    except (ValueError, KeyError, TypeError):
        return False


def vscode_like_capabilities() -> types.ClientCapabilities:
    """VS Code's recorded capabilities plus LSP 3.18 inline completion (VS Code's extension API has it)."""
    capabilities = client_capabilities("visual-studio-code")
    capabilities.text_document.inline_completion = types.InlineCompletionClientCapabilities()
    return capabilities


@dataclass
class Bridge:
    client: LanguageClient
    applied_edits: list[types.ApplyWorkspaceEditParams] = field(default_factory=list)
    edit_arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def stats(self) -> dict[str, Any]:
        result = await self.client.protocol.send_request_async("codemoat/stats", None)
        return _plain(result)

    def open(self, uri: str, text: str, language: str = "python", version: int = 1) -> None:
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id=language, version=version, text=text
                )
            )
        )

    def type_at(self, uri: str, version: int, position: types.Position, text: str) -> None:
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[
                    types.TextDocumentContentChangePartial(
                        range=types.Range(start=position, end=position), text=text
                    )
                ],
            )
        )

    async def inline(
        self, uri: str, position: types.Position, *, invoked: bool = True
    ) -> types.InlineCompletionList:
        kind = (
            types.InlineCompletionTriggerKind.Invoked
            if invoked
            else types.InlineCompletionTriggerKind.Automatic
        )
        result = await self.client.text_document_inline_completion_async(
            types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri=uri),
                position=position,
                context=types.InlineCompletionContext(trigger_kind=kind),
            )
        )
        assert isinstance(result, types.InlineCompletionList)
        return result

    async def close(self) -> None:
        await self.client.shutdown_session()
        await self.client.stop()


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return {k: _plain(v) for k, v in vars(value).items()}
    return value


async def start_bridge(
    root: Path,
    *,
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    capabilities: types.ClientCapabilities | None = None,
    workspace_settings: dict[str, Any] | None = None,
) -> Bridge:
    server_env = {k: v for k, v in os.environ.items() if not k.startswith("CODEMOAT_")}
    server_env.update(env or {})
    config = ClientServerConfig(server_command=[CODEMOAT_LSP], server_env=server_env)
    client = await config.start()
    assert isinstance(client, LanguageClient)
    if workspace_settings is not None:
        client.set_configuration(workspace_settings, section="codemoat")
    # lsprotocol 2025.0.0 reads any CodeAction that carries a `command` as a bare Command (its union hook tests
    # only for the key); tell them apart the way the spec does, by the type of `command`.
    client.protocol._converter.register_structure_hook(
        Union[types.Command, types.CodeAction],
        lambda obj, _: client.protocol._converter.structure(
            obj, types.Command if isinstance(obj.get("command"), str) else types.CodeAction
        ),
    )
    bridge = Bridge(client)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        bridge.applied_edits.append(params)
        bridge.edit_arrived.set()
        return types.ApplyWorkspaceEditResult(applied=True)

    await client.initialize_session(
        types.InitializeParams(
            capabilities=capabilities or vscode_like_capabilities(),
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=root.as_uri(), name=root.name)],
            initialization_options=init_options,
        )
    )
    return bridge


@dataclass
class Relay:
    """A TCP relay in front of the appliance that records, per connection, whether the client (the bridge) hung
    up before it got any response byte: that is an abandoned request, seen from the wire. With `hold_answers`
    the appliance's answers are kept back (the appliance still gets every request), so that a test decides
    when the bridge gives up rather than racing a fast model."""

    target_port: int
    hold_answers: bool = False
    port: int = 0
    requests_seen: asyncio.Event = field(default_factory=asyncio.Event)
    abandoned: asyncio.Event = field(default_factory=asyncio.Event)
    abandoned_count: int = 0
    _server: asyncio.Server | None = None

    async def start(self) -> "Relay":
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        answered = asyncio.Event()

        async def client_to_upstream() -> None:
            while data := await reader.read(65536):
                if data.startswith(b"POST "):
                    answered.clear()  # keep-alive: a new request on the same connection
                if b"POST /v1/completions" in data:
                    self.requests_seen.set()
                up_writer.write(data)
                await up_writer.drain()
            # The bridge closed its side: if no answer came yet, it abandoned the request.
            if not answered.is_set():
                self.abandoned_count += 1
                self.abandoned.set()
            up_writer.close()

        async def upstream_to_client() -> None:
            while data := await up_reader.read(65536):
                if self.hold_answers:
                    continue
                answered.set()
                writer.write(data)
                await writer.drain()
            writer.close()

        await asyncio.gather(client_to_upstream(), upstream_to_client(), return_exceptions=True)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
