"""`codemoat vendor mark|trace|provenance` and `seal --customer`, end to end through the CLI on real weights:
small llama-architecture models built by transformers, GGUF files written by the `gguf` package, a sealed
delivery decrypted with the vendor's own key, and the bundled SmolLM2-135M."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.licensing.model_cache import smollm2_fp32_dir

# The tiny models hold ~50k marked entries at these settings (expected score ~0.1·sqrt(N) ≈ 22).
TINY_MARK = ("--density", "0.5", "--strength", "0.1")


def tiny_llama(directory: Path, seed: int, *, hidden: int = 64, intermediate: int = 192) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=512,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(directory)
    return directory


def _tensors(directory: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    return load_file(directory / "model.safetensors")


def _save(tensors: dict[str, np.ndarray], like: Path, out: Path) -> Path:
    import shutil

    from safetensors.numpy import save_file

    out.mkdir()
    shutil.copy(like / "config.json", out / "config.json")
    save_file(tensors, out / "model.safetensors")
    return out


def _write_gguf(tensors: dict[str, np.ndarray], blocks: int, path: Path, qtype: str) -> Path:
    """The per-block tensors under llama.cpp's names, quantized by the gguf package (a real re-quantization)."""
    import gguf

    kinds = {
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    }
    quant = getattr(gguf.GGMLQuantizationType, qtype)
    writer = gguf.GGUFWriter(path, "llama")
    writer.add_block_count(blocks)
    for i in range(blocks):
        for hf, short in kinds.items():
            values = tensors[f"model.layers.{i}.{hf}.weight"].astype(np.float32)
            writer.add_tensor(f"blk.{i}.{short}.weight", gguf.quants.quantize(values, quant), raw_dtype=quant)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@pytest.fixture
def vendor(tmp_path: Path, run_cli) -> Path:
    directory = tmp_path / "vendor"
    assert run_cli("vendor", "keygen", "--out", directory, "--no-passphrase").code == 0
    return directory


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tiny_llama(tmp_path / "base", seed=0)


def _mark(run_cli, vendor: Path, base: Path, customer: str, out: Path) -> Path:
    result = run_cli(
        "vendor", "mark", base, "--vendor", vendor, "--customer", customer, "--out", out, *TINY_MARK
    )
    assert result.code == 0, result.err
    return out


