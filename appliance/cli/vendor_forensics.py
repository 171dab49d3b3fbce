"""`codemoat vendor mark|trace|provenance`: the vendor's forensics on weights (licensing/forensics/).

A trace or a provenance answer is evidence for a dispute, so both print the statistic and its p-value, and a
trace names a customer only below a family-wise p-value of --alpha (default 1e-6): never a best guess."""

from __future__ import annotations

import json
import math
from pathlib import Path

import typer

from appliance.cli.passphrase import PassphraseFd
from appliance.cli.vendor import DensityOption, StrengthOption, VendorDir, _now, keyring, out
from appliance.errors import InvalidInputError


def _p_text(log10_p: float) -> str:
    return "< 1e-300" if log10_p <= -300 else f"{10.0**log10_p:.3g}"


def mark_command(
    model_dir: Path = typer.Argument(..., help="A safetensors model directory (save_pretrained)."),
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
    customer: str = typer.Option(..., "--customer", help="Who this copy is for."),
    out_dir: Path = typer.Option(..., "--out", help="New directory for the marked plaintext copy."),
    model_id: str = typer.Option("model", "--model-id", help="The model id the registry files it under."),
    density: float | None = DensityOption,
    strength: float | None = StrengthOption,
) -> None:
    """Write the copy of the weights that CUSTOMER's memory would hold (the fingerprint `seal --customer`
    embeds), and record the delivery in the vendor's fingerprint registry."""
    result = keyring(vendor, passphrase_fd).mark(
        model_dir,
        out_dir,
        customer=customer,
        model_id=model_id,
        now=_now(),
        density=density,
        strength=strength,
    )
    out.print(
        f"marked {result.tensors} tensors ({result.positions:,} entries) for {customer} into {out_dir}; "
        f"expected score of an unchanged copy {result.expected_z:.1f}",
        markup=False,
    )


def trace_command(
    suspect: Path = typer.Argument(..., help="A suspect model: safetensors directory or GGUF file."),
    vendor: Path = VendorDir,
    passphrase_fd: int | None = PassphraseFd,
    alpha: float = typer.Option(
        1e-6, "--alpha", min=1e-300, max=0.01, help="Family-wise p-value below which a customer is named."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Test SUSPECT against every registered customer's fingerprint."""
    trace = keyring(vendor, passphrase_fd).trace(suspect, alpha=alpha)
    first = trace.named[0] if trace.named else None
    best = trace.best
    log10_p = (first or best).log10_p
    if as_json:
        print(
            json.dumps(
                {
                    "customer": first.customer if first else None,
                    "p_value": 10.0**log10_p,
                    "log10_p_value": log10_p,
                    "score": (first or best).z,
                    "named": [
                        {
                            "customer": a.customer,
                            "score": a.z,
                            "p_value": a.p_value,
                            "log10_p_value": a.log10_p,
                        }
                        for a in trace.named
                    ],
                    "tested": trace.tested,
                    "tensors": trace.tensors,
                    "positions": trace.positions,
                    "alpha": trace.alpha,
                    "suspect": trace.source,
                }
            )
        )
        return
    if not trace.named:
        chance = math.sqrt(2 * math.log(max(trace.tested, 2)))
        out.print(
            f"no registered customer: {trace.tested} tested over {trace.positions:,} entries; the highest score, "
            f"{best.z:.2f}, is within what chance gives (about {chance:.1f} for {trace.tested})",
            markup=False,
        )
        return
    for a in trace.named:
        out.print(
            f"{a.customer}: score {a.z:.1f}, p {_p_text(a.log10_p)} (family-wise over {trace.tested} customers)",
            markup=False,
        )
    if len(trace.named) > 1:
        out.print("several customers' fingerprints are present: the suspect mixes their copies", markup=False)


def provenance_command(
    suspect: Path = typer.Argument(..., help="A suspect model: safetensors directory or GGUF file."),
    base: Path = typer.Option(..., "--base", help="The vendor's model it may derive from."),
    alpha: float = typer.Option(
        1e-6, "--alpha", min=1e-300, max=0.5, help="p-value below which it is derived."
    ),
    max_blocks: int | None = typer.Option(
        None, "--max-blocks", min=1, help="Compare this many evenly spaced blocks (default: all)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object on stdout."),
) -> None:
    """Test, from the weights alone, whether SUSPECT was derived from BASE (fine-tuned, pruned, rescaled,
    hidden units reordered, partly re-initialised)."""
    from licensing.forensics.provenance import check_provenance
    from licensing.forensics.weights import open_weights

    if suspect.resolve() == base.resolve():
        raise InvalidInputError("the suspect and --base are the same path", param="base")
    result = check_provenance(open_weights(suspect), open_weights(base), alpha=alpha, max_blocks=max_blocks)
    if as_json:
        print(
            json.dumps(
                {
                    "derived": result.derived,
                    "p_value": result.p_value,
                    "log10_p_value": result.log10_p,
                    "comparable": result.comparable,
                    "reason": result.reason,
                    "residual_aligned": result.residual_aligned,
                    "matching_blocks": result.matching_blocks(),
                    "blocks": [
                        {"block": b.block, "correlation": b.correlation, "log10_p_value": b.log10_p}
                        for b in result.blocks
                    ],
                }
            )
        )
        return
    if not result.comparable:
        out.print(f"not derived: {result.reason}", markup=False)
        return
    verdict = "derived" if result.derived else "no evidence it is derived"
    matching = result.matching_blocks()
    out.print(
        f"{verdict}: p {_p_text(result.log10_p)} over {len(result.blocks)} blocks; blocks that match: "
        f"{', '.join(map(str, matching)) or 'none'}",
        markup=False,
    )


def register(vendor_app: typer.Typer) -> None:
    vendor_app.command("mark")(mark_command)
    vendor_app.command("trace")(trace_command)
    vendor_app.command("provenance")(provenance_command)
