"""`codemoat embedder`: the bundled embedder fine-tuned on the indexed code (indexer/embedding/tuning.py)."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from appliance.cli.index import RichProgress, open_index
from indexer.embedding.tuning import MIN_PAIRS

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
embedder_app = typer.Typer(help="The dense embedder, tuned on the indexed code.", no_args_is_help=True)


@embedder_app.command("tune")
def tune(
    ctx: typer.Context,
    epochs: int = typer.Option(5, "--epochs", min=1, max=50, help="Passes over the training pairs."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Fine-tune the embedder on the indexed repositories' docstrings, then embed them again with it.

    Kept only when it ranks held-out definitions better than the bundled table; needs the index to itself
    (stop `codemoat serve` first)."""
    with open_index(ctx) as index:
        if not as_json:
            err.print(
                f"tuning on the docstrings of {len(index.repositories())} repositories ...", markup=False
            )
        progress = None if as_json or not err.is_terminal else RichProgress(err)
        result = index.tune_embedder(epochs=epochs, progress=progress)
    r = result.report
    if as_json:
        body = {
            **r.to_json(),
            "reindexed": [rep.repo for rep in result.reindexed],
            "missing": result.missing,
        }
        out.print(json.dumps(body), markup=False)
        return
    verdict = "kept" if r.kept else "discarded (no better than the bundled table)"
    out.print(
        f"{r.pairs:,} docstring pairs ({r.held_out} held out), {r.epochs} epochs in {r.seconds:.1f} s; "
        f"held-out MRR@10 {r.mrr_before:.3f} → {r.mrr_after:.3f}: {verdict}",
        markup=False,
    )
    if r.kept:
        out.print(f"re-embedded {', '.join(rep.repo for rep in result.reindexed) or 'nothing'}", markup=False)
    _warn_missing(result.missing)


@embedder_app.command("status")
def status(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """Which embedder the index uses."""
    with open_index(ctx) as index:
        identity = index.dense_identity()
        tuned = index.settings.embedder != identity
    if as_json:
        out.print(json.dumps({"embedder": identity, "tuned": tuned}), markup=False)
        return
    hint = (
        ""
        if tuned
        else f" (`codemoat embedder tune` fits it to the indexed code; needs {MIN_PAIRS}+ docstrings)"
    )
    out.print(f"{identity}{hint}", markup=False)


@embedder_app.command("reset")
def reset(ctx: typer.Context) -> None:
    """Back to the bundled embedder; every repository is embedded again."""
    with open_index(ctx) as index:
        progress = None if not err.is_terminal else RichProgress(err)
        reports, missing = index.reset_embedder(progress=progress)
    out.print(
        f"bundled embedder restored; re-embedded {', '.join(r.repo for r in reports)}"
        if reports
        else "nothing to reset",
        markup=False,
    )
    _warn_missing(missing)


def _warn_missing(missing: list[str]) -> None:
    if missing:
        err.print(
            f"warning: not re-embedded, their folders are gone: {', '.join(missing)}; "
            "index them again from where they are now (or `codemoat repo remove` them)",
            markup=False,
        )


def register(app: typer.Typer) -> None:
    app.add_typer(embedder_app, name="embedder")
