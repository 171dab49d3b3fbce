"""The code model on this CPU, engine against engine, on the same prompts: transformers fp32, transformers with
torch dynamic int8 (Linear layers), and llama.cpp on the Q4_K_M GGUF (with and without prompt-lookup
speculative decoding), against the machine's own measured ceilings.

    .venv/bin/python bench/code_model_engines.py [--threads 2] [--prompt-tokens 512] [--decode-tokens 48]
        [--engines llama_cpp,llama_cpp_lookup,transformers_int8,transformers_fp32]

Per engine, medians of `--repeat` measurements: load time, prompt processing (tokens/s over a `--prompt-tokens` FIM prompt cut from a real file),
decoding (tokens/s over `--decode-tokens` greedy tokens), the re-prefill after four characters typed at the
cursor (what a keystroke costs with the engine's prompt cache), and peak RSS. Ceilings, measured here first:
dense fp32 matrix multiply (torch, `--threads`) and memory read bandwidth (torch sum over 2 GiB); prompt
processing can go no faster than ceiling FLOP/s ÷ (2 × parameters) per token, decoding no faster than
bandwidth ÷ bytes of weights read per token. Each engine runs in its own process (RSS is its own)."""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from machine import describe, stdlib_dir  # noqa: E402

PARAMS = 1_543_714_304  # Qwen2.5-Coder-1.5B: all parameters (embeddings tied with the output layer)
NON_EMBEDDING = (
    1_310_000_000  # what a prompt token multiplies through (the output layer runs for the last only)
)


def ceilings(threads: int) -> dict[str, float]:
    import torch

    torch.set_num_threads(threads)
    a = torch.randn(2048, 2048)
    b = torch.randn(2048, 2048)
    torch.mm(a, b)
    best = 0.0
    for _ in range(5):
        t = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * 2048**3 / (time.perf_counter() - t))
    big = torch.ones(2**29)  # 2 GiB of fp32
    big.sum()
    bandwidth = 0.0
    for _ in range(3):
        t = time.perf_counter()
        big.sum()
        bandwidth = max(bandwidth, big.numel() * 4 / (time.perf_counter() - t))
    # int8 multiply-accumulate, the arithmetic that quantized kernels use (fbgemm's AVX2 int8 GEMM, as in
    # torch's dynamic quantization): a ceiling for engines that compute on quantized weights.
    linear = torch.ao.quantization.quantize_dynamic(
        torch.nn.Sequential(torch.nn.Linear(2048, 2048)), {torch.nn.Linear}, dtype=torch.qint8
    )
    x = torch.randn(1024, 2048)
    with torch.inference_mode():
        linear(x)
        int8 = 0.0
        for _ in range(5):
            t = time.perf_counter()
            linear(x)
            int8 = max(int8, 2 * 1024 * 2048 * 2048 / (time.perf_counter() - t))
    return {"fp32_flops": best, "int8_ops": int8, "read_bandwidth": bandwidth}


def fim_prompt(tokens: int, count) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """A FIM prompt of about `tokens` tokens from json/decoder.py, cut inside a function."""
    from appliance.prompts.families import PromptParts, get_family
    from appliance.prompts.languages import get_language

    text = (stdlib_dir() / "json" / "decoder.py").read_text()
    cut = text.index("        nextchar = s[end:end + 1]")
    prefix, suffix = text[:cut], text[cut : cut + 300]
    while count(prefix) > tokens - 100:
        prefix = prefix[prefix.index("\n") + 1 :]
    family = get_family("qwen2.5-coder")

    def render(p: str) -> str:
        return family.render(PromptParts(p, suffix, "json/decoder.py", get_language("python"), "stdlib"))

    return render(prefix), render(prefix + "next")


def run_llama(args: argparse.Namespace, lookup: bool) -> dict[str, float]:
    from llama_cpp import Llama
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    from appliance.engines.bundled import QWEN_CODER_1_5B, resolve_bundled

    path = resolve_bundled(QWEN_CODER_1_5B, Path(args.models))
    started = time.perf_counter()
    # With a draft model llama-cpp-python 0.3.36 keeps logits for n_batch rows only (it sizes them from the
    # constructor's logits_all, which the draft model overrides): a batch as long as the context avoids that.
    llama = Llama(
        model_path=str(path),
        n_ctx=2048,
        n_batch=2048 if lookup else args.batch,
        n_ubatch=args.batch,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        verbose=False,
        draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10) if lookup else None,
    )
    load = time.perf_counter() - started
    count = lambda text: len(llama.tokenize(text.encode(), add_bos=False, special=True))  # noqa: E731
    first, typed = fim_prompt(args.prompt_tokens, count)
    ids = llama.tokenize(first.encode(), add_bos=True, special=True)
    again = llama.tokenize(typed.encode(), add_bos=True, special=True)
    keep = next((i for i, (a, b) in enumerate(zip(ids, again)) if a != b), min(len(ids), len(again)))
    prefill, decode, retype = [], [], []
    for _ in range(args.repeat):
        llama.reset()
        t = time.perf_counter()
        llama.eval(ids)
        prefill.append(time.perf_counter() - t)
        t = time.perf_counter()
        out = 0
        for _ in llama.generate(ids, temp=0.0, top_k=0, min_p=0.0, repeat_penalty=1.0):
            out += 1
            if out >= args.decode_tokens:
                break
        decode.append(time.perf_counter() - t)
        llama.n_tokens = keep  # four characters typed at the cursor: the cache holds the prompt up to them
        t = time.perf_counter()
        llama.eval(again[keep:])
        retype.append(time.perf_counter() - t)
    return {
        "load_s": load,
        "prompt_tokens": len(ids),
        "prefill_s": statistics.median(prefill),
        "decoded": out,
        "decode_s": statistics.median(decode),
        "retype_tokens": len(again) - keep,
        "retype_s": statistics.median(retype),
    }


