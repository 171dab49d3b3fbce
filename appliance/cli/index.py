"""`codemoat index`, `codemoat search` and `codemoat repo`: the indexer's commands."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from appliance.cli.index_handoff import HandedOffReport, IndexHandoff
from appliance.config import Settings
from appliance.state.models import IndexJob
from indexer.errors import QueryError, StoreInUseError
from indexer.pipeline import IndexReport
from indexer.service import CodeIndex, repo_name_for
from indexer.types import SEARCH_MODES, Hit, SearchFilter

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)
repo_app = typer.Typer(help="Indexed repositories.", no_args_is_help=True)


class _RateColumn(ProgressColumn):
    """files/s and MB/s since the start of the run."""

    def render(self, task) -> Text:  # type: ignore[override]
        elapsed = task.elapsed or 0.0
        if elapsed <= 0:
            return Text("")
        mb = task.fields.get("bytes", 0) / 1e6
        return Text(
            f"{task.completed / elapsed:,.0f} files/s  {mb / elapsed:,.1f} MB/s", style="progress.data.speed"
        )


class RichProgress:
    """Adapts the pipeline's Progress protocol to a rich progress bar on stderr."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            _RateColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._task = None
        self._bytes = 0

    def start(self, repo: str, total_files: int) -> None:
        self._progress.start()
        self._task = self._progress.add_task(f"indexing {repo}", total=total_files, bytes=0)

    def advance(self, files: int, nbytes: int) -> None:
        self._bytes += nbytes
        self._progress.update(self._task, advance=files, bytes=self._bytes)

    def finish(self) -> None:
        self._progress.stop()


def open_index(ctx: typer.Context) -> CodeIndex:
    settings: Settings = ctx.obj
    return CodeIndex.open(settings.indexer, settings.home)


def _summary(reports: list[IndexReport | HandedOffReport]) -> Table:
    """One column per repository, one row per measure: readable at 80 columns (logs, CI) and wider."""
    table = Table(title="Index summary", title_justify="left")
    table.add_column("")
    for r in reports:
        table.add_column(r.repo, justify="right", overflow="fold")
    rows = {
        "files": lambda r: f"{r.files:,}",
        "changed": lambda r: f"{r.files_changed:,}",
        "removed": lambda r: f"{r.files_removed:,}",
        "chunks written": lambda r: f"{r.chunks:,}",
        "total chunks": lambda r: f"{r.total_chunks:,}",
        "symbols": lambda r: f"{r.symbols:,}",
        "skipped": lambda r: _skipped(r.skip_reasons),
        "seconds": lambda r: f"{r.seconds:.1f}",
    }
    # A server's job reports less than the indexer itself: what it does not know is a dash, not a zero.
    shared = {"files", "changed", "total chunks", "seconds"}
    for label, cell in rows.items():
        table.add_row(
            label, *(cell(r) if isinstance(r, IndexReport) or label in shared else "—" for r in reports)
        )
    return table


def _skipped(reasons: dict[str, int]) -> str:
    if not reasons:
        return "0"
    detail = ", ".join(f"{reason} {count:,}" for reason, count in sorted(reasons.items()))
    return f"{sum(reasons.values()):,} ({detail})"


def index_command(
    ctx: typer.Context,
    paths: List[Path] = typer.Argument(..., help="Repository directories to index."),
    name: Optional[str] = typer.Option(None, "--name", help="Repository name (default: the directory name)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object per repository."),
) -> None:
    """Index repositories: only what changed since the last run is re-embedded."""
    if name is not None and len(paths) > 1:
        raise typer.BadParameter("--name applies to a single PATH", param_hint="--name")
    reports: list[IndexReport | HandedOffReport] = []
    with open_index(ctx) as index:
        for i, path in enumerate(paths):
            progress = None if as_json or not err.is_terminal else RichProgress(err)
            try:
                report = index.index(path, name=name, progress=progress)
            except StoreInUseError as busy:
                # The store opens at the first path, so nothing was indexed here: a running server takes
                # all the paths (see appliance/cli/index_handoff.py).
                _hand_off(ctx.obj, paths[i:], name, busy, as_json, reports)
                break
            reports.append(report)
            if report.recovered_manifest:
                err.print(
                    f"warning: the manifest was corrupt; moved to {report.recovered_manifest} and rebuilt",
                    markup=False,
                )
            if as_json:
                out.print(json.dumps(report.to_json()), markup=False)
    if not as_json:
        out.print(_summary(reports))


def _hand_off(
    settings: Settings,
    paths: list[Path],
    name: str | None,
    busy: StoreInUseError,
    as_json: bool,
    reports: list[IndexReport | HandedOffReport],
) -> None:
    handoff = IndexHandoff.open(settings)
    try:
        for path in paths:
            progress = None if as_json or not err.is_terminal else RichProgress(err)
            repo = name or repo_name_for(path)

            def claimed(job: IndexJob, repo: str = repo) -> None:
                if not as_json:
                    err.print(f"the index is open in a running server ({job.runner}): it indexes {repo}")

            report = handoff.index(path, repo, busy, progress, claimed)
            reports.append(report)
            if as_json:
                out.print(json.dumps(report.to_json()), markup=False)
    finally:
        handoff.close()


