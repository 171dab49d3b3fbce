"""Model weights as float32 numpy arrays under Hugging Face tensor names, read from a safetensors directory
(one file or shards) or a GGUF file (dequantized with the `gguf` package), and a safetensors copy with chosen
tensors rewritten in place (everything else byte for byte the same).

Only the tensors the forensics use are named from a GGUF file: the embedding and, per block, the attention's
value and output projections and the MLP's three projections. llama.cpp's converter reorders the rows of the
query and key projections for rotary embeddings, so those are left out rather than guessed back."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from licensing.errors import FormatError
from licensing.sealed.seal import read_safetensors_header

__all__ = [
    "LAYER_TENSORS",
    "EMBEDDING",
    "Weights",
    "open_weights",
    "rewrite_safetensors",
    "STAGING_PREFIX",
]

EMBEDDING = "model.embed_tokens.weight"
# Per-block tensors under their Hugging Face (llama-family) names, `{i}` the block index.
LAYER_TENSORS = (
    "model.layers.{i}.self_attn.v_proj.weight",
    "model.layers.{i}.self_attn.o_proj.weight",
    "model.layers.{i}.mlp.gate_proj.weight",
    "model.layers.{i}.mlp.up_proj.weight",
    "model.layers.{i}.mlp.down_proj.weight",
)
_FLOAT_DTYPES = {"F32": 4, "F16": 2, "BF16": 2}
# Staging directories are named so that a later run can tell its own leftovers from anything else.
STAGING_PREFIX = ".codemoat-staging-"


class Weights(Protocol):
    """A read-only view of a model's floating-point tensors."""

    source: str

    def names(self) -> list[str]: ...

    def shape(self, name: str) -> tuple[int, ...]: ...

    def read(self, name: str) -> np.ndarray:
        """The tensor as float32 (a new array)."""
        ...


def open_weights(path: Path) -> Weights:
    """A safetensors directory or file, or a GGUF file (or a directory holding exactly one)."""
    if path.is_file():
        if path.suffix == ".gguf":
            return GgufWeights(path)
        if path.suffix == ".safetensors":
            return SafetensorsWeights([path], str(path))
        raise FormatError(f"{path} is neither a .safetensors nor a .gguf file")
    if not path.is_dir():
        raise FormatError(f"{path} does not exist")
    shards = sorted(path.glob("*.safetensors"))
    if shards:
        return SafetensorsWeights(shards, str(path))
    ggufs = sorted(path.glob("*.gguf"))
    if len(ggufs) == 1:
        return GgufWeights(ggufs[0])
    if ggufs:
        raise FormatError(f"{path} holds {len(ggufs)} GGUF files; name the one to read")
    raise FormatError(f"{path} holds no model weights (no .safetensors or .gguf file)")


def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (raw.astype(np.uint32) << 16).view(np.float32)


def _f32_to_bf16(values: np.ndarray) -> np.ndarray:
    # Round to nearest even, as torch does when it casts.
    bits = values.astype(np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)


@dataclass(frozen=True)
class _Entry:
    file: Path
    dtype: str
    shape: tuple[int, ...]
    start: int
    end: int


def _safetensors_entries(path: Path) -> dict[str, _Entry]:
    header, data_start = read_safetensors_header(path)
    size = path.stat().st_size
    entries = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = (int(x) for x in info["data_offsets"])
        if data_start + end > size:
            raise FormatError(
                f"{path} is truncated: tensor {name} ends at byte {data_start + end:,}, the file has {size:,}"
            )
        if info["dtype"] in _FLOAT_DTYPES:
            if end - begin != _FLOAT_DTYPES[info["dtype"]] * int(np.prod(info["shape"], dtype=np.int64)):
                raise FormatError(
                    f"{path}: tensor {name} holds {end - begin:,} bytes, not what its shape needs"
                )
            entries[name] = _Entry(
                path, info["dtype"], tuple(info["shape"]), data_start + begin, data_start + end
            )
    return entries


class SafetensorsWeights:
    def __init__(self, files: list[Path], source: str) -> None:
        self.source = source
        self._entries: dict[str, _Entry] = {}
        for file in files:
            self._entries.update(_safetensors_entries(file))

    def names(self) -> list[str]:
        return list(self._entries)

    def entry(self, name: str) -> _Entry:
        return self._entries[name]

    def shape(self, name: str) -> tuple[int, ...]:
        return self._entries[name].shape

    def read(self, name: str) -> np.ndarray:
        entry = self._entries[name]
        with open(entry.file, "rb") as handle:
            handle.seek(entry.start)
            raw = handle.read(entry.end - entry.start)
        if entry.dtype == "F32":
            values = np.frombuffer(raw, dtype="<f4").copy()
        elif entry.dtype == "F16":
            values = np.frombuffer(raw, dtype="<f2").astype(np.float32)
        else:
            values = _bf16_to_f32(np.frombuffer(raw, dtype="<u2"))
        return values.reshape(entry.shape)


