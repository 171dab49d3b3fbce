"""`codemoat backup create FILE` and `codemoat backup restore FILE` (appliance.backup): the state database,
audit anchors, license state and settings in one passphrase-encrypted file, taken while the server runs."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import typer

from appliance.cli.audited import CliAudit
from appliance.cli.passphrase import PassphraseFd, read_passphrase

backup_app = typer.Typer(help="Encrypted backups of the appliance's state.", no_args_is_help=True)


@backup_app.command("create")
def create_command(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="The backup file to write (it must not exist)."),
    passphrase_fd: int | None = PassphraseFd,
) -> None:
    """Back up the state database, audit anchors, license state and settings, encrypted under a passphrase."""
    from appliance.backup import create

    passphrase = read_passphrase(passphrase_fd, what="the backup", new=True)
    summary = create(ctx.obj, out, passphrase)
    print(f"backup written to {out}: {summary.describe()}")
    with CliAudit.open(ctx.obj) as audit:
        audit.record(f"the backup {out} was written", "backup.create", str(out), tables=summary.tables)


@backup_app.command("restore")
def restore_command(
    ctx: typer.Context,
    source: Path = typer.Argument(..., exists=True, dir_okay=False, help="A file `backup create` wrote."),
    passphrase_fd: int | None = PassphraseFd,
    reindex: bool = typer.Option(False, "--reindex", help="Index the backed-up repositories again now."),
) -> None:
    """Restore a backup into a fresh data directory (CODEMOAT_HOME): users, tokens, repositories, the audit
    log with its signed anchors, the license state; the vectors are rebuilt by indexing again."""
    from appliance.backup import restore

    passphrase = read_passphrase(passphrase_fd, what="the backup")
    summary, notes = restore(ctx.obj, source, passphrase)
    print(f"restored from {source}: {summary.describe()}")
    for note in notes:
        print(f"note: {note}")
    with CliAudit.open(ctx.obj) as audit:
        audit.record(
            f"the backup {source} was restored", "backup.restore", str(source), tables=summary.tables
        )
    repos = summary.indexed
    if repos and not reindex:
        print("the index holds no vectors yet; index the repositories again:")
    for repo in repos:
        command = ["index", repo["root"], "--name", repo["name"]]
        if not reindex:
            print("  codemoat " + " ".join(shlex.quote(part) for part in command))
        elif not Path(repo["root"]).is_dir():
            print(f"note: {repo['name']}: {repo['root']} is not here; index it again where it is")
        else:
            done = subprocess.run([sys.executable, "-m", "appliance.cli.main", *command], check=False)
            if done.returncode != 0:
                raise typer.Exit(done.returncode)


def register(app: typer.Typer) -> None:
    app.add_typer(backup_app, name="backup")
