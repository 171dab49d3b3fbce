"""`codemoat token create|list|revoke`: API tokens for editors, scripts and the console. Creating and
revoking are audited with the shell user as the actor, under the console's names (token.create,
token.revoke)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

import typer
from rich.console import Console

if TYPE_CHECKING:
    from appliance.auth.tokens import TokenStore
    from appliance.cli.audited import CliAudit

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

token_app = typer.Typer(help="API tokens: create (shown once), list, revoke.", no_args_is_help=True)


def _store(ctx: typer.Context) -> TokenStore:
    from appliance.auth.tokens import TokenStore
    from appliance.state.db import Database

    settings = ctx.obj
    return TokenStore(Database.open(settings.state, settings.home))


def _audit(ctx: typer.Context) -> CliAudit:
    from appliance.cli.audited import CliAudit

    return CliAudit.open(ctx.obj)


def _user_exists(audit: CliAudit, name: str) -> bool:
    from sqlalchemy import select

    from appliance.state.models import User

    with audit.db.session() as session:
        return session.scalar(select(User.id).where(User.name == name)) is not None


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
    from appliance.auth.tokens import TokenStore

    with _audit(ctx) as audit:
        owner_existed = _user_exists(audit, user or name)
        issued = TokenStore(audit.db).create(name, user=user, admin=admin, repos=_repos(repos))
        info = issued.info
        # The secret is shown before the entry is written: the token exists either way.
        if as_json:
            out.print_json(json.dumps({"token": issued.token, **info.to_json()}))
        else:
            print(issued.token)
            scope = "all repositories" if info.repos is None else ", ".join(info.repos) or "no repositories"
            err.print(
                f"token {info.name!r} (id {info.id}) for {info.role} {info.user!r}, "
                f"scope: {scope}. Copy it now: it is not shown again.",
                markup=False,
            )
        made = [
            (
                "token.create",
                info.name,
                {"user": info.user, "repos": info.repos, "role": info.role, "id": info.id},
            )
        ]
        done = f"token {info.name!r} (id {info.id}) was created"
        if not owner_existed:  # `token create` made its user too: the console's user list shows it
            made.insert(
                0, ("user.create", info.user, {"role": info.role, "password": False, "via": "token create"})
            )
            done += f" with its user {info.user!r}"
        audit.record_all(done, made)


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
    from appliance.auth.tokens import TokenStore

    with _audit(ctx) as audit:
        info = TokenStore(audit.db).revoke(name_or_id)
        if as_json:
            out.print_json(json.dumps(info.to_json()))
        else:
            out.print(f"revoked token {info.name!r} (id {info.id})", markup=False)
        audit.record(
            f"token {info.name!r} (id {info.id}) was revoked",
            "token.revoke",
            info.name,
            user=info.user,
            id=info.id,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
