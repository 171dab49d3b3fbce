"""`codemoat license ...`: the appliance's side of licensing (request, activate, renew, status, deactivate,
check-model, roots, trust, and `tpm` for where the device keys are kept). State lives in `<home>/license`.

The commands that change the license or the trusted roots are audited (actor: the shell user). They open the
state database first, so that a database that cannot be opened refuses them before anything changes; see
`appliance.cli.audited` for what happens when only the entry cannot be written."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console

from appliance.cli import license_tpm
from appliance.cli.license_files import read_text, write_new
from appliance.config import Settings
from appliance.license_gate.device_keys import license_service
from licensing.encoding import format_time
from licensing.errors import StateError
from licensing.keys import TrustStore
from licensing.service import LicenseService
from licensing.store import LicenseStore

if TYPE_CHECKING:
    from appliance.cli.audited import CliAudit

out = Console(highlight=False, soft_wrap=True)
license_app = typer.Typer(help="This appliance's license: activation, leases, state.", no_args_is_help=True)


def state_dir(ctx: typer.Context) -> Path:
    settings: Settings = ctx.obj
    return Path(settings.home) / "license"


def service(ctx: typer.Context) -> LicenseService:
    return license_service(ctx.obj)


def audit(ctx: typer.Context) -> CliAudit:
    from appliance.cli.audited import CliAudit

    return CliAudit.open(ctx.obj)


def _iso(epoch: int | None) -> str | None:
    """The console's license page writes times the same way (appliance.console.license_panel)."""
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


@license_app.command("request")
def request_command(
    ctx: typer.Context,
    out_file: Path = typer.Option(..., "--out", help="Where to write the activation request."),
) -> None:
    """Write an activation request (device keys + fingerprint, signed, with a nonce) to carry to the vendor."""
    with audit(ctx) as log:
        if out_file.exists():  # before a request (and its nonce) is made for nothing
            raise StateError(f"{out_file} already exists; choose another --out path")
        text = service(ctx).request_activation()
        write_new(out_file, text)
        out.print(
            f"activation request written to {out_file}; send it to the vendor, then run "
            "`codemoat license activate LICENSE_FILE`"
        )
        log.record(f"the activation request was written to {out_file}", "license.request", file=str(out_file))


@license_app.command("activate")
def activate_command(
    ctx: typer.Context, license_file: Path = typer.Argument(..., help="The vendor's answer.")
) -> None:
    """Verify the license (signature chain, binding to this machine, request nonce) and install it."""
    with audit(ctx) as log:
        license_ = service(ctx).activate(read_text(license_file, "license file"))
        models = [g.model_id for g in license_.models]
        out.print(
            f"license {license_.license_id} for {license_.customer} activated: {license_.seats} seats, models "
            f"{', '.join(models)}, until {format_time(license_.expires_at)}"
        )
        log.record(
            f"license {license_.license_id} was activated",
            "license.activate",
            license_.license_id,
            license_id=license_.license_id,
            customer=license_.customer,
            seats=license_.seats,
            expires=_iso(license_.expires_at),
            models=models,
        )


@license_app.command("renew")
def renew_command(
    ctx: typer.Context, lease_file: Path = typer.Argument(..., help="A lease from the vendor.")
) -> None:
    """Apply a new lease; the appliance returns to VALID without a restart."""
    with audit(ctx) as log:
        lease = service(ctx).renew(read_text(lease_file, "lease file"))
        out.print(f"lease {lease.sequence} applied; valid until {format_time(lease.expires_at)}")
        log.record(
            f"lease {lease.sequence} was applied",
            "license.renew",
            str(lease.license_id),
            sequence=lease.sequence,
            expires=_iso(lease.expires_at),
        )


