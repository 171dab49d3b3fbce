"""Issue 16 on the code model: does a leaked, transformed copy of Qwen2.5-Coder-1.5B name its customer, does
anything name the wrong one, and what does the fingerprint cost in quality?

    .venv/bin/python bench/fingerprint_qwen.py [--customers 1000] [--eval-windows 8] [--completion-tasks 20]

The same protocol as bench/fingerprint_robustness.py (SmolLM2), sized for 1.5B parameters on a 24 GiB machine:
suspects are never held whole in memory but transformed tensor by tensor as the trace reads them (the trace's
`Weights` protocol), so only the model used for perplexity (fp32, 6 GB) is resident.

The model: the bundled Q4_K_M GGUF (its 22 packages, `make models`), assembled and checked against its pin,
dequantized by transformers and saved as bf16 safetensors (Qwen's own release dtype), cached in
`$CODEMOAT_TEST_CACHE/qwen2.5-coder-1.5b-bf16`. That copy is the "unmarked model"; customers A and B get marked
copies (`VendorKeyring.mark`), 998 more deliveries are registered. Not run here: the LoRA fine-tune (one step of
4 x 256 tokens costs minutes on 2 cores; SmolLM2's run covers it). Output: a markdown table on stdout and
bench/results/fingerprint_qwen.json."""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fingerprint_robustness import gguf_round_trip, int8_rows, print_rows, trace_suspects  # noqa: E402
from bench.forensics_models import code_files, completion_tasks, exact_match, perplexity, token_windows  # noqa: E402
from bench.machine import describe  # noqa: E402
from licensing.forensics.fingerprint import marked_tensors  # noqa: E402
from licensing.forensics.registry import RegistryEntry  # noqa: E402
from licensing.vendor import VendorKeyring  # noqa: E402
from tests.licensing.model_cache import cache_root  # noqa: E402

Transform = Callable[[str, np.ndarray], np.ndarray]


def qwen_bf16_dir() -> Path:
    target = cache_root() / "qwen2.5-coder-1.5b-bf16"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from appliance.engines.bundled import QWEN_CODER_1_5B, resolve_bundled

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory(dir=cache_root()) as scratch:
        gguf = resolve_bundled(QWEN_CODER_1_5B, Path(scratch))
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.is_quantized = False
        model = model.to(torch.bfloat16)
        staging = Path(tempfile.mkdtemp(prefix="qwen.", dir=cache_root()))
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        del model
    staging.rename(target)
    return target


class Streamed:
    """A suspect made from delivered copies on disk, transformed tensor by tensor when the trace reads it."""

    def __init__(self, dirs: list[Path], transform: Transform | None, source: str) -> None:
        from safetensors import safe_open

        # One {tensor name: open shard} per copy (save_pretrained may shard).
        self._copies = []
        for directory in dirs:
            where = {}
            for shard in sorted(directory.glob("*.safetensors")):
                handle = safe_open(str(shard), framework="pt")
                where.update(dict.fromkeys(handle.keys(), handle))
            self._copies.append(where)
        self.transform, self.source = transform, source
        self._names = marked_tensors(list(self._copies[0]))

    def names(self) -> list[str]:
        return list(self._names)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(self._copies[0][name].get_slice(name).get_shape())

    def read(self, name: str) -> np.ndarray:
        copies = [where[name].get_tensor(name).float().numpy() for where in self._copies]
        w = copies[0] if len(copies) == 1 else sum(copies) / len(copies)
        return (w if self.transform is None else self.transform(name, w)).astype(np.float32)


