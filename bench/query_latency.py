"""In-process query latency over the standard-library index, at 1 and 8 concurrent callers.

    .venv/bin/python bench/query_latency.py [--home DIR] [--queries 300]

Indexes the standard library into a temporary data directory (or reuses --home if it already holds a
`stdlib` repository), then issues identifier-like and natural-language queries through `CodeIndex.search`
from 1 and 8 threads. Target: p50 ≤ 10 ms, p99 ≤ 30 ms (hybrid, top 10)."""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, percentile, stdlib_dir  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.service import CodeIndex  # noqa: E402
from indexer.types import SearchFilter  # noqa: E402


def make_queries(n: int) -> list[str]:
    rng = random.Random(7)
    words = set()
    for p in sorted(stdlib_dir().glob("*.py"))[:200]:
        words.update(
            re.findall(r"\bdef ([a-z_][a-z0-9_]{3,})", p.read_text(encoding="utf-8", errors="replace"))
        )
    names = sorted(words)
    phrases = [
        "parse an http header",
        "open a temporary file securely",
        "retry a failed connection",
        "compare two dates",
        "read a config file",
        "encode bytes to base64",
        "walk a directory tree",
        "format a traceback",
        "split a path into parts",
        "compute a checksum of a file",
    ]
    return [rng.choice(names) if i % 2 else rng.choice(phrases) for i in range(n)]


def measure(index: CodeIndex, queries: list[str], mode: str, threads: int) -> list[float]:
    flt = SearchFilter(repos=("stdlib",))

    def one(q: str) -> float:
        t0 = time.perf_counter()
        index.search(q, k=10, mode=mode, flt=flt)  # type: ignore[arg-type]
        return (time.perf_counter() - t0) * 1000

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, queries))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--home", type=Path)
    ap.add_argument("--queries", type=int, default=300)
    args = ap.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="codemoat-latency-"))
    index = CodeIndex.open(IndexerSettings(), home)
    if "stdlib" not in {r.name for r in index.repositories()}:
        report = index.index(stdlib_dir(), name="stdlib")
        print(f"indexed {report.files} files, {report.total_chunks} chunks in {report.seconds:.1f} s")
    queries = make_queries(args.queries)
    measure(index, queries[:20], "hybrid", 1)  # warm-up
    print(f"machine: {describe()}")
    print("| mode | callers | p50 ms | p99 ms | queries/s |")
    print("|---|---|---|---|---|")
    for mode in ("hybrid", "dense", "sparse"):
        for threads in (1, 8):
            t0 = time.perf_counter()
            lat = measure(index, queries, mode, threads)
            qps = len(queries) / (time.perf_counter() - t0)
            print(
                f"| {mode} | {threads} | {percentile(lat, 50):.2f} | {percentile(lat, 99):.2f} | {qps:.0f} |"
            )
    index.close()


if __name__ == "__main__":
    main()