@license_app.command("status")
def status_command(
    ctx: typer.Context, as_json: bool = typer.Option(False, "--json", help="One JSON object.")
) -> None:
    """Show the state the appliance serves under and why, then the license's own (exit code 0 whatever the
    state). `--json`: `state` is the license's (VALID, GRACE, RESTRICTED, STOPPED), `serving_state` the
    appliance's (the same, or UNLICENSED while the open model serves without a license)."""
    from appliance.license_gate.runtime import serving_state

    licenses = service(ctx)
    status = licenses.status()
    serving = serving_state(ctx.obj, licenses)
    data = status.to_json()
    if as_json:
        out.print(json.dumps({**data, "serving_state": serving.state}), markup=False)
        return
    out.print(f"state: {serving.state}", markup=False)
    out.print(f"reason: {serving.reason}", markup=False)
    if serving.state != data["state"]:
        out.print(f"license: {data['state']}: {data['reason']}", markup=False)
    for name in (
        "license_id",
        "customer",
        "expires_at",
        "lease_sequence",
        "lease_expires_at",
        "grace_ends_at",
        "seats",
        "seats_in_use",
        "max_gpus",
        "gpus_in_use",
    ):
        if data[name] is not None:
            out.print(f"{name.replace('_', ' ')}: {data[name]}", markup=False)
    if data["models"]:
        out.print(f"models: {', '.join(data['models'])}", markup=False)


@license_app.command("deactivate")
def deactivate_command(
    ctx: typer.Context,
    out_file: Optional[Path] = typer.Option(
        None, "--out", help="Write the signed receipt here (default: stdout)."
    ),
) -> None:
    """Remove the license from this appliance and produce a signed receipt that frees the seat at the vendor."""
    if out_file is not None and out_file.exists():
        raise StateError(f"{out_file} already exists; choose another --out path")
    with audit(ctx) as log:
        licenses = service(ctx)
        license_id = licenses.installed()[0].license_id
        receipt = licenses.deactivate()
        # The receipt goes out before the entry is written: it is the only way to free the seat.
        if out_file is None:
            out.print(receipt, markup=False, end="")
        else:
            write_new(out_file, receipt)
            out.print(f"license deactivated; send {out_file} to the vendor to free the seat")
        log.record(
            f"license {license_id} was deactivated",
            "license.deactivate",
            license_id,
            receipt=str(out_file) if out_file is not None else "stdout",
        )


@license_app.command("check-model")
def check_model_command(
    ctx: typer.Context,
    model_dir: Path = typer.Argument(..., help="A sealed model directory."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Decrypt and authenticate every chunk of a sealed model in memory (nothing is written)."""
    report = service(ctx).check_model(model_dir)
    if as_json:
        out.print(json.dumps(report), markup=False)
    else:
        out.print(
            f"{model_dir}: model {report['model_id']} OK ({report['files']} files, {report['chunks']} chunks, "
            f"{report['bytes'] / 2**20:.1f} MiB authenticated in {report['seconds']} s)",
            markup=False,
        )


@license_app.command("roots")
def roots_command(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List the vendor root keys this appliance trusts and where each comes from."""
    trust = TrustStore.load(state_dir(ctx))
    roots = [r.describe() for r in trust.roots()]
    if as_json:
        out.print(
            json.dumps({"allow_operator_roots": trust.allow_operator_roots, "roots": roots}), markup=False
        )
        return
    if not roots:
        out.print("no trusted roots", markup=False)
    for root in roots:
        out.print(f"{root['kid']}  {root['source']:<8}  {root['name']}", markup=False)


@license_app.command("trust")
def trust_command(
    ctx: typer.Context, root_file: Path = typer.Argument(..., help="The vendor's root.json (public key).")
) -> None:
    """Add a vendor root key (development builds only; release builds pin their roots)."""
    directory = state_dir(ctx)
    with audit(ctx) as log:
        LicenseStore(directory).ensure()
        read_text(root_file, "root key file")
        root = TrustStore.load(directory).add_operator_root(directory, root_file)
        out.print(f"trusting root {root.kid} ({root.name})", markup=False)
        log.record(
            f"root {root.kid} was added to the trusted roots",
            "license.trust",
            root.kid,
            name=root.name,
            file=str(root_file),
        )


license_tpm.register(license_app)


def register(app: typer.Typer) -> None:
    app.add_typer(license_app, name="license")
