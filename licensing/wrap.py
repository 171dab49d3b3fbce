"""Model keys wrapped to one device: X25519 (ephemeral-static) + HKDF-SHA256 + AES-256-GCM.

The wrapped form is `{"epk", "nonce", "ct"}`; the associated data binds the license id, the model id and the
device key id, so a wrapped key cannot be moved to another license or model entry. Unwrapped keys come back as
`bytearray` so the caller can overwrite them when done."""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from licensing.encoding import b64d, b64e
from licensing.errors import FormatError, ModelError

__all__ = ["MODEL_KEY_BYTES", "wrap_model_key", "unwrap_model_key", "wipe"]

MODEL_KEY_BYTES = 32
_INFO = b"codemoat model-key wrap v1"


def wipe(buffer: bytearray | memoryview | None) -> None:
    """Overwrite a key buffer in place (Python cannot wipe immutable bytes, so keys live in bytearrays)."""
    if buffer is not None:
        buffer[:] = bytes(len(buffer))


def _kek(shared: bytes, aad: bytes) -> bytearray:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO + b"\x00" + aad).derive(shared)
    return bytearray(derived)


def _aad(license_id: str, model_id: str, device_kid: str) -> bytes:
    return f"{license_id}\x00{model_id}\x00{device_kid}".encode()


def wrap_model_key(
    model_key: bytearray | bytes, device_public_b64: str, *, license_id: str, model_id: str, device_kid: str
) -> dict[str, str]:
    device_public = X25519PublicKey.from_public_bytes(b64d(device_public_b64, "device wrapping key"))
    ephemeral = X25519PrivateKey.generate()
    aad = _aad(license_id, model_id, device_kid)
    kek = _kek(ephemeral.exchange(device_public), aad)
    nonce = os.urandom(12)
    try:
        ciphertext = AESGCM(kek).encrypt(nonce, model_key, aad)
    finally:
        wipe(kek)
    epk = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"epk": b64e(epk), "nonce": b64e(nonce), "ct": b64e(ciphertext)}


def unwrap_model_key(
    wrapped: dict[str, str], device_key: X25519PrivateKey, *, license_id: str, model_id: str, device_kid: str
) -> bytearray:
    if not isinstance(wrapped, dict):
        raise FormatError(
            f"the wrapped key for model {model_id} is malformed; ask the vendor for a new license"
        )
    epk = X25519PublicKey.from_public_bytes(b64d(wrapped.get("epk", ""), "wrapped key epk"))
    aad = _aad(license_id, model_id, device_kid)
    kek = _kek(device_key.exchange(epk), aad)
    try:
        plain = AESGCM(kek).decrypt(
            b64d(wrapped.get("nonce", ""), "wrapped key nonce"),
            b64d(wrapped.get("ct", ""), "wrapped key"),
            aad,
        )
    except InvalidTag:
        raise ModelError(
            f"the key for model {model_id} was not wrapped for this device; ask the vendor to "
            "re-issue the license for this machine"
        ) from None
    finally:
        wipe(kek)
    key = bytearray(plain)
    # `plain` is an immutable bytes object we cannot wipe; drop the reference at once so it is freed.
    del plain
    if len(key) != MODEL_KEY_BYTES:
        wipe(key)
        raise ModelError(f"the key for model {model_id} has the wrong length")
    return key
