"""Cost of one heartbeat check and of a read-only status query (what /readyz would call).

    .venv/bin/python bench/licensing_heartbeat.py [--n 200] [--json]

Uses a real vendor, a real activated license in a temp state directory and this machine's real fingerprint.

  check_now   HeartbeatMonitor.check_now(): re-parse and verify license + lease (Ed25519 chain), binding to
              the machine (fingerprint read from /etc, /sys, /proc; nvidia-smi when present), revocation,
              seats/GPUs, and the signed clock record written (fsync) to two places
  status      LicenseService.status() without recording (no writes)
  current     HeartbeatMonitor.current: the cached status the gateway reads per request
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe, percentile
from licensing.heartbeat import ActiveUsers, HeartbeatMonitor
from licensing.service import LicenseService
from licensing.vendor import VendorKeyring


def _measure(fn, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def main() -> None:
    import shutil

    scratch = Path(tempfile.mkdtemp(prefix="codemoat-bench-"))
    try:
        _run(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the sealed copy is another 540 MB


def _run(work: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    now = int(time.time())
    vendor = VendorKeyring.generate(work / "vendor", name="bench", now=now - 86400)
    plain = work / "plain"
    plain.mkdir()
    # A minimal safetensors file written by hand (8-byte header length + JSON + data): sealing needs one model.
    header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
    (plain / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(16))
    vendor.seal(plain, work / "sealed", model_id="m", now=now)
    service = LicenseService(work / "home" / "license", trust=vendor.trust())
    service.activate(
        vendor.issue(service.request_activation(), customer="bench", seats=50, days=30, models=["m"], now=now)
    )
    users = ActiveUsers()
    for i in range(40):
        users.touch(f"user{i}")
    monitor = HeartbeatMonitor(service, active_users=users.count)
    monitor.check_now()

    results = {
        name: _measure(fn, args.n)
        for name, fn in (
            ("check_now", monitor.check_now),
            ("status", service.status),
            ("current", lambda: monitor.current),
        )
    }
    summary = {
        name: {"p50_ms": round(statistics.median(v) * 1e3, 3), "p95_ms": round(percentile(v, 95) * 1e3, 3)}
        for name, v in results.items()
    }
    if args.json:
        print(json.dumps({"machine": describe(), "n": args.n, **summary}))
        return
    print(f"machine: {describe()}")
    print(f"| operation (n={args.n}) | p50 | p95 |")
    print("|---|---|---|")
    for name, row in summary.items():
        print(f"| {name} | {row['p50_ms']} ms | {row['p95_ms']} ms |")


if __name__ == "__main__":
    main()
