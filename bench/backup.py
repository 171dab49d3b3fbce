"""Backup and restore (issue 17) on an appliance whose index holds the CPython standard library: the size of
`codemoat backup create`, its time, and the time of `backup restore` alone and with `--reindex` (the vectors
are rebuilt, not restored), each the median of three runs.

    .venv/bin/python bench/backup.py [--out bench/out/backup]

Prints a Markdown table for bench/RESULTS.md."""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe, stdlib_dir  # noqa: E402

PASSPHRASE = "benchmark passphrase, long enough\n"


def codemoat(home: Path, *args: str, passphrase: bool = False) -> float:
    env = {**os.environ, "CODEMOAT_HOME": str(home), "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "appliance.cli.main", *args, *(["--passphrase-fd", "0"] if passphrase else [])],
        input=PASSPHRASE if passphrase else None, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"codemoat {' '.join(args)} failed: {done.stderr[-2000:]}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "backup")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    corpus = args.out / "stdlib"
    shutil.copytree(stdlib_dir(), corpus, ignore=shutil.ignore_patterns("site-packages", "__pycache__"))
    home = args.out / "home"
    for name in ("alice", "bob", "ci"):
        codemoat(home, "token", "create", name, *(["--admin"] if name == "alice" else []))
    index_s = codemoat(home, "index", str(corpus), "--name", "stdlib")
    creates, restores, reindexes = [], [], []
    for run in range(3):
        backup = args.out / f"state-{run}.backup"
        creates.append(codemoat(home, "backup", "create", str(backup), passphrase=True))
        restores.append(
            codemoat(args.out / f"fresh-{run}", "backup", "restore", str(backup), passphrase=True)
        )
    size = backup.stat().st_size
    for run in range(3):
        reindexes.append(
            codemoat(
                args.out / f"again-{run}", "backup", "restore", str(backup), "--reindex", passphrase=True
            )
        )
    index_dir = sum(p.stat().st_size for p in (home / "index").rglob("*") if p.is_file())
    print(f"machine: {describe()}\n")
    print("| measure | result |\n|---|---|")
    print(f"| index of the corpus (for scale) | {index_s:.0f} s, {index_dir / 2**20:.0f} MiB on disk |")
    print(f"| backup size | {size / 2**10:.0f} KiB |")
    print(f"| backup create (median of 3, CLI process included) | {statistics.median(creates):.2f} s |")
    print(f"| backup restore, fresh data directory (median of 3) | {statistics.median(restores):.2f} s |")
    print(f"| backup restore --reindex (median of 3) | {statistics.median(reindexes):.0f} s |")


if __name__ == "__main__":
    main()