def run_transformers(args: argparse.Namespace, int8: bool) -> dict[str, float]:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from appliance.engines.bundled import QWEN_CODER_1_5B, resolve_bundled

    torch.set_num_threads(args.threads)
    path = resolve_bundled(QWEN_CODER_1_5B, Path(args.models))
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, local_files_only=True, dtype=torch.float32
    ).eval()
    if int8:
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    load = time.perf_counter() - started
    count = lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])  # noqa: E731
    first, typed = fim_prompt(args.prompt_tokens, count)
    ids = torch.tensor([tokenizer(first, add_special_tokens=False)["input_ids"]])
    prefill, decode = [], []
    with torch.inference_mode():
        for _ in range(args.repeat):
            t = time.perf_counter()
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            prefill.append(time.perf_counter() - t)
            cache, token = out.past_key_values, out.logits[0, -1].argmax().view(1, 1)
            t = time.perf_counter()
            for _ in range(args.decode_tokens):
                out = model(input_ids=token, past_key_values=cache, use_cache=True)
                cache, token = out.past_key_values, out.logits[0, -1].argmax().view(1, 1)
            decode.append(time.perf_counter() - t)
    prefill_s, decode_s = statistics.median(prefill), statistics.median(decode)
    # The transformers engine keeps no cache between requests: a keystroke computes the whole prompt again.
    return {
        "load_s": load,
        "prompt_tokens": ids.shape[1],
        "prefill_s": prefill_s,
        "decoded": args.decode_tokens,
        "decode_s": decode_s,
        "retype_tokens": ids.shape[1],
        "retype_s": prefill_s,
    }


def child(args: argparse.Namespace) -> None:
    engine = args.child
    if engine.startswith("llama_cpp"):
        result = run_llama(args, lookup=engine == "llama_cpp_lookup")
    else:
        result = run_transformers(args, int8=engine == "transformers_int8")
    result["peak_rss_gib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print("RESULT " + json.dumps(result), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=256, help="llama.cpp n_batch (prompt tokens per step)")
    parser.add_argument("--prompt-tokens", type=int, default=512)
    parser.add_argument("--decode-tokens", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=3, help="measurements per engine (medians reported)")
    parser.add_argument("--models", default=str(Path.home() / ".cache" / "codemoat-bench" / "models"))
    parser.add_argument("--engines", default="llama_cpp,llama_cpp_lookup,transformers_int8,transformers_fp32")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    limits = ceilings(args.threads)
    weights_bytes = 1_117_320_768
    prompt_ceiling = limits["int8_ops"] / (2 * NON_EMBEDDING)  # quantized engines; fp32 below it
    decode_ceiling = limits["read_bandwidth"] / weights_bytes
    print(f"machine: {describe()}; {args.threads} threads")
    print(
        f"ceilings: int8 matmul {limits['int8_ops'] / 1e9:.1f} GOP/s -> {prompt_ceiling:.1f} prompt tokens/s "
        f"(fp32 matmul {limits['fp32_flops'] / 1e9:.1f} GFLOP/s -> "
        f"{limits['fp32_flops'] / (2 * NON_EMBEDDING):.1f}); "
        f"read bandwidth {limits['read_bandwidth'] / 1e9:.1f} GB/s -> {decode_ceiling:.1f} decoded tokens/s "
        f"for {weights_bytes / 1e9:.2f} GB of Q4_K_M weights (fp32: {limits['read_bandwidth'] / (4 * PARAMS):.1f})"
    )
    print(
        "\n| engine | load s | prompt tok/s (% of ceiling) | decode tok/s (% of ceiling) | keystroke re-prefill | "
        "peak RSS GiB |\n|---|---|---|---|---|---|"
    )
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "HF_HUB_OFFLINE": "1"}
    for engine in args.engines.split(","):
        command = [
            sys.executable,
            __file__,
            "--child",
            engine,
            "--threads",
            str(args.threads),
            "--batch",
            str(args.batch),
            "--prompt-tokens",
            str(args.prompt_tokens),
            "--decode-tokens",
            str(args.decode_tokens),
            "--repeat",
            str(args.repeat),
            "--models",
            args.models,
        ]
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        line = next((x for x in done.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"| {engine} | failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:120]} | | | | |")
            continue
        r = json.loads(line[7:])
        prompt_rate = r["prompt_tokens"] / r["prefill_s"]
        ceiling = (
            decode_ceiling
            if engine.startswith("llama")
            else limits["read_bandwidth"] / (PARAMS * (1 if engine == "transformers_int8" else 4))
        )
        decode_rate = r["decoded"] / r["decode_s"]
        arithmetic = (
            limits["fp32_flops"] / (2 * NON_EMBEDDING) if engine == "transformers_fp32" else prompt_ceiling
        )
        print(
            f"| {engine} | {r['load_s']:.1f} | {prompt_rate:.1f} ({100 * prompt_rate / arithmetic:.0f}%) | "
            f"{decode_rate:.1f} ({100 * decode_rate / ceiling:.0f}%) | {r['retype_tokens']} tokens, "
            f"{r['retype_s']:.2f} s | {r['peak_rss_gib']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
