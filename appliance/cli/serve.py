"""`codemoat serve`: the gateway (OpenAI-compatible API) on the configured engine, index and state."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import typer

from appliance.cli.demo import demo_banner, issue_demo_token


def serve(
    ctx: typer.Context,
    host: str | None = typer.Option(
        None, "--host", help="Address to bind (default: server.host, 127.0.0.1)."
    ),
    port: int | None = typer.Option(
        None, "--port", help="Port (default: server.port, 8000; 0 picks a free one)."
    ),
    index: list[Path] | None = typer.Option(  # noqa: B008 (typer declares options this way)
        None, "--index", help="Index this repository (incrementally) before serving; repeat for several."
    ),
    demo: bool = typer.Option(
        False, "--demo", help="Issue a fresh administrator token named 'demo' and print copy-paste examples."
    ),
    access_log: bool = typer.Option(True, "--access-log/--no-access-log", help="Log one line per request."),
    log_level: str = typer.Option("info", "--log-level", help="debug, info, warning or error."),
) -> None:
    """Serve /v1/completions, /v1/chat/completions, /v1/models, /healthz, /readyz and /metrics."""
    # OpenMP threads that spin while waiting turn a busy host into a crawl: on 2 shared cores a 540-token
    # prefill took 52 s spinning and 4 s passive. Read when torch loads, which it has not yet here.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from appliance.api.app import create_app
    from appliance.server import Listening, bind, run

    settings = ctx.obj
    if port is not None and not 0 <= port <= 65535:
        raise typer.BadParameter("the port must be between 0 and 65535", param_hint="--port")
    sock = bind(settings, host, port)
    # Before the server starts: a data directory that is read-only or full is one line and an exit code here,
    # not a traceback from the server's startup.
    from appliance.state.db import Database

    Database.open(settings.state, settings.home).close()
    # The device keys sign the audit log: keys sealed to another TPM, or to PCRs that changed, are refused here.
    from appliance.license_gate.device_keys import device_keys

    device_keys(settings).load_or_create()
    for path in index or []:
        _index(settings, path)
    token = issue_demo_token(settings) if demo else None

    completion_model = settings.engine.for_role("completion").served_model_id()
    chat_model = settings.engine.for_role("chat").served_model_id()

    def started(where: Listening) -> None:
        models = (
            completion_model if chat_model == completion_model else f"{completion_model}, chat {chat_model}"
        )
        print(
            f"CodeMoat gateway listening on {where.url} (model {models}; "
            f"it loads in the background, GET /readyz says when it is ready)",
            flush=True,
        )
        license_state = app.state.services.gate.serving_state()
        print(f"License: {license_state.state}: {license_state.reason}", flush=True)
        if settings.console.enabled:
            print(f"Console: {where.url}/console", flush=True)
        if token is not None:
            print(demo_banner(where.url, token, completion_model, chat_model), flush=True)

    app = create_app(settings)
    run(
        settings,
        app,
        sock=sock,
        on_started=started,
        access_log=access_log,
        log_level=log_level,
    )


def _index(settings, path: Path) -> None:  # type: ignore[no-untyped-def]
    from indexer.service import CodeIndex

    with CodeIndex.open(settings.indexer, settings.home) as code_index:
        report = code_index.index(path)
    print(
        f"indexed {report.repo}: {report.files} files, {report.total_chunks} chunks",
        file=sys.stderr,
        flush=True,
    )


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
