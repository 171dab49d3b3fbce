"""`codemoat vendor ...`: the vendor's side (keygen, seal, issue, lease, revoke, receipt). Runs on the vendor's
machine, never on a customer's appliance; everything lives in the `--vendor DIR` directory."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer
from rich.console import Console

from appliance.cli.license_files import read_text, write_new
from appliance.cli.passphrase import PassphraseFd, read_passphrase
from appliance.errors import InvalidInputError
from licensing.errors import FormatError
from licensing.lease import DEFAULT_LEASE_DAYS
from licensing.sealed.format import DEFAULT_CHUNK_SIZE
from licensing.vendor import VendorKeyring

out = Console(highlight=False, soft_wrap=True)
vendor_app = typer.Typer(
    help="Vendor tools: keys, sealed models, licenses and leases, weight fingerprints and provenance.",
    no_args_is_help=True,
)

VendorDir = typer.Option(..., "--vendor", help="The vendor key directory (from `codemoat vendor keygen`).")
DensityOption = typer.Option(
    None, "--density", min=0.001, max=0.5, help="Share of each marked matrix's entries the fingerprint moves."
)
StrengthOption = typer.Option(
    None, "--strength", min=0.001, max=0.2, help="How far each moves, in units of the matrix's RMS."
)


def _now() -> int:
    return int(time.time())


def keyring(vendor: Path, passphrase_fd: int | None) -> VendorKeyring:
    if not VendorKeyring.is_encrypted(vendor):
        if passphrase_fd is not None and (vendor / "issuer.pem").is_file():
            raise InvalidInputError(
                f"the vendor keys in {vendor} are not encrypted: leave out --passphrase-fd",
                param="passphrase-fd",
            )
        return VendorKeyring.load(vendor)
    return VendorKeyring.load(vendor, read_passphrase(passphrase_fd, what=f"the vendor keys in {vendor}"))


@vendor_app.command("keygen")
def keygen_command(
    out_dir: Path = typer.Option(..., "--out", help="New vendor key directory."),
    name: str = typer.Option("CodeMoat vendor", "--name", help="Name shown to operators."),
    issuer_days: int = typer.Option(3 * 365, "--issuer-days", min=1),
    passphrase_fd: int | None = PassphraseFd,
    no_passphrase: bool = typer.Option(
        False, "--no-passphrase", help="Write the private keys unencrypted (throwaway test vendors only)."
    ),
) -> None:
    """Create a root key, an issuer key and the issuer's certificate; the private keys are encrypted with a
    passphrase (asked twice, or read from --passphrase-fd). Keep the root key's directory offline."""
    passphrase = (
        None if no_passphrase else read_passphrase(passphrase_fd, what="the new vendor keys", new=True)
    )
    keyring = VendorKeyring.generate(
        out_dir, name=name, now=_now(), issuer_days=issuer_days, passphrase=passphrase
    )
    out.print(
        f"vendor keys in {out_dir}: root {keyring.root_kid}, issuer {keyring.issuer_kid}; appliances trust "
        f"{out_dir / 'root.json'}",
        markup=False,
    )


@vendor_app.command("seal")
def seal_command(
    model_dir: Path = typer.Argument(..., help="A safetensors model directory (save_pretrained)."),
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
    model_id: str = typer.Option(..., "--model-id", help="The id licenses name this model by."),
    out_dir: Path = typer.Option(..., "--out", help="New directory for the sealed model."),
    chunk_size: int = typer.Option(DEFAULT_CHUNK_SIZE, "--chunk-size", min=4096),
    customer: str | None = typer.Option(
        None, "--customer", help="Fingerprint the weights for this customer first (`vendor mark`, then seal)."
    ),
    density: float | None = DensityOption,
    strength: float | None = StrengthOption,
) -> None:
    """Encrypt the weights in chunks (AES-256-GCM), copy config/tokenizer in plain, sign the manifest."""
    if customer is None and (density is not None or strength is not None):
        raise InvalidInputError(
            "--density and --strength shape a fingerprint: give --customer too", param="customer"
        )
    manifest = keyring(vendor, passphrase_fd).seal(
        model_dir,
        out_dir,
        model_id=model_id,
        now=_now(),
        chunk_size=chunk_size,
        customer=customer,
        density=density,
        strength=strength,
    )
    marked = f", fingerprinted for {customer}" if customer else ""
    out.print(f"sealed {model_id} into {out_dir}{marked} (manifest {manifest})", markup=False)


