"""Sealed vs plain model load, side by side, and decryption throughput per core.

    .venv/bin/python bench/licensing_load.py [--rounds 5] [--json]

Model: the fp32 copy of the bundled SmolLM2-135M (~540 MB, built once into the test cache). The script seals
it with a throwaway vendor, activates a license in a temp state directory, then alternates, round after round:

  plain          `AutoModelForCausalLM.from_pretrained(dir)`            (safetensors mmap: pages read lazily)
  sealed         `LicenseService.load_sealed_transformers(sealed_dir)`  (verify + decrypt into memory + build)
  ... + first    the same, plus one forward pass of 16 tokens, so every weight page is really read
                 (the time until the engine can answer, the fair comparison with a lazy mmap)

Decryption: `SealedModel.decrypt_into` of the whole model into one preallocated buffer with 1 and 2 threads
(GiB/s of plaintext), and `authenticate` (check-model). Medians over `--rounds`; ratios from the same rounds.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from bench.machine import describe
from licensing.service import LicenseService
from licensing.vendor import VendorKeyring
from tests.licensing.model_cache import smollm2_fp32_dir


def _timed(fn):
    gc.collect()
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def _crypto_only_gib_s(sealed, key: bytearray, rounds: int) -> float:
    """AES-256-GCM decrypt + tag check of 64 chunks already in memory, one thread: the cipher's own speed."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    from licensing.encoding import b64d
    from licensing.sealed.format import TAG_SIZE, chunk_aad, chunk_nonce, file_key

    first = sealed.files[0]
    chunk = first.header["chunk_size"]
    n = min(64, first.header["n_chunks"] - 1)
    with open(first.path, "rb") as handle:
        handle.seek(first.data_offset)
        records = [handle.read(chunk + TAG_SIZE) for _ in range(n)]
    fkey = file_key(key, b64d(first.header["salt"]), sealed.model_id, first.file)
    out = memoryview(bytearray(chunk))
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        for index, record in enumerate(records):
            dec = Cipher(algorithms.AES(fkey), modes.GCM(chunk_nonce(index), record[chunk:])).decryptor()
            dec.authenticate_additional_data(chunk_aad(first.header_hash, first.file, index, False))
            dec.update_into(memoryview(record)[:chunk], out)
            dec.finalize()
        samples.append(time.perf_counter() - started)
    return n * chunk / statistics.median(samples) / 2**30


def main() -> None:
    import shutil

    scratch = Path(tempfile.mkdtemp(prefix="codemoat-bench-"))
    try:
        _run(scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the sealed copy is another 540 MB


def _run(work: Path) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    torch.set_num_threads(max(1, len(os.sched_getaffinity(0))))
    plain_dir = smollm2_fp32_dir()
    size = (plain_dir / "model.safetensors").stat().st_size
    now = int(time.time())
    vendor = VendorKeyring.generate(work / "vendor", name="bench", now=now - 86400)
    seal_s, _ = _timed(lambda: vendor.seal(plain_dir, work / "sealed", model_id="smollm2", now=now))
    service = LicenseService(work / "home" / "license", trust=vendor.trust())
    service.activate(
        vendor.issue(
            service.request_activation(), customer="bench", seats=1, days=30, models=["smollm2"], now=now
        )
    )
    sealed_dir = work / "sealed"
    tokens = torch.arange(100, 116).unsqueeze(0)

    def first_logits(model):
        with torch.no_grad():
            return model(tokens).logits

    times: dict[str, list[float]] = {k: [] for k in ("plain", "sealed", "plain_first", "sealed_first")}
    # Warm-up round (page cache, imports), not counted.
    for loader in (
        lambda: AutoModelForCausalLM.from_pretrained(plain_dir),
        lambda: service.load_sealed_transformers(sealed_dir),
    ):
        first_logits(loader())
    for _ in range(args.rounds):
        for name, loader in (
            ("plain", lambda: AutoModelForCausalLM.from_pretrained(plain_dir)),
            ("sealed", lambda: service.load_sealed_transformers(sealed_dir)),
        ):
            started = time.perf_counter()
            model = loader()
            loaded = time.perf_counter() - started
            first_logits(model)
            times[name].append(loaded)
            times[name + "_first"].append(time.perf_counter() - started)
            del model
            gc.collect()

    sealed = service.open_sealed(sealed_dir)
    total = sum(f.data_size for f in sealed.files)
    decrypt: dict[str, list[float]] = {"1 thread": [], "2 threads": [], "check-model": []}
    buffer = memoryview(bytearray(max(f.data_size for f in sealed.files)))
    with service.model_key("smollm2") as key:
        for _ in range(args.rounds):
            for label, threads in (("1 thread", 1), ("2 threads", 2)):
                started = time.perf_counter()
                for sealed_file in sealed.files:
                    sealed.decrypt_into(sealed_file, key, buffer, threads=threads)
                decrypt[label].append(time.perf_counter() - started)
            started = time.perf_counter()
            sealed.authenticate(key)
            decrypt["check-model"].append(time.perf_counter() - started)

        crypto_only = _crypto_only_gib_s(sealed, key, args.rounds)

    med = {k: statistics.median(v) for k, v in times.items()}
    result = {
        "machine": describe(),
        "model_bytes": size,
        "rounds": args.rounds,
        "seal_seconds": round(seal_s, 2),
        "load_median_s": {k: round(v, 3) for k, v in med.items()},
        "ratio_sealed_vs_plain": round(med["sealed"] / med["plain"], 2),
        "ratio_sealed_vs_plain_to_first_logits": round(med["sealed_first"] / med["plain_first"], 2),
        "decrypt_gib_s": {k: round(total / statistics.median(v) / 2**30, 2) for k, v in decrypt.items()},
        "aes_gcm_only_gib_s_one_core": round(crypto_only, 2),
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"machine: {result['machine']}")
    print(f"model: {size / 1e6:.0f} MB fp32 safetensors; sealing took {seal_s:.1f} s")
    print(f"| load (median of {args.rounds}) | plain | sealed | sealed / plain |")
    print("|---|---|---|---|")
    print(
        f"| from_pretrained returns | {med['plain']:.3f} s | {med['sealed']:.3f} s | {result['ratio_sealed_vs_plain']}x |"
    )
    print(
        f"| until first logits | {med['plain_first']:.3f} s | {med['sealed_first']:.3f} s | "
        f"{result['ratio_sealed_vs_plain_to_first_logits']}x |"
    )
    for label, rate in result["decrypt_gib_s"].items():
        print(f"decrypt {label} (read from page cache + AES-GCM): {rate} GiB/s")
    print(f"AES-256-GCM alone, one core, 64 chunks in memory: {result['aes_gcm_only_gib_s_one_core']} GiB/s")


if __name__ == "__main__":
    main()
