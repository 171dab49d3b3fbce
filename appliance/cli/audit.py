"""`codemoat audit verify|list`: check the hash chain of the audit log, and read it."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from appliance.audit.errors import AuditChainBroken

out = Console(highlight=False, soft_wrap=True)
audit_app = typer.Typer(help="The audit log of administrative and license events.", no_args_is_help=True)


def _log(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from appliance.audit.log import AuditLog
    from appliance.state.db import Database

    settings = ctx.obj
    return AuditLog(Database.open(settings.state, settings.home))


@audit_app.command("verify")
def verify(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    """Check that no entry was deleted or edited. Exit code 6 when the chain is broken. Keep the printed head
    hash somewhere else: a later run that still shows it proves the log was only appended to."""
    report = _log(ctx).verify()
    if as_json:
        out.print_json(json.dumps(report.to_json()))
    elif report.ok:
        out.print(
            f"audit log intact: {report.entries} entries, head {report.head_seq} {report.head_hash}",
            markup=False,
        )
    else:
        for problem in report.problems:
            out.print(f"- {problem}", markup=False)
    if not report.ok:
        more = f" (and {len(report.problems) - 1} more problems)" if len(report.problems) > 1 else ""
        raise AuditChainBroken(f"the audit log was tampered with: {report.problems[0]}{more}")


@audit_app.command("list")
def list_entries(
    ctx: typer.Context,
    limit: int = typer.Option(50, "--limit", min=1, max=10_000, help="How many entries, newest first."),
    action: str | None = typer.Option(
        None, "--action", help="Only actions starting with this (user., repo.)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """Show the newest entries."""
    entries = _log(ctx).entries(limit=limit, action=action)
    if as_json:
        out.print_json(json.dumps([e.to_json() for e in entries]))
        return
    table = Table(box=None, header_style="bold")
    for column in ("seq", "when (UTC)", "actor", "source", "action", "target", "detail"):
        table.add_column(column, no_wrap=column != "detail")
    for e in entries:
        table.add_row(
            str(e.seq),
            e.created.strftime("%Y-%m-%d %H:%M:%S"),
            e.actor,
            e.source,
            e.action,
            e.target,
            json.dumps(e.detail, sort_keys=True) if e.detail else "",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
