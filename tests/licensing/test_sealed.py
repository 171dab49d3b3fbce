"""Sealed weights: a real sealed delivery round-trips bit-exactly; every kind of tampering fails clearly and
writes nothing."""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from licensing.errors import BindingError, ModelError
from licensing.sealed.format import MANIFEST_NAME, TAG_SIZE
from licensing.sealed.reader import SealedModel, is_sealed_model
from licensing.sealed.torch_loader import sealed_state_dict
from tests.licensing.conftest import World

SEALED_FILE = "model.safetensors.cmsealed"


def _copy(world: World, name: str = "tiny-sealed") -> Path:
    target = world.tmp / f"copy-{name}"
    shutil.copytree(world.tmp / name, target)
    return target


def _layout(path: Path) -> tuple[int, int, int]:
    """(offset of the first chunk, chunk record size, number of chunks) read from the file itself."""

    from licensing.armor import Envelope

    data = path.read_bytes()
    _, header_len = struct.unpack("<8sI", data[:12])
    header = Envelope.from_json(data[12 : 12 + header_len], "h").payload()
    return 12 + header_len, header["chunk_size"] + TAG_SIZE, header["n_chunks"]


def test_sealed_model_round_trips_bit_exactly(activated: World) -> None:
    service = activated.service()
    sealed = service.open_sealed(activated.tmp / "tiny-sealed")
    with service.model_key("tiny") as key:
        state = sealed_state_dict(sealed, key, threads=2)
    assert all(b == 0 for b in key)  # the key buffer was wiped when the block ended
    reference = load_file(activated.tmp / "tiny-plain" / "model.safetensors")
    assert state.keys() == reference.keys()
    for name, tensor in reference.items():
        assert state[name].dtype == tensor.dtype and torch.equal(state[name], tensor)
    assert not list((activated.tmp / "tiny-sealed").glob("*.safetensors"))  # no plaintext weights shipped
    assert is_sealed_model(activated.tmp / "tiny-sealed") and not is_sealed_model(
        activated.tmp / "tiny-plain"
    )


def test_check_model_authenticates_every_chunk(activated: World) -> None:
    report = activated.service().check_model(activated.tmp / "tiny-sealed")
    assert report["model_id"] == "tiny" and report["files"] == 1 and report["chunks"] >= 3


def _assert_refused(world: World, model_dir: Path, match: str) -> None:
    before = world.snapshot()
    files_before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    with pytest.raises(ModelError, match=match):
        world.service().check_model(model_dir)
    assert world.snapshot() == before
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == files_before


def test_flipped_bit_in_a_chunk_fails(activated: World) -> None:
    model_dir = _copy(activated)
    path = model_dir / SEALED_FILE
    start, record, n = _layout(path)
    data = bytearray(path.read_bytes())
    data[start + record + 100] ^= 0x01  # inside chunk 1
    path.write_bytes(data)
    _assert_refused(activated, model_dir, "chunk 1 fails authentication")


def test_swapped_chunks_fail(activated: World) -> None:
    model_dir = _copy(activated)
    path = model_dir / SEALED_FILE
    start, record, n = _layout(path)
    assert n >= 3
    data = bytearray(path.read_bytes())
    chunk0, chunk1 = data[start : start + record], data[start + record : start + 2 * record]
    data[start : start + record], data[start + record : start + 2 * record] = chunk1, chunk0
    path.write_bytes(data)
    _assert_refused(activated, model_dir, "fails authentication")


def test_truncated_file_fails(activated: World) -> None:
    model_dir = _copy(activated)
    path = model_dir / SEALED_FILE
    path.write_bytes(path.read_bytes()[:-500])
    _assert_refused(activated, model_dir, "truncated")


def test_dropping_the_last_chunk_fails_even_with_a_matching_size_claim(activated: World) -> None:
    """Cut whole chunks: the signed header's chunk count and the last-chunk flag both catch it."""
    model_dir = _copy(activated)
    path = model_dir / SEALED_FILE
    start, record, n = _layout(path)
    path.write_bytes(path.read_bytes()[: start + (n - 1) * record])
    _assert_refused(activated, model_dir, "truncated")


def test_appended_bytes_fail(activated: World) -> None:
    model_dir = _copy(activated)
    path = model_dir / SEALED_FILE
    path.write_bytes(path.read_bytes() + b"\x00" * 32)
    _assert_refused(activated, model_dir, "appended")


def test_edited_header_fails(activated: World) -> None:
    model_dir = _copy(activated)
    path = model_dir / SEALED_FILE
    data = path.read_bytes()
    edited = data.replace(b'"alg":"Ed25519"', b'"alg":"Ed25519" ', 1)  # same meaning, different bytes
    assert edited != data
    # keep the declared header length consistent so only the content differs
    _, header_len = struct.unpack("<8sI", data[:12])
    edited = data[:8] + struct.pack("<I", header_len + 1) + edited[12:]
    path.write_bytes(edited)
    with pytest.raises(ModelError):
        activated.service().check_model(model_dir)


def test_edited_plain_config_fails(activated: World) -> None:
    model_dir = _copy(activated)
    (model_dir / "config.json").write_text('{"model_type": "other"}')
    _assert_refused(activated, model_dir, "was modified")


def test_sealed_file_from_another_model_fails(activated: World) -> None:
    model_dir = _copy(activated)
    shutil.copyfile(activated.tmp / "other-sealed" / SEALED_FILE, model_dir / SEALED_FILE)
    _assert_refused(activated, model_dir, "header of .* was modified|wrong size|truncated|appended")


def test_wrong_model_key_fails_clearly(activated: World) -> None:
    sealed = SealedModel.open(activated.tmp / "tiny-sealed", activated.trust)
    wrong = bytearray(32)
    out = memoryview(bytearray(sealed.files[0].data_size))
    with pytest.raises(ModelError, match="wrong key"):
        sealed.decrypt_into(sealed.files[0], wrong, out)
    assert not any(out)


def test_license_for_another_model_is_refused(activated: World) -> None:
    before = activated.snapshot()
    with pytest.raises(BindingError, match="does not cover model 'other'"):
        activated.service().check_model(activated.tmp / "other-sealed")
    assert activated.snapshot() == before


def test_resealed_delivery_with_another_manifest_is_refused(activated: World) -> None:
    """Same model id and key, but not the delivery the license names."""
    activated.vendor.seal(
        activated.tmp / "tiny-plain",
        activated.tmp / "tiny-resealed",
        model_id="tiny",
        now=activated.clock.now,
        chunk_size=8192,
    )
    _assert_refused(activated, activated.tmp / "tiny-resealed", "not the delivery")


def test_manifest_signed_by_unknown_key_is_refused(activated: World) -> None:
    model_dir = _copy(activated)
    manifest = model_dir / MANIFEST_NAME
    manifest.write_bytes(manifest.read_bytes().replace(b'"kid":"issuer-', b'"kid":"issuer-0', 1))
    with pytest.raises(Exception, match="unknown key id|does not match"):
        activated.service().check_model(model_dir)
