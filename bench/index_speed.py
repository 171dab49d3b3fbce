"""Indexing speed on the CPython standard library: full index, then re-index after touching 1 and 100 files.

    .venv/bin/python bench/index_speed.py [--corpus DIR] [--keep]

Runs the real CLI (`codemoat index --json`) in a subprocess against a copy of the corpus in a temp directory,
reporting wall time, files/s, MB/s and the child's peak RSS. Targets on 2 cores: full ≤ 60 s, one file ≤ 2 s."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, stdlib_dir  # noqa: E402

CLI = [sys.executable, "-m", "appliance.cli.main"]


def run_index(corpus: Path, home: Path) -> tuple[dict, float, float]:
    """Returns (report, wall seconds, peak RSS MiB of this child)."""
    start = time.perf_counter()
    # ru_maxrss of RUSAGE_CHILDREN is the max over all children ever waited for, so each run reports its own peak.
    code = (
        "import resource, sys\n"
        "from appliance.cli.main import main\n"
        "code = 0\n"
        "try:\n main(['index', sys.argv[1], '--name', 'stdlib', '--json'])\n"
        "except SystemExit as exc:\n code = exc.code\n"
        "print('RSS', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "sys.exit(code)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(corpus)],
        capture_output=True,
        text=True,
        env={**os.environ, "CODEMOAT_HOME": str(home)},
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    rss_kb = int([ln for ln in proc.stderr.splitlines() if ln.startswith("RSS")][-1].split()[1])
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    return report, wall, rss_kb / 1024


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", type=Path, default=stdlib_dir())
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="codemoat-bench-"))
    corpus = tmp / "stdlib"
    shutil.copytree(
        args.corpus, corpus, symlinks=True, ignore=shutil.ignore_patterns("site-packages", "__pycache__")
    )
    home = tmp / "home"
    print(f"machine: {describe()}")
    print(f"corpus: {args.corpus} (copied to {corpus})")

    full, wall, rss = run_index(corpus, home)
    mb = full["bytes"] / 1e6
    print(
        f"full index: {full['files']} files, {mb:.1f} MB, {full['total_chunks']} chunks, "
        f"{full['symbols']} symbols, skipped {full['skipped']} {full['skip_reasons']}"
    )
    print(
        f"  wall {wall:.1f} s (in-run {full['seconds']:.1f} s), {full['files'] / full['seconds']:.0f} files/s, "
        f"{mb / full['seconds']:.2f} MB/s, peak RSS {rss:.0f} MiB"
    )

    noop, wall_noop, _ = run_index(corpus, home)
    print(
        f"re-index, nothing changed: in-run {noop['seconds']:.2f} s (wall {wall_noop:.1f} s incl. start-up)"
    )

    py_files = sorted(p for p in corpus.rglob("*.py") if "test" not in p.parts)

    def touch(n: int) -> None:
        for p in py_files[:n]:
            with p.open("a", encoding="utf-8") as fh:
                fh.write(f"\n# touched by the benchmark at {time.time()}\n")

    print("cold: a fresh `codemoat index` process (imports sentence-transformers, loads the embedder):")
    for n in (1, 100):
        touch(n)
        rep, wall_n, _ = run_index(corpus, home)
        print(
            f"  touched {n:>3} file(s): wall {wall_n:.2f} s, in-run {rep['seconds']:.2f} s, "
            f"{rep['files_changed']} changed, {rep['chunks']} chunks written"
        )

    # Warm: what the appliance's repository jobs (and any long-lived caller of CodeIndex) pay.
    from indexer.config import IndexerSettings
    from indexer.service import CodeIndex

    print("warm: CodeIndex.index in a process that already loaded the embedder (the server's sync jobs):")
    with CodeIndex.open(IndexerSettings(), home) as index:
        index.embedder  # noqa: B018 - load it, as the running appliance has
        for n in (1, 100):
            runs = []
            for _ in range(3):
                touch(n)
                t0 = time.perf_counter()
                rep = index.index(corpus, name="stdlib")
                runs.append(time.perf_counter() - t0)
            runs.sort()
            print(
                f"  touched {n:>3} file(s): median {runs[1]:.2f} s of 3 (min {runs[0]:.2f}), "
                f"{rep.files_changed} changed, {rep.chunks} chunks written"
            )
    if not args.keep:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
