"""Armored text and signed envelopes, the one format every licensing document uses.

An envelope is a JSON object `{"v", "type", "alg", "kid", "payload", "sig"}` (plus `certs` for documents signed
by an issuer). `payload` is the base64 of the payload's JSON bytes *as signed*: verification checks the
signature over those exact bytes and only then parses them, so nothing is ever re-serialized before checking.
The signed message is `DOMAIN || type || 0x00 || payload-base64`, so a signature made for one document type
cannot be replayed as another. Only `Ed25519` is accepted; `none` or any other algorithm is refused.

The armored form is the envelope's JSON, base64-encoded and wrapped between BEGIN/END lines, so it survives
e-mail and copy-paste on its way across the air gap."""

from __future__ import annotations

import base64
import binascii
import re
import textwrap
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.encoding import b64d, b64e, json_bytes, parse_json_object
from licensing.errors import FormatError, SignatureError

__all__ = ["ALGORITHM", "Envelope", "sign_envelope", "verify_signature", "armor", "dearmor"]

ALGORITHM = "Ed25519"
ENVELOPE_VERSION = 1
_DOMAIN = b"CODEMOAT-SIGNATURE-V1\x00"
_ARMOR_RE = re.compile(
    r"-----BEGIN CODEMOAT (?P<label>[A-Z ]+)-----\s*(?P<body>[A-Za-z0-9+/=\s]*?)\s*-----END CODEMOAT (?P=label)-----"
)


@dataclass(frozen=True)
class Envelope:
    """A parsed, not yet verified, envelope. `payload_b64` is kept as received: it is what the signature covers."""

    type: str
    alg: str
    kid: str
    payload_b64: str
    sig: bytes
    certs: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_json(cls, data: bytes, what: str) -> "Envelope":
        obj = parse_json_object(data, what)
        return cls.from_dict(obj, what)

    @classmethod
    def from_dict(cls, obj: dict[str, Any], what: str) -> "Envelope":
        if obj.get("v") != ENVELOPE_VERSION:
            raise FormatError(f"{what} has an unsupported format version {obj.get('v')!r}; update CodeMoat")
        for name in ("type", "alg", "kid", "payload", "sig"):
            if not isinstance(obj.get(name), str):
                raise FormatError(f"{what} is missing its '{name}' field; ask the vendor for a new file")
        certs = obj.get("certs", [])
        if not isinstance(certs, list) or not all(isinstance(c, dict) for c in certs):
            raise FormatError(f"{what} has a malformed certificate list; ask the vendor for a new file")
        return cls(
            obj["type"],
            obj["alg"],
            obj["kid"],
            obj["payload"],
            b64d(obj["sig"], f"{what} signature"),
            tuple(certs),
        )

    def to_dict(self) -> dict[str, Any]:
        obj: dict[str, Any] = {
            "v": ENVELOPE_VERSION,
            "type": self.type,
            "alg": self.alg,
            "kid": self.kid,
            "payload": self.payload_b64,
            "sig": b64e(self.sig),
        }
        if self.certs:
            obj["certs"] = list(self.certs)
        return obj

    def to_json(self) -> bytes:
        return json_bytes(self.to_dict())

    def payload_bytes(self) -> bytes:
        return b64d(self.payload_b64, f"{self.type} payload")

    def payload(self) -> dict[str, Any]:
        """The payload object: call only after `verify_signature` succeeded."""
        return parse_json_object(self.payload_bytes(), f"{self.type} payload")


def _message(doc_type: str, payload_b64: str) -> bytes:
    return _DOMAIN + doc_type.encode("ascii") + b"\x00" + payload_b64.encode("ascii")


def sign_envelope(
    doc_type: str,
    payload: dict[str, Any],
    key: Ed25519PrivateKey,
    kid: str,
    certs: tuple[dict[str, Any], ...] = (),
) -> Envelope:
    payload_b64 = b64e(json_bytes(payload))
    return Envelope(doc_type, ALGORITHM, kid, payload_b64, key.sign(_message(doc_type, payload_b64)), certs)


def verify_signature(envelope: Envelope, expected_type: str, public_key: Ed25519PublicKey, what: str) -> None:
    """Check type, algorithm and signature; the caller has already matched `envelope.kid` to `public_key`."""
    if envelope.type != expected_type:
        raise FormatError(f"{what} is a '{envelope.type}' document, not a '{expected_type}'; check the file")
    if envelope.alg != ALGORITHM:
        raise SignatureError(
            f"{what} uses signature algorithm {envelope.alg!r}; only {ALGORITHM} is accepted"
        )
    try:
        public_key.verify(envelope.sig, _message(envelope.type, envelope.payload_b64))
    except InvalidSignature:
        raise SignatureError(
            f"{what} signature does not verify: the file was altered or not signed by "
            f"key {envelope.kid}; ask the vendor for a new one"
        ) from None


def armor(label: str, envelope: Envelope) -> str:
    body = base64.b64encode(envelope.to_json()).decode("ascii")
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN CODEMOAT {label}-----\n{lines}\n-----END CODEMOAT {label}-----\n"


def dearmor(text: str, label: str, what: str) -> Envelope:
    match = _ARMOR_RE.search(text)
    if match is None:
        raise FormatError(
            f"{what} has no '-----BEGIN CODEMOAT {label}-----' block; check you picked the right file"
        )
    if match.group("label") != label:
        raise FormatError(f"{what} holds a CODEMOAT {match.group('label')}, not a CODEMOAT {label}")
    try:
        raw = base64.b64decode("".join(match.group("body").split()), validate=True)
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} armor is not valid base64: the file was damaged in transit") from None
    return Envelope.from_json(raw, what)