def _seed(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")


def cast(dtype) -> Transform:  # noqa: ANN001
    import torch

    return lambda name, w: torch.from_numpy(w).to(dtype).float().numpy()


def noise(level: float) -> Transform:
    def apply(name: str, w: np.ndarray) -> np.ndarray:
        rng = np.random.default_rng(_seed(name))
        return w + rng.normal(0, level * float(np.sqrt(np.mean(w**2))), w.shape).astype(np.float32)

    return apply


def prune(share: float) -> Transform:
    def apply(name: str, w: np.ndarray) -> np.ndarray:
        w = w.copy()
        w[np.abs(w) <= np.quantile(np.abs(w), share)] = 0.0
        return w

    return apply


def one(dict_transform) -> Transform:  # noqa: ANN001
    """A whole-model transform of bench/fingerprint_robustness.py applied to one tensor."""
    return lambda name, w: dict_transform({name: w})[name]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--eval-windows", type=int, default=8)
    parser.add_argument("--completion-tasks", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="Keep the marked copies (3 GB each).")
    args = parser.parse_args()
    started = time.time()
    plain = qwen_bf16_dir()
    print(f"model ready in {time.time() - started:.0f} s", flush=True)
    work = Path(tempfile.mkdtemp(prefix="fingerprint-qwen.", dir=cache_root()))
    try:
        run(args, plain, work, started)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def run(args, plain: Path, work: Path, started: float) -> None:  # noqa: ANN001
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(os.cpu_count() or 2)
    vendor = VendorKeyring.generate(work / "vendor", name="Bench Vendor", now=int(time.time()))
    key = vendor.fingerprint_key()
    t = time.time()
    marked_a = vendor.mark(plain, work / "a", customer="Customer-0000", model_id="qwen", now=1)
    mark_seconds = time.time() - t
    vendor.mark(plain, work / "b", customer="Customer-0001", model_id="qwen", now=1)
    others = [f"Customer-{i:04d}" for i in range(2, args.customers)]
    vendor.fingerprints().add_many([RegistryEntry(c, "qwen", key.mark_id(c), 0.02, 0.03, 1) for c in others])
    print(f"marked in {mark_seconds:.0f} s: {marked_a.positions} entries", flush=True)

    tokenizer = AutoTokenizer.from_pretrained(plain)
    eval_windows = token_windows(tokenizer, code_files(held_out=True), 256, args.eval_windows)
    tasks = completion_tasks(tokenizer, args.completion_tasks)

    def loaded(directory: Path):  # noqa: ANN202
        return AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32).eval()

    quality = {}
    for label, directory in (("unmarked", plain), ("marked", work / "a")):
        model = loaded(directory)
        t = time.time()
        quality[label] = {"perplexity": perplexity(model, eval_windows)}
        quality[label]["exact_match"] = exact_match(model, tokenizer, tasks)
        print(f"{label}: {quality[label]} in {time.time() - t:.0f} s", flush=True)
        del model

    # Noise that costs 1% perplexity: calibrated on A's copy (perplexity grows ~ with the noise's square).
    def noisy_ppl(level: float) -> float:
        model = loaded(work / "a")
        with torch.no_grad():
            for name, parameter in model.named_parameters():
                if parameter.ndim == 2 and ".layers." in name:  # every matrix, as in the SmolLM2 run
                    parameter.copy_(torch.from_numpy(noise(level)(name, parameter.detach().numpy())))
        value = perplexity(model, eval_windows)
        del model
        return value

    marked_ppl = quality["marked"]["perplexity"]
    probe = 0.05
    rise = noisy_ppl(probe) / marked_ppl - 1
    level = probe * math.sqrt(0.01 / max(rise, 1e-6))
    noisy_rise = noisy_ppl(level) / marked_ppl - 1
    print(f"noise {level:.4f} x RMS: +{100 * noisy_rise:.2f}% perplexity", flush=True)

    a, b = work / "a", work / "b"
    from appliance.engines.bundled import QWEN_CODER_1_5B, resolve_bundled
    from licensing.forensics.weights import open_weights

    gguf_dir = work / "gguf"
    gguf_dir.mkdir()
    bundled_gguf = resolve_bundled(QWEN_CODER_1_5B, gguf_dir)
    suspects: dict[str, tuple[object, str]] = {
        "unchanged": (Streamed([a], None, "unchanged"), "Customer-0000"),
        "fp16 cast": (Streamed([a], cast(torch.float16), "fp16"), "Customer-0000"),
        "int8 per-row round trip": (Streamed([a], one(int8_rows), "int8"), "Customer-0000"),
        "GGUF Q8_0 round trip": (
            Streamed([a], one(lambda d: gguf_round_trip(d, "Q8_0")), "q8"),
            "Customer-0000",
        ),
        "GGUF Q4_0 round trip": (
            Streamed([a], one(lambda d: gguf_round_trip(d, "Q4_0")), "q4"),
            "Customer-0000",
        ),
        f"Gaussian noise {level:.4f}×RMS (+{100 * noisy_rise:.1f}% ppl)": (
            Streamed([a], noise(level), "noise"),
            "Customer-0000",
        ),
        "10% magnitude pruning": (Streamed([a], prune(0.10), "prune"), "Customer-0000"),
        "average of A's and B's copies": (Streamed([a, b], None, "average"), "Customer-0000+Customer-0001"),
        "B's copy (another customer)": (Streamed([b], None, "b"), "Customer-0001"),
        "unmarked model": (Streamed([plain], None, "unmarked"), ""),
        "the bundled Q4_K_M GGUF (unmarked), read by the trace": (open_weights(bundled_gguf), ""),
    }
    rows, false_trials, false_named, max_false_z = trace_suspects(vendor, suspects)
    result = {
        "machine": describe(),
        "model": "Qwen2.5-Coder-1.5B-Instruct (bundled Q4_K_M GGUF dequantized, bf16)",
        "customers": args.customers,
        "mark_seconds": round(mark_seconds, 1),
        "marked_entries": marked_a.positions,
        "expected_score": round(marked_a.expected_z, 1),
        "quality": quality,
        "eval_windows": args.eval_windows,
        "completion_tasks": len(tasks),
        "noise_level": level,
        "noise_perplexity_rise": noisy_rise,
        "rows": rows,
        "false_trials": false_trials,
        "false_named": false_named,
        "max_false_score": max_false_z,
        "seconds": round(time.time() - started),
    }
    out = ROOT / "bench" / "results" / "fingerprint_qwen.json"
    out.write_text(json.dumps(result, indent=1))
    print(f"\n{describe()}; {args.customers} registered customers; {time.time() - started:.0f} s\n")
    print_rows(rows)
    print(
        f"\nfalse attributions: {false_named} in {false_trials} trials; highest non-source {max_false_z:.2f}"
    )
    print(f"quality: {json.dumps(quality)}")


if __name__ == "__main__":
    main()