def _trace(run_cli, vendor: Path, suspect: Path) -> dict:
    result = run_cli("vendor", "trace", suspect, "--vendor", vendor, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_trace_names_the_customer_and_only_that_one(tmp_path, run_cli, vendor, base) -> None:
    copies = {name: _mark(run_cli, vendor, base, name, tmp_path / name) for name in ("Acme", "Beta", "Gamma")}
    for name, copy in copies.items():
        answer = _trace(run_cli, vendor, copy)
        assert answer["customer"] == name
        assert [n["customer"] for n in answer["named"]] == [name]
        assert answer["p_value"] < 1e-6 and answer["tested"] == 3
    # The unmarked original carries no fingerprint: no one is named, and the p-value says chance.
    clean = _trace(run_cli, vendor, base)
    assert clean["customer"] is None and clean["named"] == [] and clean["p_value"] > 1e-3
    text = run_cli("vendor", "trace", base, "--vendor", vendor)
    assert text.code == 0 and text.out.startswith("no registered customer")
    # Only the marked tensors moved, and each by a small fraction of its scale.
    before, after = _tensors(base), _tensors(copies["Acme"])
    assert np.array_equal(before["model.embed_tokens.weight"], after["model.embed_tokens.weight"])
    assert np.array_equal(
        before["model.layers.0.self_attn.q_proj.weight"], after["model.layers.0.self_attn.q_proj.weight"]
    )
    up = "model.layers.1.mlp.up_proj.weight"
    change = np.sqrt(np.mean((after[up] - before[up]) ** 2)) / np.sqrt(np.mean(before[up] ** 2))
    assert 0.05 < change < 0.1  # strength 0.1 on half the entries: sqrt(0.5)·0.1 ≈ 0.071


def test_a_killed_marking_run_leaves_nothing_the_next_run_does_not_clear(
    tmp_path, run_cli, vendor, base
) -> None:
    # What kill -9 in the middle of `mark` and of `seal --customer` leaves: half-written plaintext staging copies.
    leftovers = [tmp_path / ".codemoat-staging-acme.x1y2", tmp_path / ".codemoat-mark-sealed.z3"]
    for leftover in leftovers:
        leftover.mkdir()
        (leftover / "model.safetensors").write_bytes(b"partial")
    unrelated = tmp_path / ".acme.keep"
    unrelated.mkdir()
    assert not (vendor / "fingerprints.json").exists()  # nothing was recorded by the killed run
    _mark(run_cli, vendor, base, "Acme", tmp_path / "acme")
    result = run_cli(
        "vendor", "seal", base, "--vendor", vendor, "--model-id", "tiny", "--customer", "Acme", "--out",
        tmp_path / "sealed", *TINY_MARK,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert not any(p.exists() for p in leftovers) and unrelated.is_dir()
    assert _trace(run_cli, vendor, tmp_path / "acme")["customer"] == "Acme"


def test_marking_is_deterministic_per_customer(tmp_path, run_cli, vendor, base) -> None:
    first = _mark(run_cli, vendor, base, "Acme", tmp_path / "one")
    again = _mark(run_cli, vendor, base, "Acme", tmp_path / "two")
    assert (first / "model.safetensors").read_bytes() == (again / "model.safetensors").read_bytes()
    registry = json.loads((vendor / "fingerprints.json").read_text())
    assert len(registry["entries"]) == 1  # the same delivery is recorded once


def test_an_average_of_two_copies_names_both(tmp_path, run_cli, vendor, base) -> None:
    a = _tensors(_mark(run_cli, vendor, base, "Acme", tmp_path / "a"))
    b = _tensors(_mark(run_cli, vendor, base, "Beta", tmp_path / "b"))
    _mark(run_cli, vendor, base, "Gamma", tmp_path / "c")
    mixed = _save({k: (a[k] + b[k]) / 2 for k in a}, base, tmp_path / "mixed")
    answer = _trace(run_cli, vendor, mixed)
    assert sorted(n["customer"] for n in answer["named"]) == ["Acme", "Beta"]


@pytest.mark.parametrize("qtype", ["Q8_0", "Q4_0"])
def test_a_requantized_gguf_is_traced(tmp_path, run_cli, vendor, base, qtype) -> None:
    marked = _tensors(_mark(run_cli, vendor, base, "Acme", tmp_path / "a"))
    _mark(run_cli, vendor, base, "Beta", tmp_path / "b")
    suspect = _write_gguf(marked, 4, tmp_path / f"leak-{qtype}.gguf", qtype)
    answer = _trace(run_cli, vendor, suspect)
    assert answer["customer"] == "Acme" and [n["customer"] for n in answer["named"]] == ["Acme"]


def test_seal_for_a_customer_delivers_the_fingerprint(tmp_path, run_cli, vendor, base) -> None:
    from safetensors.torch import save_file

    from licensing.encoding import b64d
    from licensing.sealed.reader import SealedModel
    from licensing.sealed.torch_loader import sealed_state_dict
    from licensing.vendor import VendorKeyring

    sealed = tmp_path / "sealed"
    result = run_cli(
        "vendor", "seal", base, "--vendor", vendor, "--model-id", "tiny", "--customer", "Acme", "--out", sealed,
        *TINY_MARK,
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "fingerprinted for Acme" in result.out
    assert not list(tmp_path.glob(".codemoat-*"))  # the plaintext staging copy is gone
    # What the customer's memory would hold after the license opens the weights:
    key = bytearray(b64d(json.loads((vendor / "models" / "tiny.json").read_text())["key"]))
    state = sealed_state_dict(SealedModel.open(sealed, VendorKeyring.load(vendor).trust()), key)
    dumped = tmp_path / "dumped"
    dumped.mkdir()
    save_file({k: v.contiguous() for k, v in state.items()}, dumped / "model.safetensors")
    assert _trace(run_cli, vendor, dumped)["customer"] == "Acme"


def test_bad_suspects_and_an_edited_registry_are_refused(tmp_path, run_cli, vendor, base) -> None:
    _mark(run_cli, vendor, base, "Acme", tmp_path / "a")
    truncated = tmp_path / "truncated"
    truncated.mkdir()
    data = (tmp_path / "a" / "model.safetensors").read_bytes()
    (truncated / "model.safetensors").write_bytes(data[: len(data) // 2])
    not_gguf = tmp_path / "junk.gguf"
    not_gguf.write_bytes(b"GGUF" + bytes(range(256)) * 8)
    other = tmp_path / "other"
    other.mkdir()
    from safetensors.numpy import save_file

    save_file({"transformer.h.0.mlp.c_fc.weight": np.ones((8, 8), np.float32)}, other / "model.safetensors")
    cases = {
        truncated: "is truncated",
        not_gguf: "is not a readable GGUF file",
        other: "another architecture",
        tmp_path / "missing": "does not exist",
        tmp_path / "vendor": "holds no model weights",
    }
    for suspect, reason in cases.items():
        result = run_cli("vendor", "trace", suspect, "--vendor", vendor)
        assert result.code != 0 and reason in result.err, (suspect, result.err)
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    # Someone edits the registry to point a leak at another customer: refused, nothing written.
    path = vendor / "fingerprints.json"
    registry = json.loads(path.read_text())
    envelope = registry["entries"][0]
    import base64

    payload = json.loads(base64.b64decode(envelope["payload"]))
    payload["customer"] = "Innocent Ltd"
    envelope["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    path.write_text(json.dumps(registry))
    for args in (("trace", tmp_path / "a"), ("mark", base, "--customer", "X", "--out", tmp_path / "x")):
        result = run_cli("vendor", *args, "--vendor", vendor)
        assert result.code != 0 and "was edited" in result.err
    assert not (tmp_path / "x").exists()


def _permuted_rescaled(tensors: dict[str, np.ndarray], blocks: int, seed: int) -> dict[str, np.ndarray]:
    """The same function with every MLP's hidden units reordered and rescaled (gate/up rows, down columns)."""
    rng = np.random.default_rng(seed)
    out = dict(tensors)
    for i in range(blocks):
        prefix = f"model.layers.{i}.mlp."
        order = rng.permutation(tensors[prefix + "up_proj.weight"].shape[0])
        scale = rng.uniform(0.5, 2.0, order.size).astype(np.float32)
        out[prefix + "gate_proj.weight"] = tensors[prefix + "gate_proj.weight"][order]
        out[prefix + "up_proj.weight"] = tensors[prefix + "up_proj.weight"][order] * scale[:, None]
        out[prefix + "down_proj.weight"] = tensors[prefix + "down_proj.weight"][:, order] / scale[None, :]
    return out


def _provenance(run_cli, suspect: Path, base: Path) -> dict:
    result = run_cli("vendor", "provenance", suspect, "--base", base, "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_provenance_tells_derived_from_independent(tmp_path, run_cli, base) -> None:
    tensors = _tensors(base)
    rng = np.random.default_rng(1)
    noisy = {k: v + rng.normal(0, 0.3 * v.std(), v.shape).astype(np.float32) for k, v in tensors.items()}
    derived = {
        "permuted": _save(_permuted_rescaled(tensors, 4, 2), base, tmp_path / "permuted"),
        "noisy-permuted": _save(_permuted_rescaled(noisy, 4, 3), base, tmp_path / "noisy"),
    }
    for name, suspect in derived.items():
        answer = _provenance(run_cli, suspect, base)
        assert answer["derived"] is True and answer["p_value"] < 1e-6, name
        assert answer["matching_blocks"] == [0, 1, 2, 3]
    # Structured pruning: a quarter of every MLP's hidden units removed (and the rest reordered).
    pruned = _permuted_rescaled(tensors, 4, 4)
    for i in range(4):
        prefix = f"model.layers.{i}.mlp."
        keep = np.arange(pruned[prefix + "up_proj.weight"].shape[0] * 3 // 4)
        for kind in ("gate_proj", "up_proj"):
            pruned[prefix + f"{kind}.weight"] = pruned[prefix + f"{kind}.weight"][keep]
        pruned[prefix + "down_proj.weight"] = pruned[prefix + "down_proj.weight"][:, keep]
    answer = _provenance(run_cli, _save(pruned, base, tmp_path / "narrower-mlp"), base)
    assert answer["derived"] is True and answer["matching_blocks"] == [0, 1, 2, 3]
    for seed in (7, 8):
        answer = _provenance(run_cli, tiny_llama(tmp_path / f"independent-{seed}", seed), base)
        assert answer["derived"] is False and answer["p_value"] > 0.01, (seed, answer)
    wider = _provenance(run_cli, tiny_llama(tmp_path / "wider", 9, hidden=96), base)
    assert wider["derived"] is False and wider["comparable"] is False and "width" in wider["reason"]


def test_the_real_model_is_traced_and_its_fingerprint_costs_nothing_visible(
    tmp_path, run_cli, vendor
) -> None:
    plain = smollm2_fp32_dir()
    copy = tmp_path / "acme"
    result = run_cli("vendor", "mark", plain, "--vendor", vendor, "--customer", "Acme", "--out", copy)
    assert result.code == 0, result.err
    answer = _trace(run_cli, vendor, copy)
    assert answer["customer"] == "Acme" and answer["score"] > 30
    assert _trace(run_cli, vendor, plain)["customer"] is None
    provenance = _provenance(run_cli, copy, plain)
    assert provenance["derived"] is True