class GgufWeights:
    def __init__(self, path: Path) -> None:
        import gguf

        self.source = str(path)
        try:
            reader = gguf.GGUFReader(path)
        except Exception as exc:  # the reader raises ValueError, KeyError, struct errors on damaged files
            raise FormatError(f"{path} is not a readable GGUF file ({type(exc).__name__}: {exc})") from None
        arch = _field_text(reader, "general.architecture")
        arch_ids = {name: key for key, name in gguf.MODEL_ARCH_NAMES.items()}
        if arch not in arch_ids:
            raise FormatError(f"{path}: GGUF architecture {arch!r} is not one the gguf package knows")
        blocks = _field_int(reader, f"{arch}.block_count")
        name_map = gguf.get_tensor_name_map(arch_ids[arch], blocks)
        hf_names = {
            name_map.get_name(EMBEDDING.removesuffix(".weight")): EMBEDDING,
            **{
                name_map.get_name(pattern.format(i=i).removesuffix(".weight")): pattern.format(i=i)
                for i in range(blocks)
                for pattern in LAYER_TENSORS
            },
        }
        self._tensors = {}
        for tensor in reader.tensors:
            hf = hf_names.get(tensor.name.removesuffix(".weight"))
            if hf is not None:
                self._tensors[hf] = tensor
        self._dequantize = gguf.quants.dequantize

    def names(self) -> list[str]:
        return list(self._tensors)

    def shape(self, name: str) -> tuple[int, ...]:
        return tuple(int(n) for n in reversed(self._tensors[name].shape))

    def read(self, name: str) -> np.ndarray:
        tensor = self._tensors[name]
        try:
            values = self._dequantize(tensor.data, tensor.tensor_type)
        except Exception as exc:
            raise FormatError(f"{self.source}: tensor {tensor.name} cannot be read ({exc})") from None
        return np.asarray(values, dtype=np.float32).reshape(self.shape(name))


def _field_text(reader, key: str) -> str:
    field = reader.fields.get(key)
    if field is None:
        raise FormatError(f"{reader.data.filename}: GGUF metadata has no {key}")
    return bytes(field.parts[field.data[0]]).decode("utf-8", "replace")


def _field_int(reader, key: str) -> int:
    field = reader.fields.get(key)
    if field is None:
        raise FormatError(f"{reader.data.filename}: GGUF metadata has no {key}")
    return int(field.parts[field.data[0]][0])


def rewrite_safetensors(
    source: Path,
    out_dir: Path,
    select: Callable[[str, tuple[int, ...]], bool],
    edit: Callable[[str, np.ndarray], np.ndarray],
) -> list[str]:
    """Copy the model directory `source` to the new `out_dir`, replacing each tensor that `select(name, shape)`
    picks by `edit(name, float32 values)` (cast back to the tensor's own dtype); the others are never read. Atomic: a staging directory is
    renamed into place, so a crash leaves no half-written model. Returns the names of the rewritten tensors."""
    if out_dir.exists():
        raise FormatError(f"{out_dir} already exists; choose a new directory")
    shards = sorted(source.glob("*.safetensors"))
    if not shards:
        raise FormatError(f"{source} holds no .safetensors weights")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    prefix = f"{STAGING_PREFIX}{out_dir.name}."
    for stale in out_dir.parent.glob(prefix + "*"):  # left by a run that was killed: plaintext weights
        shutil.rmtree(stale, ignore_errors=True)
    staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
    edited: list[str] = []
    try:
        shutil.copytree(source, staging, dirs_exist_ok=True)
        for shard in shards:
            copy = staging / shard.name
            reader = SafetensorsWeights([copy], str(copy))
            with open(copy, "r+b") as handle:
                for name in reader.names():
                    entry = reader.entry(name)
                    if not select(name, entry.shape):
                        continue
                    new = edit(name, reader.read(name))
                    if new.shape != entry.shape:
                        raise FormatError(f"rewriting {name} changed its shape")
                    if entry.dtype == "F32":
                        raw = new.astype("<f4").tobytes()
                    elif entry.dtype == "F16":
                        raw = new.astype("<f2").tobytes()
                    else:
                        raw = _f32_to_bf16(new).astype("<u2").tobytes()
                    handle.seek(entry.start)
                    handle.write(raw)
                    edited.append(name)
                handle.flush()
                os.fsync(handle.fileno())
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return edited
