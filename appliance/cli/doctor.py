"""`codemoat doctor [--json]`: every check of appliance.doctor, a line each; exit 1 when one failed."""

from __future__ import annotations

import json

import typer


def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help='One JSON object: {"checks": [...]}.'),
) -> None:
    """Check versions, models, index, database, license, disk, clock, port, GPU and TPM."""
    from appliance.doctor import run_checks

    checks = run_checks(ctx.obj)
    if as_json:
        print(json.dumps({"ok": all(c.ok for c in checks), "checks": [c.to_json() for c in checks]}))
    else:
        for check in checks:
            print(f"{'ok  ' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    if not all(c.ok for c in checks):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
