"""`licensing` must install inside a vLLM environment: importing any of its modules loads only the standard
library and `cryptography` (torch, transformers and vllm are imported inside the functions that need them).
The vendor's forensics (`licensing.forensics`) read weights and may load numpy as well, nothing more; no other
licensing module imports them."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import licensing

ALLOWED_THIRD_PARTY = {"cryptography", "cffi", "_cffi_backend", "licensing"}


def _loaded_by(modules: list[str]) -> set[str]:
    script = (
        "import importlib, json, sys\n"
        "before = set(sys.modules)\n"
        f"for name in {modules!r}: importlib.import_module(name)\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    return set(json.loads(result.stdout))


def test_importing_every_licensing_module_loads_only_stdlib_and_cryptography() -> None:
    every = sorted(m.name for m in pkgutil.walk_packages(licensing.__path__, "licensing."))
    modules = [m for m in every if not m.startswith("licensing.forensics")]
    assert "licensing.vllm_plugin" in modules and "licensing.sealed.torch_loader" in modules
    loaded = _loaded_by(modules)
    third_party = {m for m in loaded if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert "cryptography" in loaded
    assert third_party <= ALLOWED_THIRD_PARTY, third_party - ALLOWED_THIRD_PARTY
    assert not loaded & {"torch", "transformers", "vllm", "numpy", "appliance", "indexer", "lsp"}


def test_the_forensics_load_numpy_and_nothing_heavier() -> None:
    forensics = sorted(
        m.name
        for m in pkgutil.walk_packages(licensing.__path__, "licensing.")
        if m.name.startswith("licensing.forensics")
    )
    assert "licensing.forensics.fingerprint" in forensics and "licensing.forensics.provenance" in forensics
    loaded = _loaded_by(forensics)
    third_party = {m for m in loaded if m not in sys.stdlib_module_names and not m.startswith("_")}
    assert third_party <= ALLOWED_THIRD_PARTY | {"numpy"}, third_party
    assert not loaded & {"torch", "transformers", "vllm", "gguf", "scipy", "appliance", "indexer", "lsp"}
