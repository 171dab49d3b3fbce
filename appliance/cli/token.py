"""`codemoat token create|list|revoke`: API tokens for editors, scripts and the console."""

from __future__ import annotations

import json
from datetime import datetime

import typer
from rich.console import Console

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


def _store(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from appliance.auth.tokens import TokenStore
    from appliance.state.db import Database

    settings = ctx.obj
    return TokenStore(Database.open(settings.state, settings.home))


def _repos(value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [part for part in (p.strip() for p in value.split(",")) if part]


@token_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A name for the token, unique among live tokens."),
    admin: bool = typer.Option(False, "--admin", help="The token's user is an administrator."),
    user: str | None = typer.Option(None, "--user", help="Owner (default: a user named like the token)."),
    repos: str | None = typer.Option(
        None, "--repos", help="Comma-separated repositories the token may read (default: all its user may)."
    ),
    as_json: bool = typer.Option(False, "--json", help='Print {"token": ..., ...} as JSON.'),
) -> None:
    """Create a token and print it. It is shown this once: only its hash is stored."""
    issued = _store(ctx).create(name, user=user, admin=admin, repos=_repos(repos))
    if as_json:
        out.print_json(json.dumps({"token": issued.token, **issued.info.to_json()}))
        return
    print(issued.token)
    scope = (
        "all repositories" if issued.info.repos is None else ", ".join(issued.info.repos) or "no repositories"
    )
    err.print(
        f"token {issued.info.name!r} (id {issued.info.id}) for {issued.info.role} {issued.info.user!r}, "
        f"scope: {scope}. Copy it now: it is not shown again.",
        markup=False,
    )


@token_app.command("list")
def list_tokens(
    ctx: typer.Context,
    include_revoked: bool = typer.Option(False, "--all", help="Include revoked tokens."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List tokens (never their secrets: the prefix tells them apart)."""
    tokens = _store(ctx).list_tokens(include_revoked=include_revoked)
    if as_json:
        out.print_json(json.dumps([t.to_json() for t in tokens]))
        return
    if not tokens:
        err.print("no tokens (create one with `codemoat token create NAME`)", markup=False)
        return
    header = ("id", "name", "user", "role", "prefix", "repos", "created", "last used", "revoked")
    rows = [
        (
            str(t.id),
            t.name,
            t.user,
            t.role,
            t.prefix + "...",
            "all" if t.repos is None else ",".join(t.repos) or "none",
            _when(t.created),
            _when(t.last_used),
            _when(t.revoked),
        )
        for t in tokens
    ]
    # Plain aligned columns, never truncated (a table squeezed to the terminal width would cut names).
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


@token_app.command("revoke")
def revoke(
    ctx: typer.Context,
    name_or_id: str = typer.Argument(
        ..., metavar="NAME|ID", help="The live token's name, or any token's id."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the revoked token as JSON."),
) -> None:
    """Revoke a token: requests with it are refused (403) from now on."""
    info = _store(ctx).revoke(name_or_id)
    if as_json:
        out.print_json(json.dumps(info.to_json()))
        return
    out.print(f"revoked token {info.name!r} (id {info.id})", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
