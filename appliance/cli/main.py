"""The `codemoat` command: one subcommand group per package, composed here.

Every package's error hierarchy is turned into one line on stderr and a non-zero exit code; no tracebacks
reach the user (set CODEMOAT_DEBUG=1 to see them)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional, Sequence

import typer
from rich.console import Console

from appliance.cli import audit as audit_cli
from appliance.cli import backup as backup_cli
from appliance.cli import doctor as doctor_cli
from appliance.cli import embedder as embedder_cli
from appliance.cli import index as index_cli
from appliance.cli import license as license_cli
from appliance.cli import serve as serve_cli
from appliance.cli import token as token_cli
from appliance.cli import update as update_cli
from appliance.cli import users as users_cli
from appliance.cli import vendor as vendor_cli
from appliance.cli import vllm as vllm_cli
from appliance.config import load_settings
from appliance.errors import ApplianceError
from indexer.errors import IndexerError
from licensing.errors import LicensingError

app = typer.Typer(
    name="codemoat",
    help="CodeMoat: an on-premises AI coding assistant.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Click's plain help: flags without a misleading `<bool>`, readable at 80 columns and in logs.
    rich_markup_mode=None,
)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import version

        print(f"codemoat {version('codemoat')}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    _: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    home: Optional[Path] = typer.Option(
        None, "--home", help="Data directory (default: $CODEMOAT_HOME or ~/.codemoat)."
    ),
    config: Optional[Path] = typer.Option(None, "--config", help="TOML configuration file."),
) -> None:
    ctx.obj = load_settings(home=home, config_file=config)


index_cli.register(app)
embedder_cli.register(app)
license_cli.register(app)
serve_cli.register(app)
token_cli.register(app)
vendor_cli.register(app)
audit_cli.register(app)
users_cli.register(app)
doctor_cli.register(app)
vllm_cli.register(app)
update_cli.register(app)
backup_cli.register(app)

_USER_ERRORS: tuple[type[Exception], ...] = (IndexerError, ApplianceError, LicensingError)


def main(argv: Sequence[str] | None = None) -> None:
    try:
        app(args=list(argv) if argv is not None else None, prog_name="codemoat")
    except _USER_ERRORS as exc:
        if os.environ.get("CODEMOAT_DEBUG"):
            raise
        err_console.print(f"error: {exc}", markup=False)
        sys.exit(getattr(exc, "exit_code", 1))
    except KeyboardInterrupt:
        err_console.print("interrupted", markup=False)
        sys.exit(130)


if __name__ == "__main__":
    main()