@vendor_app.command("issue")
def issue_command(
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
    request: Path = typer.Option(..., "--request", help="The appliance's activation request."),
    customer: str = typer.Option(..., "--customer"),
    seats: int = typer.Option(..., "--seats", min=1),
    days: int = typer.Option(..., "--days", min=1, help="Contract length."),
    models: str = typer.Option(..., "--models", help="Model ids, comma-separated."),
    out_file: Path = typer.Option(..., "--out"),
    max_gpus: int = typer.Option(8, "--max-gpus", min=0),
    lease_days: int = typer.Option(DEFAULT_LEASE_DAYS, "--lease-days", min=1),
    grace_days: int = typer.Option(7, "--grace-days", min=0),
    restricted_days: int = typer.Option(7, "--restricted-days", min=0),
) -> None:
    """Answer an activation request with a license bound to that appliance (model keys wrapped to it)."""
    model_ids = [m.strip() for m in models.split(",") if m.strip()]
    if not model_ids:
        raise FormatError("--models names no model")
    text = keyring(vendor, passphrase_fd).issue(
        read_text(request, "activation request"),
        customer=customer,
        seats=seats,
        days=days,
        models=model_ids,
        now=_now(),
        max_gpus=max_gpus,
        lease_days=lease_days,
        grace_days=grace_days,
        restricted_days=restricted_days,
    )
    write_new(out_file, text)
    out.print(f"license written to {out_file}", markup=False)


@vendor_app.command("lease")
def lease_command(
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
    license_file: Path = typer.Option(..., "--license", help="The license to renew."),
    days: int = typer.Option(DEFAULT_LEASE_DAYS, "--days", min=1),
    out_file: Path = typer.Option(..., "--out"),
) -> None:
    """Issue the next lease (higher sequence, current revocation list) for a license."""
    text = keyring(vendor, passphrase_fd).lease(
        read_text(license_file, "license file"), days=days, now=_now()
    )
    write_new(out_file, text)
    out.print(f"lease written to {out_file}", markup=False)


@vendor_app.command("revoke")
def revoke_command(
    license_id: str = typer.Argument(...), vendor: Path = VendorDir, passphrase_fd: int | None = PassphraseFd
) -> None:
    """Add a license to the revocation list carried by every later lease."""
    keyring(vendor, passphrase_fd).revoke(license_id)
    out.print(f"{license_id} revoked; leases issued from now on carry it", markup=False)


@vendor_app.command("sign-release")
def sign_release_command(
    manifest: Path = typer.Argument(..., help="The bundle's checksum manifest (SHA256SUMS)."),
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
    version: str = typer.Option(..., "--version", help="The product version the bundle installs."),
    build: int = typer.Option(
        ..., "--build", min=0, help="Build number: later builds of a version are newer."
    ),
    platform: str = typer.Option(..., "--platform", help="The wheel platform, e.g. cp311-linux_x86_64."),
    out_file: Path = typer.Option(..., "--out"),
) -> None:
    """Sign a bundle's checksum manifest with the issuer key; installers and `codemoat update` check it."""
    text = keyring(vendor, passphrase_fd).sign_release(
        read_text(manifest, "checksum manifest").encode(),
        version=version,
        build=build,
        platform=platform,
        now=_now(),
    )
    write_new(out_file, text)
    out.print(f"release signature written to {out_file}", markup=False)


@vendor_app.command("receipt")
def receipt_command(
    receipt: Path = typer.Argument(..., help="A deactivation receipt."),
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
) -> None:
    """Verify an appliance's deactivation receipt and free its seat (the license is revoked)."""
    payload = keyring(vendor, passphrase_fd).accept_receipt(read_text(receipt, "receipt"))
    out.print(json.dumps(payload), markup=False)


def register(app: typer.Typer) -> None:
    from appliance.cli import vendor_forensics

    vendor_forensics.register(vendor_app)
    app.add_typer(vendor_app, name="vendor")
