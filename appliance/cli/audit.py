"""`codemoat audit verify|list|export`: check the hash chain of the audit log and its signed anchors, read it,
export it with its anchors to keep elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console

from appliance.audit.errors import AuditChainBroken
from appliance.errors import ConfigError

out = Console(highlight=False, soft_wrap=True)
audit_app = typer.Typer(help="The audit log of administrative and license events.", no_args_is_help=True)


def _log(ctx: typer.Context):  # type: ignore[no-untyped-def]
    from appliance.audit.log import AuditLog
    from appliance.state.db import Database

    settings = ctx.obj
    return AuditLog.for_settings(Database.open(settings.state, settings.home), settings)


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
    rows = [("seq", "when (UTC)", "actor", "source", "action", "target")] + [
        (str(e.seq), e.created.strftime("%Y-%m-%d %H:%M:%S"), e.actor, e.source, e.action, e.target)
        for e in entries
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    # One line per entry and its details indented below it: readable at 80 columns, and grep finds both.
    for n, row in enumerate(rows):
        out.print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip(), markup=False)
        detail = entries[n - 1].detail if n else None
        if detail:
            out.print(" " * (widths[0] + 2) + _pairs(detail), markup=False)


def _pairs(detail: dict[str, object]) -> str:
    """`key=value ...`, values as JSON unless they are plain words."""
    return " ".join(
        f"{key}={value}"
        if isinstance(value, str) and value and value.isprintable() and " " not in value
        else f"{key}={json.dumps(value)}"
        for key, value in sorted(detail.items())
    )


@audit_app.command("export")
def export(
    ctx: typer.Context,
    out_file: Path = typer.Option(
        ..., "--out", help="New file: every entry, the signed head and checkpoints."
    ),
) -> None:
    """Write the whole log with its signed anchors, to keep off the appliance: a later log that lacks an
    entry this file holds was cut. Entries are JSON lines, oldest first, after one line of anchors."""
    from licensing.encoding import atomic_write

    if out_file.exists():
        raise ConfigError(f"{out_file} already exists; choose another --out path")
    log = _log(ctx)
    report = log.verify()
    anchors = log.anchor.export() if log.anchor is not None else {}
    lines = [json.dumps({"anchors": anchors, "verified": report.to_json()}, sort_keys=True)]
    lines += [json.dumps(e.to_json(), sort_keys=True) for e in log.all_entries()]
    atomic_write(out_file, ("\n".join(lines) + "\n").encode(), mode=0o600)
    out.print(
        f"exported {report.entries} entries, head {report.head_seq} {report.head_hash}, to {out_file}",
        markup=False,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
