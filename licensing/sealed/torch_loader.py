"""Sealed weights → torch tensors → engines. torch and transformers are imported inside the functions only:
`licensing` itself depends on `cryptography` and the standard library.

Each sealed file is decrypted into one preallocated `torch.uint8` buffer; tensors are views into it (no copy),
so plaintext exists only in process memory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from licensing.errors import ModelError
from licensing.sealed.format import SAFETENSORS_DTYPES
from licensing.sealed.reader import SealedFile, SealedModel

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["iter_sealed_tensors", "sealed_state_dict", "load_sealed_transformers"]


def _file_tensors(
    model: SealedModel, sealed: SealedFile, model_key: bytearray, threads: int | None
) -> Iterator[tuple[str, "torch.Tensor"]]:
    import torch

    buffer = torch.empty(sealed.data_size, dtype=torch.uint8)
    model.decrypt_into(sealed, model_key, memoryview(buffer.numpy()), threads)
    for name, info in sealed.tensors.items():
        dtype = getattr(torch, SAFETENSORS_DTYPES[info["dtype"]][0])
        start, end = info["data_offsets"]
        raw = buffer[start:end]
        itemsize = SAFETENSORS_DTYPES[info["dtype"]][1]
        if start % itemsize:
            raw = raw.clone()  # misaligned offset: a view of another dtype needs an aligned start
        yield name, raw.view(dtype).reshape(info["shape"])


def iter_sealed_tensors(
    model: SealedModel, model_key: bytearray, threads: int | None = None
) -> Iterator[tuple[str, "torch.Tensor"]]:
    """(name, tensor) pairs, one sealed file decrypted at a time: what vLLM's `model.load_weights` consumes."""
    for sealed in model.files:
        yield from _file_tensors(model, sealed, model_key, threads)


def sealed_state_dict(model: SealedModel, model_key: bytearray, threads: int | None = None) -> dict[str, Any]:
    return dict(iter_sealed_tensors(model, model_key, threads))


def load_sealed_transformers(
    model: SealedModel, model_key: bytearray, *, dtype: Any = None, threads: int | None = None
) -> Any:
    """Build the transformers causal LM named by the sealed directory's plain `config.json` and hand it the
    decrypted tensors (transformers builds the modules without weights, then assigns ours)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING

    model_dir = Path(model.model_dir)
    config = AutoConfig.from_pretrained(model_dir, local_files_only=True)
    try:
        model_class = MODEL_FOR_CAUSAL_LM_MAPPING[type(config)]
    except KeyError:
        raise ModelError(
            f"{model_dir}/config.json names a model type transformers cannot build "
            f"({config.model_type}); the sealed model needs a causal LM architecture"
        ) from None
    state_dict = sealed_state_dict(model, model_key, threads)
    # "auto" keeps the checkpoint's dtype (bf16 stays bf16), as the plain engine's load does.
    loaded = model_class.from_pretrained(None, config=config, state_dict=state_dict, dtype=dtype or "auto")
    loaded.eval()
    return loaded