def _print_hits(hits: list[Hit]) -> None:
    if not hits:
        out.print("no results")
    for i, h in enumerate(hits, 1):
        where = f"{h.repo}/{h.path}:{h.start_line}-{h.end_line}"
        out.print(f"[bold]{i:>2}.[/bold] [cyan]{where}[/cyan]  {h.symbol}  [dim]{h.score:.4f}[/dim]")
        preview = [ln for ln in h.text.splitlines() if ln.strip()][:4]
        for ln in preview:
            out.print(f"      {ln[:120]}", markup=False)


def _read_queries(path: Path) -> list[tuple[object, str]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise QueryError(f"cannot read {path}: {exc.strerror or exc}") from None
    queries = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QueryError(f"{path}:{number}: not JSON ({exc.msg})") from None
        if not isinstance(obj, dict) or "id" not in obj or not isinstance(obj.get("query"), str):
            raise QueryError(f'{path}:{number}: expected an object with "id" and a string "query"')
        queries.append((obj["id"], obj["query"]))
    return queries


def search_command(
    ctx: typer.Context,
    query: Optional[str] = typer.Argument(None, help="What to look for (omit with --queries)."),
    k: int = typer.Option(10, "-k", help="Number of results."),
    mode: str = typer.Option("hybrid", "--mode", help="hybrid, dense or sparse."),
    repo: Optional[List[str]] = typer.Option(None, "--repo", help="Only this repository (repeatable)."),
    lang: Optional[List[str]] = typer.Option(None, "--lang", help="Only this language (repeatable)."),
    path_prefix: Optional[str] = typer.Option(None, "--path", help="Only paths starting with this prefix."),
    queries: Optional[Path] = typer.Option(None, "--queries", help='JSONL file of {"id", "query"} lines.'),
    as_json: bool = typer.Option(False, "--json", help="JSON output."),
) -> None:
    """Search the index: hybrid (dense + sparse, fused in Qdrant) by default."""
    if mode not in SEARCH_MODES:
        raise QueryError(f"--mode must be one of {', '.join(SEARCH_MODES)}, not {mode!r}")
    if (query is None) == (queries is None):
        raise QueryError("give either a QUERY or --queries FILE.jsonl")
    if not 1 <= k <= 1000:
        raise QueryError("-k must be between 1 and 1000")
    flt = SearchFilter(
        repos=tuple(repo) if repo else None,
        languages=tuple(lang) if lang else None,
        path_prefix=path_prefix or None,
    )
    with open_index(ctx) as index:
        unknown = index.unknown_repositories(repo or [])
        if unknown:
            indexed = ", ".join(r.name for r in index.manifest.repos()) or "none yet"
            raise QueryError(f"no repository named {', '.join(unknown)} is indexed (indexed: {indexed})")
        if queries is not None:
            batch = _read_queries(queries)
            step = 256
            for start in range(0, len(batch), step):
                part = batch[start : start + step]
                results = index.search_batch([q for _, q in part], k=k, mode=mode, flt=flt)  # type: ignore[arg-type]
                for (qid, _), hits in zip(part, results):
                    sys.stdout.write(json.dumps({"id": qid, "hits": [h.to_json() for h in hits]}) + "\n")
            sys.stdout.flush()
            return
        hits = index.search(query or "", k=k, mode=mode, flt=flt)  # type: ignore[arg-type]
    if as_json:
        sys.stdout.write(json.dumps({"query": query, "hits": [h.to_json() for h in hits]}) + "\n")
    else:
        _print_hits(hits)


@repo_app.command("list")
def repo_list(ctx: typer.Context, as_json: bool = typer.Option(False, "--json")) -> None:
    """List indexed repositories."""
    with open_index(ctx) as index:
        repos = index.repositories()
    if as_json:
        out.print(json.dumps([asdict(r) for r in repos]), markup=False)
        return
    table = Table()
    for col in ("repository", "root", "files", "chunks", "last commit", "state"):
        table.add_column(col)
    for r in repos:
        table.add_row(
            r.name,
            r.root,
            f"{r.files:,}",
            f"{r.chunks:,}",
            (r.last_commit or "")[:12],
            "interrupted" if r.interrupted else "ok",
        )
    out.print(table)


@repo_app.command("remove")
def repo_remove(ctx: typer.Context, name: str = typer.Argument(..., help="Repository name.")) -> None:
    """Remove a repository from the index."""
    with open_index(ctx) as index:
        if name not in {r.name for r in index.repositories()}:
            raise QueryError(f"no indexed repository named {name!r} (see `codemoat repo list`)")
        removed = index.remove_repository(name)
    out.print(f"removed {name} ({removed:,} chunks)")


def register(app: typer.Typer) -> None:
    app.command("index")(index_command)
    app.command("search")(search_command)
    app.add_typer(repo_app, name="repo")
