"""Chunking throughput and chunk sizes over the CPython standard library, on one core.

    .venv/bin/python bench/chunking_bench.py [--repeat 3] [--budget 1500] [--root DIR] [--json]

Measures side by side in one process, as the median over `--repeat` interleaved passes (CPU time of the
process, which a shared machine disturbs less than wall time, and wall time):
  parse   tree-sitter parse alone: the floor any tree-sitter chunker pays
  chunk   `parse_file`: parse + cAST split-then-merge + tags query for symbols + chunk objects
  lines   `parse_file` without a language: 40-line windows, the fallback
and reports files/s and MB/s, the chunk size distribution (non-whitespace characters and lines per chunk), the
share of chunks with a symbol path, and how many files fell back to line windows.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, stdlib_dir

from indexer.chunking import parse_file
from indexer.languages import get_parser
from indexer.types import ParsedFile

_DROP_WHITESPACE = str.maketrans("", "", " \t\n\r\f\v")


def load_corpus(root: Path) -> list[str]:
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts)
    return [p.read_bytes().decode("utf-8", "replace") for p in files]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def percentiles(values: list[int]) -> dict[str, int]:
    ordered = sorted(values)

    def at(q: float) -> int:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {"p10": at(0.10), "p50": at(0.50), "p90": at(0.90), "p99": at(0.99), "max": ordered[-1]}


def distribution(parsed: list[ParsedFile], budget: int) -> dict[str, object]:
    chunks = [c for p in parsed for c in p.chunks]
    sizes = [len(c.text.translate(_DROP_WHITESPACE)) for c in chunks]
    return {
        "chunks": len(chunks),
        "chunks_per_file": round(len(chunks) / len(parsed), 1),
        "non_whitespace_per_chunk": percentiles(sizes),
        "lines_per_chunk": percentiles([c.end_line - c.start_line + 1 for c in chunks]),
        "over_budget": sum(size > budget for size in sizes),
        "with_symbol_path": round(sum(bool(c.symbol) for c in chunks) / len(chunks), 3),
    }


def measure(corpus: list[str], budget: int, repeat: int) -> dict[str, object]:
    encoded = [text.encode("utf-8", "surrogatepass") for text in corpus]
    megabytes = sum(map(len, encoded)) / 1e6
    ts_parser = get_parser("python")
    parse_file("x = 1\n", "python")  # load the grammar and compile the query outside the timings
    runs: dict[str, list[tuple[float, float]]] = {"parse": [], "chunk": [], "lines": []}
    chunked: list[ParsedFile] = []
    windows: list[ParsedFile] = []
    for _ in range(repeat):  # interleaved, so that noise on the shared machine hits all three alike
        runs["parse"].append(timed(lambda: [ts_parser.parse(data) for data in encoded]))
        chunked.clear()
        runs["chunk"].append(
            timed(lambda: chunked.extend(parse_file(t, "python", budget=budget) for t in corpus))
        )
        windows.clear()
        runs["lines"].append(
            timed(lambda: windows.extend(parse_file(t, None, budget=budget) for t in corpus))
        )
    cpu = {name: statistics.median(c for _, c in times) for name, times in runs.items()}
    wall = {name: statistics.median(w for w, _ in times) for name, times in runs.items()}
    return {
        "machine": describe(),
        "files": len(corpus),
        "megabytes": round(megabytes, 1),
        "budget": budget,
        "repeat": repeat,
        "cpu_seconds": {k: round(v, 2) for k, v in cpu.items()},
        "wall_seconds": {k: round(v, 2) for k, v in wall.items()},
        "files_per_second": {k: round(len(corpus) / v) for k, v in cpu.items()},
        "megabytes_per_second": {k: round(megabytes / v, 2) for k, v in cpu.items()},
        "chunk_over_parse": round(cpu["chunk"] / cpu["parse"], 2),
        "symbols": sum(len(p.symbols) for p in chunked),
        "fallback_files": sum(p.parser == "lines" for p in chunked),
        "cast": distribution(chunked, budget),
        "lines": distribution(windows, budget),
    }


def print_table(report: dict) -> None:
    print(
        f"{report['machine']}; one process; {report['files']} files, {report['megabytes']} MB; "
        f"budget {report['budget']}; median of {report['repeat']}"
    )
    print(f"{'':8}{'CPU s':>8}{'wall s':>8}{'files/s':>10}{'MB/s':>8}   (rates from CPU time)")
    for name, cpu in report["cpu_seconds"].items():
        print(
            f"{name:8}{cpu:>8.2f}{report['wall_seconds'][name]:>8.2f}"
            f"{report['files_per_second'][name]:>10}{report['megabytes_per_second'][name]:>8.2f}"
        )
    print(
        f"chunk/parse CPU ratio {report['chunk_over_parse']}; symbols {report['symbols']}; "
        f"files that fell back to line windows {report['fallback_files']}"
    )
    for name in ("cast", "lines"):
        d = report[name]
        print(
            f"{name}: {d['chunks']} chunks ({d['chunks_per_file']}/file), with a symbol path "
            f"{d['with_symbol_path']:.1%}, over budget {d['over_budget']}"
        )
        print(f"  non-whitespace chars/chunk {d['non_whitespace_per_chunk']}")
        print(f"  lines/chunk {d['lines_per_chunk']}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", type=Path, default=stdlib_dir())
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=int, default=1500)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args()
    report = measure(load_corpus(args.root), args.budget, args.repeat)
    if args.json:
        print(json.dumps(report))
    else:
        print_table(report)


if __name__ == "__main__":
    main()
