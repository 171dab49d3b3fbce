"""What sealing the device keys to a TPM costs: loading them (once per process) and binding them, against keys in
files, side by side in one run, rounds alternating.

    .venv/bin/python bench/tpm_device_keys.py [--n 50] [--json]

Needs `swtpm` (Debian's package; started here on free ports, its state in a temp directory) and tpm2-pytss.
A software TPM answers faster than a discrete one (a dTPM on the LPC/SPI bus takes tens of ms per ECC primary
key), so read the TPM rows as the library's and protocol's share, not a hardware number.

  load files        DeviceKeyStore(...).load() of two PKCS#8 files
  load sealed       the same from the TPM: recreate the ECC storage primary, load the object, unseal
  load sealed+PCR   the same with a PolicyPCR session (PCR 7)
  bind              seal (primary + create), unseal to verify, write the record atomically
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.machine import describe, percentile
from licensing.device_keys import DeviceKeyStore, KeyProtection


def _free_port_pair() -> int:
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port


def _swtpm(state: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port_pair()
    process = subprocess.Popen(
        ["swtpm", "socket", "--tpm2", "--tpmstate", f"dir={state}", "--server", f"type=tcp,port={port}"]
        + ["--ctrl", f"type=tcp,port={port + 1}", "--flags", "not-need-init,startup-clear"]
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"swtpm:host=127.0.0.1,port={port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=50)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if shutil.which("swtpm") is None:
        sys.exit("swtpm is not installed (apt install swtpm)")
    work = Path(tempfile.mkdtemp(prefix="codemoat-bench-tpm-"))
    (work / "tpm").mkdir()
    process, tcti = _swtpm(work / "tpm")
    try:
        stores = {
            "load files": KeyProtection("off"),
            "load sealed": KeyProtection("required", tcti),
            "load sealed+PCR": KeyProtection("required", tcti, (7,)),
        }
        for name, protection in stores.items():
            DeviceKeyStore(work / name, protection).load_or_create()
        samples: dict[str, list[float]] = {name: [] for name in [*stores, "bind"]}
        for _ in range(args.n):
            for name, protection in stores.items():
                started = time.perf_counter()
                DeviceKeyStore(work / name, protection).load()  # a fresh store: nothing cached
                samples[name].append(time.perf_counter() - started)
            store = DeviceKeyStore(work / "load sealed", stores["load sealed"])
            started = time.perf_counter()
            store.bind(())
            samples["bind"].append(time.perf_counter() - started)
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(work, ignore_errors=True)
    summary = {
        name: {"p50_ms": round(statistics.median(v) * 1e3, 2), "p95_ms": round(percentile(v, 95) * 1e3, 2)}
        for name, v in samples.items()
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
