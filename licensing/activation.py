"""Offline activation documents signed by the device: the activation request (carried to the vendor by hand)
and the deactivation receipt (carried back to free the seat).

Both are self-contained: the request carries the device's public keys, and its signature proves the sender
holds the private signing key; a receipt is checked against the device key recorded in the license."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from licensing.armor import Envelope, armor, dearmor, sign_envelope, verify_signature
from licensing.device import DeviceIdentity, hash_components
from licensing.encoding import b64e
from licensing.errors import FormatError, SignatureError
from licensing.keys import key_id, load_public_key
from licensing.license import License

__all__ = [
    "REQUEST_TYPE",
    "RECEIPT_TYPE",
    "ActivationRequest",
    "fingerprint_salt",
    "make_request",
    "parse_request",
    "make_receipt",
    "verify_receipt",
]

REQUEST_TYPE = "codemoat.activation-request"
REQUEST_LABEL = "ACTIVATION REQUEST"
RECEIPT_TYPE = "codemoat.deactivation-receipt"
RECEIPT_LABEL = "DEACTIVATION RECEIPT"


def fingerprint_salt(identity: DeviceIdentity) -> bytes:
    """Derived from the device key, so it is stable without another file and differs between devices."""
    return hashlib.sha256(
        b"codemoat fingerprint salt\x00" + identity.signing_public.public_bytes_raw()
    ).digest()


@dataclass(frozen=True)
class ActivationRequest:
    device_kid: str
    signing_key: str
    wrapping_key: str
    fingerprint_salt: str
    fingerprint: dict[str, str]
    nonce: str
    created_at: int

    def binding(self) -> dict[str, Any]:
        return {
            "kid": self.device_kid,
            "signing_key": self.signing_key,
            "wrapping_key": self.wrapping_key,
            "fingerprint_salt": self.fingerprint_salt,
            "fingerprint": self.fingerprint,
        }


def make_request(identity: DeviceIdentity, components: dict[str, str], now: int) -> tuple[str, str]:
    """Return (armored request, nonce). The nonce must come back in the license."""
    nonce = secrets.token_hex(16)
    salt = fingerprint_salt(identity)
    payload = {
        "device_kid": identity.kid,
        "signing_key": identity.signing_public_b64,
        "wrapping_key": identity.wrapping_public_b64,
        "fingerprint_salt": b64e(salt),
        "fingerprint": hash_components(components, salt),
        "nonce": nonce,
        "created_at": now,
    }
    envelope = sign_envelope(REQUEST_TYPE, payload, identity.signing_key, identity.kid)
    return armor(REQUEST_LABEL, envelope), nonce


def parse_request(text: str, what: str = "activation request") -> ActivationRequest:
    envelope = dearmor(text, REQUEST_LABEL, what)
    signing_key = _peek_signing_key(envelope, what)
    if key_id("device", signing_key) != envelope.kid:
        raise SignatureError(f"{what} key id does not match its device key; make a new request")
    verify_signature(envelope, REQUEST_TYPE, signing_key, what)
    payload = envelope.payload()
    try:
        request = ActivationRequest(
            payload["device_kid"],
            payload["signing_key"],
            payload["wrapping_key"],
            payload["fingerprint_salt"],
            dict(payload["fingerprint"]),
            payload["nonce"],
            int(payload["created_at"]),
        )
    except (KeyError, TypeError, ValueError):
        raise FormatError(
            f"{what} is missing fields; make a new request with `codemoat license request`"
        ) from None
    if request.device_kid != envelope.kid or not request.fingerprint:
        raise FormatError(f"{what} is inconsistent; make a new request with `codemoat license request`")
    return request


def _peek_signing_key(envelope: Envelope, what: str):  # -> Ed25519PublicKey
    # The key is read from the unverified payload only to verify that same payload; nothing else is trusted
    # before the signature check.
    try:
        return load_public_key(envelope.payload()["signing_key"], f"{what} device key")
    except (KeyError, TypeError):
        raise FormatError(f"{what} carries no device key") from None


def make_receipt(identity: DeviceIdentity, license_: License, lease_sequence: int, now: int) -> str:
    payload = {
        "license_id": license_.license_id,
        "device_kid": identity.kid,
        "deactivated_at": now,
        "lease_sequence": lease_sequence,
        "nonce": secrets.token_hex(16),
    }
    return armor(RECEIPT_LABEL, sign_envelope(RECEIPT_TYPE, payload, identity.signing_key, identity.kid))


def verify_receipt(text: str, license_: License, what: str = "deactivation receipt") -> dict[str, Any]:
    """Vendor side: prove the receipt was signed by the device the license is bound to."""
    envelope = dearmor(text, RECEIPT_LABEL, what)
    if envelope.kid != license_.device.kid:
        raise SignatureError(
            f"{what} was signed by device {envelope.kid}, not the licensed device {license_.device.kid}"
        )
    verify_signature(envelope, RECEIPT_TYPE, load_public_key(license_.device.signing_key, "device key"), what)
    payload = envelope.payload()
    if payload.get("license_id") != license_.license_id:
        raise FormatError(f"{what} is for license {payload.get('license_id')}, not {license_.license_id}")
    return payload
