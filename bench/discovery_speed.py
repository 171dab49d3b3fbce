"""Discovery speed on the CPython standard library: `discover` + `read_source` for every file, in-process.

    .venv/bin/python bench/discovery_speed.py [--corpus DIR] [--repeat 7]

Reads the installed standard library in place (a folder its enclosing pyenv work tree ignores, so it is
walked as a plain folder; `site-packages` and `__pycache__` are skipped as vendored folders). The first pass
warms the page cache and is not counted. Reports the median over the repeats of: discovery alone;
discovery + reading (content checks, decoding, redaction) in wall and CPU time; and, interleaved in the
same loop as a yardstick for a noisy shared machine, a bare `read_bytes()` of the same accepted files.
Target: discovery + reading < 1.5 s."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, stdlib_dir  # noqa: E402

from indexer.config import IndexerSettings  # noqa: E402
from indexer.discovery import SourceText, discover, read_source  # noqa: E402
from indexer.types import Skip, SourceFile  # noqa: E402


def one_pass(corpus: Path, settings: IndexerSettings) -> tuple[float, float, Counter[str], int, int, float]:
    cpu_start = time.process_time()
    start = time.perf_counter()
    entries = list(discover(corpus, settings))
    listed = time.perf_counter()
    outcome: Counter[str] = Counter()
    nbytes = 0
    redactions = 0
    for entry in entries:
        result: SourceText | Skip = entry if isinstance(entry, Skip) else read_source(entry, settings)
        if isinstance(result, Skip):
            outcome[result.reason.value] += 1
        else:
            outcome["read"] += 1
            nbytes += result.size
            redactions += result.redactions
    done = time.perf_counter()
    return listed - start, done - start, outcome, nbytes, redactions, time.process_time() - cpu_start


def bare_read(paths: list[Path]) -> float:
    start = time.perf_counter()
    for path in paths:
        path.read_bytes()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=stdlib_dir())
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    settings = IndexerSettings()

    one_pass(args.corpus, settings)  # warm the page cache
    accepted = [e.abs_path for e in discover(args.corpus, settings) if isinstance(e, SourceFile)]
    runs, bare = [], []
    for _ in range(args.repeat):
        runs.append(one_pass(args.corpus, settings))
        bare.append(bare_read(accepted))
    list_s = statistics.median(r[0] for r in runs)
    total_s = statistics.median(r[1] for r in runs)
    cpu_s = statistics.median(r[5] for r in runs)
    _, _, outcome, nbytes, redactions, _ = runs[-1]
    files = outcome["read"]
    skipped = {k: v for k, v in sorted(outcome.items()) if k != "read"}
    listed = len(accepted)
    bare_s = statistics.median(bare)

    print(f"machine: {describe()}")
    print(f"corpus: {args.corpus}")
    print(f"discover: {listed} files accepted by path, median {list_s * 1000:.0f} ms over {args.repeat} runs")
    print(
        f"discover + read_source: {files} files read, {nbytes / 1e6:.1f} MB, median {total_s:.3f} s "
        f"({files / total_s:.0f} files/s, {nbytes / 1e6 / total_s:.0f} MB/s); "
        f"min {min(r[1] for r in runs):.3f} s, max {max(r[1] for r in runs):.3f} s; "
        f"CPU time of this process (git child processes excluded) median {cpu_s:.3f} s"
    )
    print(
        f"bare read_bytes() of the same {listed} files: median {bare_s:.3f} s; "
        f"ratio discover+read / bare read: {total_s / bare_s:.1f}x"
    )
    print(f"skipped: {skipped}; redactions: {redactions}")


if __name__ == "__main__":
    main()
