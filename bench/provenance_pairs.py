"""Issue 16: `codemoat vendor provenance` on pairs made here, derived and unrelated, with every p-value.

    .venv/bin/python bench/provenance_pairs.py [--gemma PATH.gguf] [--steps 40]

Derived from SmolLM2-135M: its fingerprinted copy; a LoRA fine-tune merged; a full fine-tune; a copy with the
residual coordinates and every MLP's hidden units permuted and rescaled (the same function: its perplexity is
printed); 10% magnitude pruning; the last third of the blocks re-initialised; a GGUF Q4_0 round trip.
Unrelated: the SmolLM2 architecture initialised independently, untrained and trained briefly on the same data;
four small llama models initialised independently and trained on the same data (six pairs), next to one of them
fine-tuned further (derived); and Gemma 3 270M (a GGUF from its PyPI chunk packages, given with --gemma), where
shapes allow. Target: every derived pair p < 1e-6, every unrelated pair p > 0.01.
Output: a markdown table on stdout and bench/results/provenance_pairs.json."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.fingerprint_robustness import gguf_round_trip, prune  # noqa: E402
from bench.forensics_models import (  # noqa: E402
    ArrayWeights,
    code_files,
    load_model,
    load_state,
    lora_merged,
    perplexity,
    state_arrays,
    token_windows,
    train,
)
from bench.machine import describe  # noqa: E402
from licensing.forensics.provenance import check_provenance  # noqa: E402
from licensing.forensics.weights import open_weights  # noqa: E402
from licensing.vendor import VendorKeyring  # noqa: E402
from tests.licensing.model_cache import smollm2_fp32_dir  # noqa: E402


def permuted(arrays: dict[str, np.ndarray], seed: int) -> dict[str, np.ndarray]:
    """The same function: residual coordinates permuted everywhere, each MLP's hidden units permuted and
    rescaled (up rows × c, down columns ÷ c)."""
    rng = np.random.default_rng(seed)
    width = arrays["model.embed_tokens.weight"].shape[1]
    res = rng.permutation(width)
    out = {}
    for name, w in arrays.items():
        if w.ndim == 1 and w.shape[0] == width:  # RMSNorm weights
            out[name] = w[res]
        elif name.endswith(("o_proj.weight", "down_proj.weight")):
            out[name] = w[res]
        elif w.ndim == 2 and w.shape[1] == width:  # embeddings, lm_head, q/k/v, gate/up read the residual
            out[name] = w[:, res]
        else:
            out[name] = w
    blocks = sum(1 for n in arrays if n.endswith("mlp.up_proj.weight"))
    for i in range(blocks):
        p = f"model.layers.{i}.mlp."
        order = rng.permutation(out[p + "up_proj.weight"].shape[0])
        scale = rng.uniform(0.5, 2.0, order.size).astype(np.float32)
        out[p + "gate_proj.weight"] = out[p + "gate_proj.weight"][order]
        out[p + "up_proj.weight"] = out[p + "up_proj.weight"][order] * scale[:, None]
        out[p + "down_proj.weight"] = out[p + "down_proj.weight"][:, order] / scale[None, :]
    return out


def reinitialised(arrays: dict[str, np.ndarray], first_block: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    out = dict(arrays)
    for name, w in arrays.items():
        parts = name.split(".")
        if w.ndim == 2 and len(parts) > 2 and parts[1] == "layers" and int(parts[2]) >= first_block:
            out[name] = rng.normal(0, 0.02, w.shape).astype(np.float32)
    return out


def small_llama(seed: int, vocab: int):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab, hidden_size=256, intermediate_size=768, num_hidden_layers=6, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True,
    )  # fmt: skip
    return LlamaForCausalLM(config)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=40, help="steps of each brief training or fine-tune")
    parser.add_argument("--gemma", type=Path, help="Gemma 3 270M GGUF (assembled from its chunk packages)")
    args = parser.parse_args()
    started = time.time()
    plain = smollm2_fp32_dir()
    model, tokenizer = load_model(plain)
    base_arrays = state_arrays(model)
    base = ArrayWeights(base_arrays, "SmolLM2-135M")
    windows = token_windows(tokenizer, code_files(held_out=False), 256, 4 * args.steps * 2)
    eval_windows = token_windows(tokenizer, code_files(held_out=True), 256, 8)
    first, second = windows[: len(windows) // 2], windows[len(windows) // 2 :]
    pairs: list[tuple[str, bool, object, object]] = []
    work = Path(tempfile.mkdtemp(prefix="provenance-bench."))

    vendor = VendorKeyring.generate(work / "vendor", name="Bench", now=int(time.time()))
    vendor.mark(plain, work / "marked", customer="Acme", model_id="smollm2", now=1)
    pairs.append(("fingerprinted copy", True, open_weights(work / "marked"), base))
    lora = state_arrays(lora_merged(model, first, steps=args.steps))
    pairs.append((f"LoRA r16 merged ({args.steps} steps)", True, ArrayWeights(lora, "lora"), base))
    model, _ = load_model(plain)
    train(model, first, steps=args.steps, lr=5e-5, batch=2)
    pairs.append(
        (f"full fine-tune ({args.steps} steps)", True, ArrayWeights(state_arrays(model), "ft"), base)
    )
    shuffled = permuted(base_arrays, 1)
    load_state(model, shuffled)
    shuffled_ppl = perplexity(model, eval_windows)
    load_state(model, base_arrays)
    base_ppl = perplexity(model, eval_windows)
    pairs.append(
        (
            f"permuted + rescaled (ppl {base_ppl:.3f} → {shuffled_ppl:.3f})",
            True,
            ArrayWeights(shuffled, "p"),
            base,
        )
    )
    pairs.append(("10% magnitude pruning", True, ArrayWeights(prune(base_arrays, 0.10), "pruned"), base))
    pairs.append(
        ("blocks 20-29 re-initialised", True, ArrayWeights(reinitialised(base_arrays, 20, 2), "re"), base)
    )
    pairs.append(
        ("GGUF Q4_0 round trip", True, ArrayWeights(gguf_round_trip(base_arrays, "Q4_0"), "q4"), base)
    )

    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    torch.manual_seed(11)
    fresh = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(plain))
    pairs.append(
        ("SmolLM2 architecture, independent init", False, ArrayWeights(state_arrays(fresh), "init"), base)
    )
    train(fresh, first, steps=args.steps, lr=3e-4, batch=2)
    pairs.append(
        (
            f"independent init, trained {args.steps} steps",
            False,
            ArrayWeights(state_arrays(fresh), "brief"),
            base,
        )
    )
    del fresh

    smalls = []
    for seed in range(4):
        small = small_llama(seed, len(tokenizer))
        train(small, first, steps=3 * args.steps, lr=1e-3, batch=4)
        smalls.append(ArrayWeights(state_arrays(small), f"small-{seed}"))
        if seed == 0:
            train(small, second, steps=3 * args.steps, lr=3e-4, batch=4)
            tuned_small = ArrayWeights(state_arrays(small), "small-0 fine-tuned")
    for i in range(4):
        for j in range(i + 1, 4):
            pairs.append((f"small llama seed {i} vs seed {j} (same data)", False, smalls[j], smalls[i]))
    pairs.append(("small llama seed 0 vs its own fine-tune", True, tuned_small, smalls[0]))
    if args.gemma:
        pairs.append(("Gemma 3 270M (GGUF)", False, open_weights(args.gemma), base))

    rows = []
    for label, derived, suspect, reference in pairs:
        t = time.time()
        result = check_provenance(suspect, reference)
        ok = (result.log10_p < -6) if derived else (result.log10_p > -2)
        rows.append(
            {
                "pair": label,
                "related": derived,
                "log10_p": round(result.log10_p, 2),
                "derived": result.derived,
                "meets_target": ok,
                "comparable": result.comparable,
                "reason": result.reason,
                "blocks_matching": f"{len(result.matching_blocks())}/{len(result.blocks)}",
                "seconds": round(time.time() - t, 1),
            }
        )
        print(rows[-1], flush=True)
    out = ROOT / "bench" / "results" / "provenance_pairs.json"
    out.write_text(
        json.dumps({"machine": describe(), "rows": rows, "seconds": round(time.time() - started)}, indent=1)
    )
    print(f"\n{describe()}; {time.time() - started:.0f} s\n")
    print(
        "| pair | related | p-value | verdict | blocks matching | target met | s |\n|---|---|---|---|---|---|---|"
    )
    for r in rows:
        p = "< 1e-300" if r["log10_p"] <= -300 else f"{10 ** r['log10_p']:.2g}"
        verdict = "derived" if r["derived"] else ("not comparable" if not r["comparable"] else "not derived")
        print(f"| {r['pair']} | {'yes' if r['related'] else 'no'} | {p} | {verdict} | {r['blocks_matching']} | "
              f"{'yes' if r['meets_target'] else '**no**'} | {r['seconds']} |")  # fmt: skip


if __name__ == "__main__":
    main()
