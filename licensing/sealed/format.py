"""The sealed-weights format: constants, key derivation and the associated data of each chunk.

A sealed file `<name>.cmsealed` is

    b"CMSEALv1" | u32 LE header length | header (issuer-signed envelope JSON) | chunk 0 | chunk 1 | ...

The header's payload (plaintext, signed) holds the model id, the original file name, the safetensors tensor
table (names, dtypes, shapes, offsets), the chunk size, the data size, the chunk count, a per-file salt and a
key check value. Each chunk is AES-256-GCM ciphertext + 16-byte tag of `chunk_size` plaintext bytes (the last
may be shorter) under a per-file key HKDF(model key, salt, model id, file name). Its nonce is the chunk index
(the key is unique per file) and its associated data binds the header hash, the file name, the index and a
last-chunk flag: flipping, reordering, swapping between files, truncating or extending all fail to open.

`codemoat-manifest.json` (issuer-signed) lists every sealed file's header hash and size and every plain file's
SHA-256; the license names the manifest hash it was sold for."""

from __future__ import annotations

import struct

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "MAGIC",
    "SEALED_SUFFIX",
    "MANIFEST_NAME",
    "HEADER_TYPE",
    "MANIFEST_TYPE",
    "DEFAULT_CHUNK_SIZE",
    "TAG_SIZE",
    "file_key",
    "key_check",
    "chunk_nonce",
    "chunk_aad",
    "SAFETENSORS_DTYPES",
    "WEIGHT_SUFFIXES",
]

MAGIC = b"CMSEALv1"
SEALED_SUFFIX = ".cmsealed"
MANIFEST_NAME = "codemoat-manifest.json"
HEADER_TYPE = "codemoat.sealed-header"
MANIFEST_TYPE = "codemoat.sealed-manifest"
DEFAULT_CHUNK_SIZE = 4 * 1024 * 1024
TAG_SIZE = 16
PREAMBLE = struct.Struct("<8sI")
# Weight formats the sealer refuses to copy in plaintext (they would leak the weights next to the sealed ones).
WEIGHT_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".gguf", ".h5", ".msgpack", ".onnx", ".npz")

# safetensors dtype name -> (torch dtype attribute, item size)
SAFETENSORS_DTYPES: dict[str, tuple[str, int]] = {
    "F64": ("float64", 8),
    "F32": ("float32", 4),
    "F16": ("float16", 2),
    "BF16": ("bfloat16", 2),
    "I64": ("int64", 8),
    "I32": ("int32", 4),
    "I16": ("int16", 2),
    "I8": ("int8", 1),
    "U8": ("uint8", 1),
    "BOOL": ("bool", 1),
    "F8_E4M3": ("float8_e4m3fn", 1),
    "F8_E5M2": ("float8_e5m2", 1),
}


def _hkdf(model_key: bytearray | bytes, salt: bytes, info: bytes) -> bytearray:
    return bytearray(HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(model_key))


def file_key(model_key: bytearray | bytes, salt: bytes, model_id: str, file_name: str) -> bytearray:
    info = b"codemoat sealed file v1\x00" + model_id.encode() + b"\x00" + file_name.encode()
    return _hkdf(model_key, salt, info)


def key_check(model_key: bytearray | bytes, salt: bytes, model_id: str, file_name: str) -> str:
    """A one-way value of the key, so a wrong key is reported as such instead of as a damaged chunk."""
    info = b"codemoat key check v1\x00" + model_id.encode() + b"\x00" + file_name.encode()
    check = _hkdf(model_key, salt, info)
    try:
        return check.hex()
    finally:
        check[:] = bytes(len(check))


def chunk_nonce(index: int) -> bytes:
    return b"\x00\x00\x00\x00" + index.to_bytes(8, "big")


def chunk_aad(header_hash: bytes, file_name: str, index: int, last: bool) -> bytes:
    return (
        b"codemoat chunk v1\x00"
        + header_hash
        + file_name.encode()
        + b"\x00"
        + index.to_bytes(8, "big")
        + (b"\x01" if last else b"\x00")
    )
