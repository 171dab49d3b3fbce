"""`codemoat license tpm ...`: where the device keys live (sealed to the TPM 2.0, or files), and the operator's
way to move them into the TPM, re-bind them after a firmware update, and get them back after a TPM clear.

    codemoat license tpm status [--json]
    codemoat license tpm escrow --out FILE [--passphrase-fd N]     before an update: a copy off the machine
    codemoat license tpm bind [--pcrs 0,7]                         files -> TPM, or sealed -> other PCRs
    codemoat license tpm bind --restore FILE [--passphrase-fd N]   after a TPM clear or PCR change

These are audited. `bind --restore` runs exactly when the keys cannot be unsealed, and the audit entry is
signed with the device key, so the state database is opened first (a database that cannot be used refuses
the command before anything changes) and the log is built from the restored keys afterwards."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console

from appliance.cli.audited import CliAudit
from appliance.cli.passphrase import PassphraseFd, read_passphrase
from appliance.config import Settings
from appliance.license_gate.device_keys import device_keys
from licensing.device_keys import DeviceKeyStore
from licensing.errors import LicensingError, StateError
from licensing.tpm import parse_pcrs

out = Console(highlight=False, soft_wrap=True)
tpm_app = typer.Typer(
    help="Device keys sealed to the TPM 2.0: status, bind, escrow, restore.", no_args_is_help=True
)


@contextmanager
def _audited(settings: Settings) -> Iterator[Any]:
    """Like `CliAudit.open`, but the anchor's key is taken after the change (it may be what the change fixes)."""
    from appliance.audit.log import Actor, AuditLog
    from appliance.state.db import Database

    db = Database.open(settings.state, settings.home)
    try:
        yield lambda: CliAudit(db, Actor.cli(), AuditLog.for_settings(db, settings))
    finally:
        db.close()


def _pcrs(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else parse_pcrs(text)


def _where(keys: DeviceKeyStore, pcrs: list[int] | tuple[int, ...]) -> str:
    bound = f" and PCRs {','.join(str(p) for p in pcrs)}" if pcrs else ""
    return f"the TPM at {keys.sealer.describe()}{bound}"


@tpm_app.command("status")
def status_command(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Where the device keys are and whether they load here. Exits 3 when keys exist but cannot be used."""
    keys = device_keys(ctx.obj)
    info = keys.describe()
    info["usable"], info["reason"] = True, ""
    try:
        info["tpm_available"] = keys.sealer.available()
    except LicensingError as exc:  # there, but busy or misnamed
        info["tpm_available"], info["tpm_problem"] = False, str(exc)
    if info["form"] is not None:
        try:
            keys.load()
        except LicensingError as exc:
            info["usable"], info["reason"] = False, str(exc)
    if as_json:
        out.print(json.dumps(info), markup=False)
    else:
        form = info["form"]
        if form == "tpm":
            out.print(f"device keys {info['kid']}: sealed to {_where(keys, info['pcrs'])}", markup=False)
        elif form == "file":
            hint = (
                " (a TPM answers: seal them with `codemoat license tpm bind`)"
                if info["tpm_available"]
                else ""
            )
            out.print(f"device keys {info['kid']}: owner-only files{hint}", markup=False)
        else:
            out.print("no device keys yet (`codemoat license request` creates them)", markup=False)
        out.print(
            f"license.tpm = {info['mode']}; TPM at {info['tcti']}: "
            + ("answers" if info["tpm_available"] else info.get("tpm_problem", "does not answer")),
            markup=False,
        )
        if not info["usable"]:
            out.print(f"cannot use the keys: {info['reason']}", markup=False)
    if not info["usable"]:
        raise typer.Exit(3)


@tpm_app.command("bind")
def bind_command(
    ctx: typer.Context,
    pcrs: Optional[str] = typer.Option(
        None, "--pcrs", help='PCRs to bind to, e.g. "7" or "0,2,7"; "" for none (default: license.tpm_pcrs).'
    ),
    restore: Optional[Path] = typer.Option(
        None, "--restore", help="Seal the keys of this escrow copy (after a TPM clear or a PCR change)."
    ),
    passphrase_fd: Optional[int] = PassphraseFd,
) -> None:
    """Seal the device keys to this TPM: move file keys in, re-bind sealed keys to other PCRs, or restore an
    escrow copy. The license stays installed: it is bound to the keys, not to where they are kept."""
    settings: Settings = ctx.obj
    keys = device_keys(settings)
    if keys.protection.mode == "off":
        raise StateError("license.tpm = off; set it to auto or required to seal the device keys")
    with _audited(settings) as audit:
        if restore is not None:
            identity = keys.restore(
                restore, read_passphrase(passphrase_fd, what="the escrow copy"), _pcrs(pcrs)
            )
            done, action = f"device keys {identity.kid} restored from {restore}", "license.tpm.restore"
        else:
            before = keys.form()
            identity = keys.bind(_pcrs(pcrs))
            verb = {"file": "moved into", "tpm": "re-bound to", None: "created in"}[before]
            done, action = f"device keys {identity.kid} {verb} the TPM", "license.tpm.bind"
        record = keys.describe()
        out.print(f"{done}: sealed to {_where(keys, record['pcrs'])}", markup=False)
        audit().record(done, action, identity.kid, tcti=keys.sealer.describe(), pcrs=record["pcrs"])


@tpm_app.command("escrow")
def escrow_command(
    ctx: typer.Context,
    out_file: Path = typer.Option(..., "--out", help="A new file; keep it off this machine."),
    passphrase_fd: Optional[int] = PassphraseFd,
) -> None:
    """Write the device keys encrypted under a passphrase: the way back after a TPM clear or a board swap."""
    settings: Settings = ctx.obj
    keys = device_keys(settings)
    with _audited(settings) as audit:
        if out_file.exists():  # before a passphrase is asked for nothing
            raise StateError(f"{out_file} exists; choose a new file for the escrow copy")
        kid = keys.escrow(out_file, read_passphrase(passphrase_fd, what="the escrow copy", new=True))
        done = f"device keys {kid} escrowed to {out_file}"
        out.print(f"{done}; keep it and its passphrase off this machine", markup=False)
        audit().record(done, "license.tpm.escrow", kid, file=str(out_file))


def register(license_app: typer.Typer) -> None:
    license_app.add_typer(tpm_app, name="tpm")
