"""Call site → definition, plain hybrid against the import-aware search, on a machine left to itself.

    .venv/bin/python bench/import_search_latency.py

The same corpora and tasks as bench/retrieval_quality.py (reported split), shipped defaults only: MRR@10 and the
one-caller query p50/p99 of `CodeIndex.search` and `CodeIndex.search_near`, each query timed alone. Run it with
nothing else on the machine: the latency target (p50 ≤ 10 ms) is about one caller, not a loaded box."""

from __future__ import annotations

import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import retrieval_quality as rq  # noqa: E402
from machine import describe, percentile  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.retrieval import DEFAULT_NEAR  # noqa: E402
from indexer.service import CodeIndex  # noqa: E402


def main() -> None:
    print(f"machine: {describe()}")
    print("| corpus | search | MRR@10 | p50 ms | p99 ms | tasks |\n|---|---|---|---|---|---|")
    for name in ("thirdparty", "stdlib"):
        tmp = Path(tempfile.mkdtemp(prefix="codemoat-near-"))
        corpus = rq.copy_corpus(name, tmp / name, rq.stdlib_dir())
        rng = random.Random(20261122)
        mods = rq._modules(corpus)
        rq.docstring_tasks(corpus, mods, 400, rng)  # the same random stream as retrieval_quality.py
        calls = [t for t in rq.callsite_tasks(corpus, mods, 400, rng) if not t.tuning]
        with CodeIndex.open(IndexerSettings(), tmp / "home") as index:
            index.index(corpus, name=name)
            index.search("warm up", k=1)
            for label, search in (
                ("hybrid", rq.plain_search("hybrid")),
                ("+ imports", rq.near_search(DEFAULT_NEAR)),
            ):
                results, ms = rq.timed(search, index, calls, name)
                mrr = rq.score(calls, results)["mrr@10"]
                print(
                    f"| {name} | {label} | {mrr:.3f} | {percentile(ms, 50):.2f} | {percentile(ms, 99):.2f} "
                    f"| {len(calls)} |"
                )


if __name__ == "__main__":
    main()
