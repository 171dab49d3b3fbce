"""Vendor side: seal a safetensors model directory with a model key (see `format.py` for the layout)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from licensing.armor import sign_envelope
from licensing.encoding import atomic_write, b64e, sha256_hex
from licensing.errors import FormatError
from licensing.sealed.format import (
    DEFAULT_CHUNK_SIZE,
    HEADER_TYPE,
    MAGIC,
    MANIFEST_NAME,
    MANIFEST_TYPE,
    PREAMBLE,
    SAFETENSORS_DTYPES,
    SEALED_SUFFIX,
    WEIGHT_SUFFIXES,
    chunk_aad,
    chunk_nonce,
    file_key,
    key_check,
)
from licensing.wrap import wipe

__all__ = ["seal_model", "read_safetensors_header"]


def read_safetensors_header(path: Path) -> tuple[dict[str, Any], int]:
    """Return (header JSON, offset of the data section) of a safetensors file, without any ML dependency."""
    with open(path, "rb") as handle:
        raw_len = handle.read(8)
        if len(raw_len) != 8:
            raise FormatError(f"{path} is not a safetensors file")
        (length,) = struct.unpack("<Q", raw_len)
        if length > 100 * 1024 * 1024:
            raise FormatError(f"{path} has an implausible safetensors header")
        try:
            header = json.loads(handle.read(length))
        except ValueError:
            raise FormatError(f"{path} is not a safetensors file") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path} is not a safetensors file")
    for name, info in header.items():
        if name != "__metadata__" and info.get("dtype") not in SAFETENSORS_DTYPES:
            raise FormatError(f"{path}: tensor {name} has unsupported dtype {info.get('dtype')!r}")
    return header, 8 + length


def seal_model(
    model_dir: Path,
    out_dir: Path,
    *,
    model_id: str,
    model_key: bytearray,
    issuer_key: Ed25519PrivateKey,
    issuer_kid: str,
    issuer_cert: dict[str, Any],
    now: int,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> str:
    """Seal every `*.safetensors` in `model_dir` into `out_dir`, copy config/tokenizer files in plain, write the
    signed manifest; return the manifest hash the license must name."""
    if not model_dir.is_dir():
        raise FormatError(f"model directory {model_dir} does not exist")
    weights = sorted(model_dir.glob("*.safetensors"))
    if not weights:
        raise FormatError(
            f"{model_dir} holds no *.safetensors files; convert the model with save_pretrained first"
        )
    leaking = [p.name for p in model_dir.iterdir() if p.suffix in WEIGHT_SUFFIXES]
    if leaking:
        raise FormatError(
            f"{model_dir} also holds weights in other formats ({', '.join(leaking)}); remove them so "
            "they are not shipped in plaintext"
        )
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FormatError(f"output directory {out_dir} is not empty; choose a new one")
    out_dir.mkdir(parents=True, exist_ok=True)
    certs = (issuer_cert,)
    sealed: dict[str, Any] = {}
    for path in weights:
        sealed[path.name + SEALED_SUFFIX] = _seal_file(
            path,
            out_dir / (path.name + SEALED_SUFFIX),
            model_id,
            model_key,
            issuer_key,
            issuer_kid,
            certs,
            now,
            chunk_size,
        )
    plain: dict[str, str] = {}
    for path in sorted(model_dir.iterdir()):
        if path.is_file() and path.suffix != ".safetensors":
            shutil.copyfile(path, out_dir / path.name)
            plain[path.name] = sha256_hex(path.read_bytes())
    payload = {
        "format": 1,
        "model_id": model_id,
        "issued_at": now,
        "chunk_size": chunk_size,
        "sealed": sealed,
        "plain": plain,
    }
    envelope = sign_envelope(MANIFEST_TYPE, payload, issuer_key, issuer_kid, certs)
    atomic_write(out_dir / MANIFEST_NAME, envelope.to_json(), mode=0o644)
    return sha256_hex(envelope.payload_bytes())


def _seal_file(
    src: Path,
    dst: Path,
    model_id: str,
    model_key: bytearray,
    issuer_key: Ed25519PrivateKey,
    issuer_kid: str,
    certs: tuple[dict[str, Any], ...],
    now: int,
    chunk_size: int,
) -> dict[str, Any]:
    header, data_start = read_safetensors_header(src)
    data_size = src.stat().st_size - data_start
    n_chunks = max(1, -(-data_size // chunk_size))
    salt = os.urandom(32)
    original = src.name
    payload = {
        "format": 1,
        "model_id": model_id,
        "file": original,
        "issued_at": now,
        "chunk_size": chunk_size,
        "data_size": data_size,
        "n_chunks": n_chunks,
        "salt": b64e(salt),
        "key_check": key_check(model_key, salt, model_id, original),
        "tensors": {k: v for k, v in header.items() if k != "__metadata__"},
        "metadata": header.get("__metadata__", {}),
    }
    header_bytes = sign_envelope(HEADER_TYPE, payload, issuer_key, issuer_kid, certs).to_json()
    header_hash = hashlib.sha256(header_bytes).digest()
    key = file_key(model_key, salt, model_id, original)
    try:
        aead = AESGCM(key)
        with open(src, "rb") as reader, open(dst, "wb") as writer:
            writer.write(PREAMBLE.pack(MAGIC, len(header_bytes)))
            writer.write(header_bytes)
            reader.seek(data_start)
            for index in range(n_chunks):
                plain = reader.read(chunk_size)
                last = index == n_chunks - 1
                writer.write(
                    aead.encrypt(chunk_nonce(index), plain, chunk_aad(header_hash, original, index, last))
                )
            writer.flush()
            os.fsync(writer.fileno())
    finally:
        wipe(key)
    return {
        "header_sha256": header_hash.hex(),
        "size": dst.stat().st_size,
        "n_chunks": n_chunks,
        "file": original,
    }
