"""`codemoat user ...` and `codemoat group ...`: accounts, roles, passwords, groups and repository grants
from the appliance's shell (the console's administration pages do the same). Every change is audited with
the shell user as the actor."""

from __future__ import annotations

import json
import sys

import typer
from rich.console import Console
from rich.table import Table

from appliance.audit.log import Actor

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

user_app = typer.Typer(help="Users: create, list, disable, enable, passwords, roles.", no_args_is_help=True)
group_app = typer.Typer(help="Groups: members and the repositories they may read.", no_args_is_help=True)


def _services(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from appliance.audit.log import AuditLog
    from appliance.state.db import Database
    from appliance.users.accounts import Accounts
    from appliance.users.groups import Groups

    settings = ctx.obj
    db = Database.open(settings.state, settings.home)
    audit = AuditLog.for_settings(db, settings)
    return Accounts(db, audit), Groups(db, audit)


def _csv(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _read_password() -> str:
    line = sys.stdin.readline()
    return line.rstrip("\r\n")


@user_app.command("create")
def create(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="User name (letters, digits, . _ @ + -)."),
    admin: bool = typer.Option(False, "--admin", help="An administrator."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    no_password: bool = typer.Option(False, "--no-password", help="No console password (tokens only)."),
    as_json: bool = typer.Option(False, "--json", help="Print the user (and a generated password) as JSON."),
) -> None:
    """Create a user. Without --password-stdin a password is generated and printed once."""
    accounts, _ = _services(ctx)
    password = _read_password() if password_stdin else None
    created = accounts.create(
        name,
        role="admin" if admin else "user",
        password=password,
        generate=not password_stdin and not no_password,
        actor=Actor.cli(),
    )
    if as_json:
        out.print_json(json.dumps({**created.user.to_json(), "password": created.password}))
        return
    out.print(f"created {created.user.role} {created.user.name!r}", markup=False)
    if created.password:
        out.print(
            f"password: {created.password}   (shown once; they can change it on the console's account page)",
            markup=False,
        )


@user_app.command("list")
def list_users(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List users with their groups and the repositories they may read."""
    accounts, _ = _services(ctx)
    users = accounts.list()
    if as_json:
        out.print_json(json.dumps([u.to_json() for u in users]))
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "role", "state", "password", "groups", "may read"):
        table.add_column(column)
    for u in users:
        table.add_row(
            u.name,
            u.role,
            "disabled" if u.disabled else "enabled",
            "set" if u.has_password else "-",
            ",".join(u.groups) or "-",
            "all" if u.repos is None else ",".join(u.repos) or "nothing",
        )
    out.print(table)


@user_app.command("disable")
def disable(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    """Disable a user: their tokens and sessions stop working at once."""
    accounts, _ = _services(ctx)
    accounts.set_disabled(name, True, actor=Actor.cli())
    out.print(f"disabled {name!r}", markup=False)


@user_app.command("enable")
def enable(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    accounts, _ = _services(ctx)
    accounts.set_disabled(name, False, actor=Actor.cli())
    out.print(f"enabled {name!r}", markup=False)


@user_app.command("passwd")
def passwd(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the new password from standard input."
    ),
) -> None:
    """Set a user's password (generated and printed once unless --password-stdin). Signs them out."""
    accounts, _ = _services(ctx)
    generated = accounts.set_password(name, _read_password() if password_stdin else None, actor=Actor.cli())
    out.print(f"password of {name!r} changed" + (f": {generated}" if generated else ""), markup=False)


@user_app.command("role")
def role(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    new_role: str = typer.Argument(..., metavar="admin|user"),
) -> None:
    """Make a user an administrator, or an ordinary user."""
    accounts, _ = _services(ctx)
    accounts.set_role(name, new_role, actor=Actor.cli())
    out.print(f"{name!r} is now {new_role}", markup=False)


@group_app.command("create")
def group_create(
    ctx: typer.Context,
    name: str = typer.Argument(...),
    members: str | None = typer.Option(None, "--members", help="Comma-separated user names."),
    repos: str | None = typer.Option(
        None, "--repos", help="Comma-separated repositories the group may read."
    ),
    description: str = typer.Option("", "--description"),
) -> None:
    """Create a group, with members and repository grants."""
    _, groups = _services(ctx)
    info = groups.create(
        name, description=description, members=_csv(members), repos=_csv(repos), actor=Actor.cli()
    )
    out.print(
        f"created group {info.name!r}: members {', '.join(info.members) or '-'}; "
        f"repositories {', '.join(info.repos) or '-'}",
        markup=False,
    )


@group_app.command("list")
def group_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    _, groups = _services(ctx)
    infos = groups.list()
    if as_json:
        out.print_json(json.dumps([g.to_json() for g in infos]))
        return
    table = Table(box=None, header_style="bold")
    for column in ("name", "members", "repositories", "description"):
        table.add_column(column)
    for g in infos:
        table.add_row(g.name, ",".join(g.members) or "-", ",".join(g.repos) or "-", g.description)
    out.print(table)


@group_app.command("delete")
def group_delete(ctx: typer.Context, name: str = typer.Argument(...)) -> None:
    _, groups = _services(ctx)
    groups.delete(name, actor=Actor.cli())
    out.print(f"deleted group {name!r}", markup=False)


@group_app.command("add")
def group_add(ctx: typer.Context, name: str = typer.Argument(...), user: str = typer.Argument(...)) -> None:
    """Add a user to a group."""
    _, groups = _services(ctx)
    groups.add_member(name, user, actor=Actor.cli())
    out.print(f"{user!r} is in {name!r}", markup=False)


@group_app.command("remove")
def group_remove(
    ctx: typer.Context, name: str = typer.Argument(...), user: str = typer.Argument(...)
) -> None:
    """Remove a user from a group."""
    _, groups = _services(ctx)
    groups.remove_member(name, user, actor=Actor.cli())
    out.print(f"{user!r} left {name!r}", markup=False)


@group_app.command("grant")
def group_grant(ctx: typer.Context, name: str = typer.Argument(...), repo: str = typer.Argument(...)) -> None:
    """Let a group's members read a repository."""
    _, groups = _services(ctx)
    groups.grant(name, repo, actor=Actor.cli())
    out.print(f"{name!r} may read {repo!r}", markup=False)


@group_app.command("revoke")
def group_revoke(
    ctx: typer.Context, name: str = typer.Argument(...), repo: str = typer.Argument(...)
) -> None:
    _, groups = _services(ctx)
    groups.revoke(name, repo, actor=Actor.cli())
    out.print(f"{name!r} may no longer read {repo!r}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
