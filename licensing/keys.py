"""Vendor keys and the trust chain: a root Ed25519 key signs issuer certificates (key id + validity), issuer
keys sign licenses, leases and sealed-model manifests.

The appliance trusts the roots pinned in `licensing/trusted_roots.json`, shipped inside the package. A
development build may also let an operator add roots (`allow_operator_roots`), kept in
`<state>/trusted_roots.json`; `codemoat license roots` lists every trusted root with where it comes from, so
which roots are trusted is always visible."""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.armor import Envelope, armor, sign_envelope, verify_signature
from licensing.encoding import atomic_write, b64d, b64e, format_time, parse_json_object, sha256_hex
from licensing.errors import FormatError, SignatureError, UntrustedKeyError

__all__ = [
    "ISSUER_CERT_TYPE",
    "key_id",
    "public_bytes",
    "load_public_key",
    "private_pem",
    "load_private_pem",
    "TrustedRoot",
    "TrustStore",
    "make_issuer_cert",
    "verify_issued",
]

ISSUER_CERT_TYPE = "codemoat.issuer-cert"
_OPERATOR_ROOTS = "trusted_roots.json"


def public_bytes(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(role: str, key: Ed25519PublicKey) -> str:
    return f"{role}-{sha256_hex(public_bytes(key))[:16]}"


def load_public_key(text: str, what: str) -> Ed25519PublicKey:
    raw = b64d(text, what)
    if len(raw) != 32:
        raise FormatError(f"{what} is not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw)


ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED PRIVATE KEY-----"


def private_pem(key: Any, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM, encrypted with `passphrase` by the best scheme `cryptography` offers when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def pem_is_encrypted(path: Path) -> bool:
    try:
        return path.read_bytes().lstrip().startswith(ENCRYPTED_PEM)
    except OSError:
        return False


def load_private_pem(path: Path, what: str, passphrase: bytes | None = None) -> Any:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(f"{what} {path} does not exist") from None
    encrypted = data.lstrip().startswith(ENCRYPTED_PEM)
    if encrypted and not passphrase:
        raise FormatError(f"{what} {path} is encrypted and no passphrase was given")
    try:
        return serialization.load_pem_private_key(data, password=passphrase if encrypted else None)
    except (ValueError, TypeError):
        if encrypted:
            raise FormatError(f"wrong passphrase for the {what} {path}") from None
        raise FormatError(f"{what} {path} is not a PEM private key") from None


@dataclass(frozen=True)
class TrustedRoot:
    kid: str
    public_key: Ed25519PublicKey
    name: str
    source: str  # "pinned" (shipped in the package) or "operator" (added on this appliance)

    def describe(self) -> dict[str, str]:
        return {
            "kid": self.kid,
            "name": self.name,
            "source": self.source,
            "public_key": b64e(public_bytes(self.public_key)),
        }


class TrustStore:
    """The root keys this appliance accepts, by key id."""

    def __init__(self, roots: list[TrustedRoot], allow_operator_roots: bool) -> None:
        self._roots = {root.kid: root for root in roots}
        self.allow_operator_roots = allow_operator_roots

    @classmethod
    def load(cls, state_dir: Path | None, pinned: dict[str, Any] | None = None) -> "TrustStore":
        if pinned is None:
            pinned = json.loads(resources.files("licensing").joinpath("trusted_roots.json").read_text())
        allow = bool(pinned.get("allow_operator_roots", False))
        roots = [_root_from(entry, "pinned") for entry in pinned.get("roots", [])]
        operator_file = state_dir / _OPERATOR_ROOTS if state_dir is not None else None
        if allow and operator_file is not None and operator_file.is_file():
            data = parse_json_object(operator_file.read_bytes(), str(operator_file))
            roots += [_root_from(entry, "operator") for entry in data.get("roots", [])]
        return cls(roots, allow)

    def roots(self) -> list[TrustedRoot]:
        return list(self._roots.values())

    def root(self, kid: str, what: str) -> TrustedRoot:
        try:
            return self._roots[kid]
        except KeyError:
            raise UntrustedKeyError(
                f"{what} is signed under root key id {kid!r}, which this appliance does not "
                "trust; see `codemoat license roots`"
            ) from None

    def add_operator_root(self, state_dir: Path, root_file: Path) -> TrustedRoot:
        if not self.allow_operator_roots:
            raise SignatureError("this build pins its trusted roots; operator-added roots are disabled")
        entry = parse_json_object(root_file.read_bytes(), str(root_file))
        root = _root_from(entry, "operator")
        path = state_dir / _OPERATOR_ROOTS
        existing = parse_json_object(path.read_bytes(), str(path)) if path.is_file() else {"roots": []}
        kept = [e for e in existing.get("roots", []) if e.get("kid") != root.kid]
        kept.append({"kid": root.kid, "public_key": entry["public_key"], "name": root.name})
        atomic_write(path, json.dumps({"roots": kept}, indent=2).encode(), mode=0o644)
        self._roots[root.kid] = root
        return root


def _root_from(entry: dict[str, Any], source: str) -> TrustedRoot:
    if not isinstance(entry, dict) or not isinstance(entry.get("public_key"), str):
        raise FormatError("a trusted root entry has no public_key; fix the trusted roots file")
    public_key = load_public_key(entry["public_key"], "trusted root")
    kid = key_id("root", public_key)
    if entry.get("kid", kid) != kid:
        raise FormatError(
            f"trusted root {entry.get('kid')!r} does not match its public key; fix the roots file"
        )
    return TrustedRoot(kid, public_key, str(entry.get("name", kid)), source)


def make_issuer_cert(
    root_key: Ed25519PrivateKey, issuer_public: Ed25519PublicKey, name: str, not_before: int, not_after: int
) -> str:
    root_kid = key_id("root", root_key.public_key())
    payload = {
        "kid": key_id("issuer", issuer_public),
        "public_key": b64e(public_bytes(issuer_public)),
        "name": name,
        "not_before": not_before,
        "not_after": not_after,
        "root_kid": root_kid,
    }
    return armor("ISSUER CERTIFICATE", sign_envelope(ISSUER_CERT_TYPE, payload, root_key, root_kid))


def verify_issued(envelope: Envelope, expected_type: str, trust: TrustStore, what: str) -> dict[str, Any]:
    """Verify an issuer-signed document against the pinned roots; return its payload.

    The chain is root → issuer certificate (carried in `certs`) → document. The issuer certificate must cover
    the document's `issued_at`."""
    issuer: dict[str, Any] | None = None
    for raw_cert in envelope.certs:
        cert = Envelope.from_dict(raw_cert, f"{what} issuer certificate")
        root = trust.root(cert.kid, f"{what} issuer certificate")
        verify_signature(cert, ISSUER_CERT_TYPE, root.public_key, f"{what} issuer certificate")
        cert_payload = cert.payload()
        if cert_payload.get("kid") == envelope.kid:
            issuer = cert_payload
            break
    if issuer is None:
        raise UntrustedKeyError(
            f"{what} is signed by unknown key id {envelope.kid!r}; ask the vendor for a file "
            "signed by a current issuer key"
        )
    public_key = load_public_key(issuer.get("public_key", ""), "issuer public key")
    if key_id("issuer", public_key) != envelope.kid:
        raise UntrustedKeyError(f"{what} key id {envelope.kid!r} does not match its certificate's key")
    verify_signature(envelope, expected_type, public_key, what)
    payload = envelope.payload()
    issued_at = payload.get("issued_at")
    not_before, not_after = issuer.get("not_before"), issuer.get("not_after")
    if not all(isinstance(v, int) for v in (issued_at, not_before, not_after)):
        raise FormatError(
            f"{what} or its issuer certificate lacks validity times; ask the vendor for a new file"
        )
    if not (not_before <= issued_at <= not_after):
        raise SignatureError(
            f"{what} was issued at {format_time(issued_at)}, outside its issuer key's validity "
            f"({format_time(not_before)} to {format_time(not_after)})"
        )
    return payload
