"""The bundled SmolLM2 model (fp32, ~540 MB) sealed, licensed and loaded for the CPU engine: its logits equal a
plain load's, and nothing is written to disk while it loads.

The fp32 copy is built once into the test cache (see `model_cache.py`); these tests are slow."""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from pathlib import Path

import pytest

from licensing.service import LicenseService
from licensing.vendor import VendorKeyring
from tests.licensing.conftest import DAY, MACHINE, T0
from tests.licensing.model_cache import cache_root, smollm2_fp32_dir

pytestmark = pytest.mark.slow

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class WriteWatch:
    """Records every file the process opens for writing while active (a process-wide audit hook)."""

    _installed: "WriteWatch | None" = None

    def __init__(self) -> None:
        self.active = False
        self.writes: list[str] = []
        self._lock = threading.Lock()

    @classmethod
    def get(cls) -> "WriteWatch":
        # Audit hooks cannot be removed: install one for the whole session and switch it on and off.
        if cls._installed is None:
            cls._installed = cls()
            sys.addaudithook(cls._installed._hook)
        return cls._installed

    def _hook(self, event: str, args: tuple) -> None:
        if not self.active:
            return
        if event == "open":
            path, mode, flags = (list(args) + [None, None, None])[:3]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                isinstance(flags, int) and flags & _WRITE_FLAGS
            )
            if writing:
                with self._lock:
                    self.writes.append(str(path))
        elif event in ("os.rename", "os.replace", "shutil.copyfile", "shutil.move", "os.truncate"):
            with self._lock:
                self.writes.append(f"{event}:{args[0]}")


def _top_level_files(directory: Path) -> dict[Path, int]:
    """Files directly in `directory` (where a stray relative write would land), by mtime."""
    files = {}
    for path in directory.iterdir():
        try:
            if path.is_file():
                files[path] = path.stat().st_mtime_ns
        except OSError:
            continue
    return files


def _tree_state(*roots: Path) -> dict[str, tuple[int, int]]:
    state = {}
    for root in roots:
        if not root.exists():
            continue
        for dirpath, _, names in os.walk(root):
            for name in names:
                path = Path(dirpath) / name
                try:
                    st = path.stat()
                except OSError:
                    continue
                state[str(path)] = (st.st_size, st.st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def sealed_smollm2(tmp_path_factory):
    plain = smollm2_fp32_dir()
    base = tmp_path_factory.mktemp("smollm2")
    vendor = VendorKeyring.generate(base / "vendor", name="Test Vendor", now=T0 - 800 * DAY, issuer_days=1600)
    vendor.seal(plain, base / "sealed", model_id="smollm2-135m", now=T0 - DAY)
    service = LicenseService(
        base / "home" / "license",
        trust=vendor.trust(),
        clock=lambda: float(T0),
        fingerprint=lambda: dict(MACHINE),
    )
    license_text = vendor.issue(
        service.request_activation(),
        customer="Example GmbH",
        seats=5,
        days=365,
        models=["smollm2-135m"],
        now=T0,
    )
    service.activate(license_text)
    return plain, base / "sealed", service


def test_sealed_delivery_holds_no_plaintext_weights(sealed_smollm2) -> None:
    plain, sealed_dir, _ = sealed_smollm2
    weights = (plain / "model.safetensors").read_bytes()
    probe = weights[len(weights) // 2 : len(weights) // 2 + 64]
    assert not list(sealed_dir.glob("*.safetensors"))
    for path in sealed_dir.iterdir():
        assert probe not in path.read_bytes(), path


def test_sealed_load_equals_plain_load_and_writes_nothing(sealed_smollm2) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    plain_dir, sealed_dir, service = sealed_smollm2
    tokenizer = AutoTokenizer.from_pretrained(sealed_dir)  # plain tokenizer files travel with the delivery
    inputs = tokenizer(
        'def fibonacci(n):\n    """Return the n-th Fibonacci number."""\n', return_tensors="pt"
    )

    # Roots only this process writes to: other engineers' processes on this machine convert the same bundled
    # model to fp32 under the shared /tmp, which would look like leaked plaintext. Any library that asks
    # `tempfile` for a scratch file during the load gets the private directory, which is watched.
    private_tmp = sealed_dir.parent / "private-tmp"
    private_tmp.mkdir(exist_ok=True)
    watched_roots = [
        sealed_dir.parent,
        cache_root(),
        Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")),
    ]
    cwd_files = _top_level_files(Path.cwd())
    before = _tree_state(*watched_roots)
    watch = WriteWatch.get()
    watch.writes.clear()
    saved_tempdir, tempfile.tempdir = tempfile.tempdir, str(private_tmp)
    watch.active = True
    try:
        sealed_model = service.load_sealed_transformers(sealed_dir)
    finally:
        watch.active = False
        tempfile.tempdir = saved_tempdir
    after = _tree_state(*watched_roots)
    new_in_cwd = [p for p, mtime in _top_level_files(Path.cwd()).items() if cwd_files.get(p) != mtime]

    assert watch.writes == [], f"files opened for writing during the sealed load: {watch.writes}"
    # What matters is that no file created or changed during the load holds any piece of the plaintext.
    weights = (plain_dir / "model.safetensors").read_bytes()
    probes = [weights[at : at + 64] for at in range(len(weights) // 7, len(weights), len(weights) // 7)]
    del weights
    changed = [path for path in after if before.get(path) != after[path]] + [str(p) for p in new_in_cwd]
    for path in changed:
        try:
            content = Path(path).read_bytes()
        except OSError:
            continue
        assert not any(probe in content for probe in probes), f"plaintext weights found in {path}"

    plain_model = AutoModelForCausalLM.from_pretrained(plain_dir)
    with torch.no_grad():
        sealed_logits = sealed_model(**inputs).logits
        plain_logits = plain_model(**inputs).logits
    assert sealed_logits.shape[-1] == plain_model.config.vocab_size
    assert torch.equal(sealed_logits, plain_logits)
    sealed_params = dict(sealed_model.named_parameters())
    assert all(not p.is_meta for p in sealed_params.values())
    for name, param in plain_model.named_parameters():
        assert torch.equal(sealed_params[name], param), name

    generated = sealed_model.generate(**inputs, max_new_tokens=8, do_sample=False)
    reference = plain_model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert torch.equal(generated, reference)


def test_check_model_on_the_real_delivery(sealed_smollm2) -> None:
    _, sealed_dir, service = sealed_smollm2
    report = service.check_model(sealed_dir)
    assert report["model_id"] == "smollm2-135m" and report["bytes"] > 500_000_000
