"""`codemoat update apply BUNDLE [--force]`, `codemoat update rollback`, `codemoat update status`: vendor-signed
updates of an appliance installed by packaging/install.sh (appliance.updates)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import typer

from appliance.cli.audited import CliAudit
from appliance.updates import (
    Installed,
    UpdateError,
    check,
    current,
    install,
    installed_already,
    prefix_of,
    read_migration_record,
    switch,
    this_release,
    write_migration_record,
)

update_app = typer.Typer(help="Vendor-signed updates, and the way back.", no_args_is_help=True)
Prefix = typer.Option(None, "--prefix", help="The install prefix (default: the one DEST/bin/codemoat names).")


@update_app.command("apply")
def apply_command(
    ctx: typer.Context,
    bundle: Path = typer.Argument(..., exists=True, dir_okay=False, help="The update bundle (.tar)."),
    force: bool = typer.Option(False, "--force", help="Install an older release (audited)."),
    prefix: Path | None = Prefix,
) -> None:
    """Verify an update bundle, install it beside the current release, migrate the database, switch to it."""
    settings = ctx.obj
    where = prefix_of(prefix)
    release, installed, downgrade = check(
        bundle.resolve(), where, Path(settings.home) / "license", force=force
    )
    print(f"update {installed.version} build {installed.build} -> {release.version} build {release.build}")
    if downgrade:
        with CliAudit.open(settings) as audit:
            audit.record(
                f"a downgrade to {release.version} build {release.build} was started",
                "update.downgrade",
                f"{release.version}-{release.build}",
                installed=installed.name,
                forced=True,
            )
    again = installed_already(bundle.resolve(), where, release)
    if again is None:
        install(bundle.resolve(), where, Path(settings.home))
    else:
        # The release is on disk, checked when it was installed: it migrates the database, then becomes current.
        _as_data_owner(
            settings.home,
            [str(again.directory / "bin" / "codemoat"), "update", "migrate", "--from", installed.name],
            failed="the release could not migrate the database; the current release stays",
        )
        switch(where, again.directory, installed.directory)
    now = current(where)
    print(
        f"current release: {now.name} (previous: {installed.name}; `codemoat update rollback` returns to it)"
    )
    print("restart the services to run it: systemctl restart codemoat")


@update_app.command("rollback")
def rollback_command(ctx: typer.Context, prefix: Path | None = Prefix) -> None:
    """Return to the release before the last update, with the database as that release had it."""
    settings = ctx.obj
    where = prefix_of(prefix)
    now = current(where)
    if not (where / "previous").is_dir():
        raise UpdateError("there is no previous release to return to")
    before = Installed.at(where / "previous")
    record = read_migration_record(Path(settings.home), now.name)
    with CliAudit.open(settings) as audit:
        audit.record(
            f"a rollback from {now.name} to {before.name} was started",
            "update.rollback",
            before.name,
            current=now.name,
        )
    revision = record["revision_before"]
    if revision is not None and record["previous"] == before.name:
        _as_data_owner(
            settings.home, [str(now.directory / "bin" / "codemoat"), "update", "migrate", "--to", revision]
        )
    switch(where, before.directory, now.directory)
    print(f"current release: {before.name} (previous: {now.name})")
    print("restart the services to run it: systemctl restart codemoat")


@update_app.command("status")
def status_command(prefix: Path | None = Prefix) -> None:
    """The current and previous releases under the prefix."""
    where = prefix_of(prefix)
    for name in ("current", "previous"):
        if (where / name).is_dir():
            release = Installed.at(where / name)
            print(
                f"{name}: {release.version} build {release.build} ({release.platform}) at {release.directory}"
            )


@update_app.command("migrate", hidden=True)
def migrate_command(
    ctx: typer.Context,
    previous: str | None = typer.Option(None, "--from", help="The release this one replaces."),
    to: str | None = typer.Option(None, "--to", help="Take the schema back to this revision."),
) -> None:
    """Run by install.sh --update as the new release (and by rollback with --to): migrate the database."""
    from appliance.state.db import Database

    settings = ctx.obj
    db = Database.open(settings.state, settings.home, upgrade=False)
    if to is not None:
        db.downgrade(to)
        print(f"database at revision {to}")
        return
    before = db.current_revision()
    db.upgrade()
    release = this_release()
    write_migration_record(Path(settings.home), release.name, before, previous or "")
    with CliAudit.open(settings) as audit:
        audit.record(
            f"release {release.name} was installed",
            "update.apply",
            release.name,
            previous=previous,
            revision_before=before,
            revision_after=db.current_revision(),
        )
    print(f"database at revision {db.current_revision()} (was {before})")


def _as_data_owner(
    home: Path,
    command: list[str],
    failed: str = "the database could not be taken back to the previous release's schema; nothing was switched",
) -> None:
    """Run `command` as the owner of the data directory (root runs updates; the service user owns the files)."""
    owner = Path(home).stat().st_uid
    user = owner if os.geteuid() == 0 and owner != 0 else None
    done = subprocess.run(command, user=user, env={**os.environ, "CODEMOAT_HOME": str(home)})
    if done.returncode != 0:
        raise UpdateError(failed)


def register(app: typer.Typer) -> None:
    app.add_typer(update_app, name="update")
