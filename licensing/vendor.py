"""The vendor's side: key generation, sealing models, answering activation requests, leases, revocation.

A vendor directory holds

    root.pem, root.json          the root key and its public half (what appliances pin); only keygen uses the
                                 private root key, so root.pem can live offline once the issuer is certified
    issuer.pem, issuer.cert      the issuer key and its certificate signed by the root (key id + validity)
                                 (both private keys PKCS#8, encrypted with the vendor's passphrase when given)
    models/<model id>.json       each sealed model's key and manifest hash (0600)
    fingerprints.json            which customer got which weight fingerprint (entries signed by the issuer)
    licenses/<license id>.lic    every license issued
    leases.json, revoked.json    last lease sequence per license; the revocation list carried in leases"""

from __future__ import annotations

import json
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from licensing.activation import parse_request, verify_receipt
from licensing.armor import armor, dearmor, sign_envelope, verify_signature
from licensing.encoding import atomic_write, b64d, b64e, parse_json_object
from licensing.errors import FormatError, StateError
from licensing.keys import (
    TrustedRoot,
    TrustStore,
    key_id,
    load_private_pem,
    load_public_key,
    make_issuer_cert,
    pem_is_encrypted,
    private_pem,
    public_bytes,
)
from licensing.lease import DEFAULT_LEASE_DAYS, LEASE_TYPE, lease_armor
from licensing.license import LICENSE_LABEL, LICENSE_TYPE, License, parse_license
from licensing.release import sign_release
from licensing.sealed.format import DEFAULT_CHUNK_SIZE
from licensing.sealed.seal import seal_model
from licensing.state import DAY
from licensing.wrap import MODEL_KEY_BYTES, wipe, wrap_model_key

if TYPE_CHECKING:  # the forensics read weights with numpy, imported only when a vendor marks or traces
    from licensing.forensics.fingerprint import FingerprintKey, MarkResult, Trace
    from licensing.forensics.registry import FingerprintRegistry

__all__ = ["VendorKeyring"]


@dataclass
class VendorKeyring:
    directory: Path
    root_public: Ed25519PublicKey
    issuer_key: Ed25519PrivateKey
    issuer_cert: dict[str, Any]

    @property
    def root_kid(self) -> str:
        return key_id("root", self.root_public)

    @property
    def issuer_kid(self) -> str:
        return key_id("issuer", self.issuer_key.public_key())

    def trust(self) -> TrustStore:
        return TrustStore([TrustedRoot(self.root_kid, self.root_public, "vendor", "vendor")], False)

    # --- keys --------------------------------------------------------------------------------------------

    @classmethod
    def generate(
        cls,
        directory: Path,
        *,
        name: str,
        now: int,
        issuer_days: int = 3 * 365,
        passphrase: bytes | None = None,
    ) -> "VendorKeyring":
        """New root and issuer keys; with `passphrase`, both private keys are written encrypted with it."""
        if (directory / "root.pem").exists() or (directory / "issuer.pem").exists():
            raise StateError(f"{directory} already holds vendor keys; choose another directory")
        directory.mkdir(parents=True, exist_ok=True)
        root, issuer = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
        cert = make_issuer_cert(
            root, issuer.public_key(), f"{name} issuer", now - DAY, now + issuer_days * DAY
        )
        atomic_write(directory / "root.pem", private_pem(root, passphrase))
        atomic_write(
            directory / "root.json",
            json.dumps(
                {
                    "kid": key_id("root", root.public_key()),
                    "name": name,
                    "public_key": b64e(public_bytes(root.public_key())),
                },
                indent=2,
            ).encode(),
            mode=0o644,
        )
        atomic_write(directory / "issuer.pem", private_pem(issuer, passphrase))
        atomic_write(directory / "issuer.cert", cert.encode(), mode=0o644)
        return cls.load(directory, passphrase)

    @staticmethod
    def is_encrypted(directory: Path) -> bool:
        """Whether the keys in `directory` need a passphrase to load."""
        return pem_is_encrypted(directory / "issuer.pem")

    @classmethod
    def load(cls, directory: Path, passphrase: bytes | None = None) -> "VendorKeyring":
        """The issuer's key and the root's public half: the private root key (root.pem) may be offline."""
        if not (directory / "issuer.pem").is_file():
            raise StateError(f"{directory} holds no vendor keys; create them with `codemoat vendor keygen`")
        try:
            root = parse_json_object((directory / "root.json").read_bytes(), "root.json")
        except OSError as exc:
            raise StateError(f"cannot read {directory / 'root.json'}: {exc.strerror or exc}") from None
        cert = dearmor((directory / "issuer.cert").read_text(), "ISSUER CERTIFICATE", "issuer certificate")
        return cls(
            directory,
            load_public_key(str(root.get("public_key", "")), "root.json public_key"),
            load_private_pem(directory / "issuer.pem", "issuer key", passphrase),
            cert.to_dict(),
        )

    # --- models ------------------------------------------------------------------------------------------

    def seal(
        self,
        model_dir: Path,
        out_dir: Path,
        *,
        model_id: str,
        now: int,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        customer: str | None = None,
        density: float | None = None,
        strength: float | None = None,
    ) -> str:
        """Seal `model_dir`; with `customer`, that customer's fingerprint goes into the weights first (in a
        private staging copy removed afterwards), and the delivery is recorded in the fingerprint registry."""
        _check_model_id(model_id)
        if customer is None:
            return self._seal(model_dir, out_dir, model_id=model_id, now=now, chunk_size=chunk_size)
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        prefix = f".codemoat-mark-{out_dir.name}."
        for stale in out_dir.parent.glob(prefix + "*"):  # a killed run's marked plaintext copy
            shutil.rmtree(stale, ignore_errors=True)
        staging = Path(tempfile.mkdtemp(prefix=prefix, dir=out_dir.parent))
        try:
            marked = staging / "model"
            self.mark(
                model_dir,
                marked,
                customer=customer,
                model_id=model_id,
                now=now,
                density=density,
                strength=strength,
            )
            return self._seal(marked, out_dir, model_id=model_id, now=now, chunk_size=chunk_size)
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _seal(self, model_dir: Path, out_dir: Path, *, model_id: str, now: int, chunk_size: int) -> str:
        record_path = self.directory / "models" / f"{model_id}.json"
        model_key = bytearray(secrets.token_bytes(MODEL_KEY_BYTES))
        try:
            if record_path.is_file():  # re-sealing a model keeps its key, so issued licenses still open it
                wipe(model_key)
                model_key = bytearray(
                    b64d(parse_json_object(record_path.read_bytes(), "model record")["key"])
                )
            manifest = seal_model(
                model_dir,
                out_dir,
                model_id=model_id,
                model_key=model_key,
                issuer_key=self.issuer_key,
                issuer_kid=self.issuer_kid,
                issuer_cert=self.issuer_cert,
                now=now,
                chunk_size=chunk_size,
            )
            atomic_write(
                record_path,
                json.dumps(
                    {
                        "model_id": model_id,
                        "key": b64e(model_key),
                        "manifest_sha256": manifest,
                        "sealed_at": now,
                    }
                ).encode(),
            )
        finally:
            wipe(model_key)
        return manifest

    # --- fingerprints ------------------------------------------------------------------------------------

    def fingerprint_key(self) -> "FingerprintKey":
        from licensing.forensics.fingerprint import FingerprintKey

        return FingerprintKey.from_issuer(self.issuer_key)

    def fingerprints(self) -> "FingerprintRegistry":
        from licensing.forensics.registry import FingerprintRegistry

        return FingerprintRegistry(self.directory, self.issuer_key, self.issuer_kid)

    def mark(
        self,
        model_dir: Path,
        out_dir: Path,
        *,
        customer: str,
        model_id: str,
        now: int,
        density: float | None = None,
        strength: float | None = None,
    ) -> "MarkResult":
        """Write the copy of `model_dir` that carries `customer`'s fingerprint, and record the delivery."""
        from licensing.forensics.fingerprint import DEFAULT_DENSITY, DEFAULT_STRENGTH, mark_model
        from licensing.forensics.registry import RegistryEntry

        _check_model_id(model_id)
        if not customer.strip():
            raise FormatError("a fingerprint needs a customer name")
        registry = self.fingerprints()
        registry.entries()  # an edited registry is refused before anything is written
        density = DEFAULT_DENSITY if density is None else density
        strength = DEFAULT_STRENGTH if strength is None else strength
        result = mark_model(
            self.fingerprint_key(), model_dir, out_dir, customer=customer, density=density, strength=strength
        )
        registry.add(RegistryEntry(customer, model_id, result.mark_id, density, strength, now))
        return result

    def trace(self, suspect: Path, *, alpha: float | None = None) -> "Trace":
        """Test a suspect model against every registered delivery."""
        from licensing.forensics.fingerprint import DEFAULT_ALPHA, trace_weights

        candidates = {e.mark_id: e.candidate() for e in self.fingerprints().entries()}
        return trace_weights(
            self.fingerprint_key(),
            suspect,
            list(candidates.values()),
            alpha=DEFAULT_ALPHA if alpha is None else alpha,
        )

    def _model_record(self, model_id: str) -> dict[str, Any]:
        path = self.directory / "models" / f"{model_id}.json"
        if not path.is_file():
            raise StateError(
                f"model {model_id!r} was never sealed with this vendor directory; run "
                "`codemoat vendor seal` first"
            )
        return parse_json_object(path.read_bytes(), str(path))

    # --- licenses and leases -----------------------------------------------------------------------------

    def issue(
        self,
        request_text: str,
        *,
        customer: str,
        seats: int,
        days: int,
        models: list[str],
        now: int,
        max_gpus: int = 8,
        features: tuple[str, ...] = ("completions", "chat"),
        lease_days: int = DEFAULT_LEASE_DAYS,
        grace_days: int = 7,
        restricted_days: int = 7,
    ) -> str:
        request = parse_request(request_text)
        if seats < 1 or days < 1 or not models:
            raise FormatError("a license needs at least one seat, one day and one model")
        license_id = "lic-" + secrets.token_hex(8)
        grants = []
        for model_id in models:
            record = self._model_record(model_id)
            model_key = bytearray(b64d(record["key"], "model key"))
            try:
                wrapped = wrap_model_key(
                    model_key,
                    request.wrapping_key,
                    license_id=license_id,
                    model_id=model_id,
                    device_kid=request.device_kid,
                )
            finally:
                wipe(model_key)
            grants.append(
                {"model_id": model_id, "manifest_sha256": record["manifest_sha256"], "wrapped_key": wrapped}
            )
        expires = now + days * DAY
        first_lease = self._lease_envelope(
            license_id, request.device_kid, 1, now, min(expires, now + lease_days * DAY)
        )
        payload = {
            "license_id": license_id,
            "customer": customer,
            "issued_at": now,
            "not_before": now,
            "expires_at": expires,
            "seats": seats,
            "max_gpus": max_gpus,
            "features": list(features),
            "grace_days": grace_days,
            "restricted_days": restricted_days,
            "models": grants,
            "device": request.binding(),
            "activation_nonce": request.nonce,
            "first_lease": first_lease.to_dict(),
        }
        envelope = sign_envelope(LICENSE_TYPE, payload, self.issuer_key, self.issuer_kid, (self.issuer_cert,))
        text = armor(LICENSE_LABEL, envelope)
        atomic_write(self.directory / "licenses" / f"{license_id}.lic", text.encode(), mode=0o644)
        self._set_sequence(license_id, 1)
        return text

    def lease(self, license_text: str, *, days: int, now: int) -> str:
        license_ = parse_license(license_text, self.trust())
        sequence = self._sequences().get(license_.license_id, 1) + 1
        expires = min(license_.expires_at, now + days * DAY)
        envelope = self._lease_envelope(license_.license_id, license_.device.kid, sequence, now, expires)
        self._set_sequence(license_.license_id, sequence)
        return lease_armor(envelope)

    def sign_release(self, manifest: bytes, *, version: str, build: int, platform: str, now: int) -> str:
        """The release signature over a bundle's checksum manifest (licensing.release)."""
        return sign_release(
            manifest,
            version=version,
            build=build,
            platform=platform,
            now=now,
            issuer_key=self.issuer_key,
            issuer_kid=self.issuer_kid,
            issuer_cert=self.issuer_cert,
        )

    def revoke(self, license_id: str) -> None:
        revoked = set(self._revoked())
        revoked.add(license_id)
        atomic_write(
            self.directory / "revoked.json", json.dumps({"revoked": sorted(revoked)}).encode(), mode=0o644
        )

    def accept_receipt(self, receipt_text: str) -> dict[str, Any]:
        """Verify a deactivation receipt against the issued license, then revoke that license (seat freed)."""
        envelope = dearmor(receipt_text, "DEACTIVATION RECEIPT", "deactivation receipt")
        license_id = envelope.payload().get("license_id")
        path = self.directory / "licenses" / f"{license_id}.lic"
        if not isinstance(license_id, str) or not path.is_file():
            raise StateError(f"license {license_id!r} was not issued from this vendor directory")
        license_: License = parse_license(path.read_text(), self.trust())
        payload = verify_receipt(receipt_text, license_)
        self.revoke(license_id)
        return payload

    def answer_renewal(self, renewal_text: str, *, days: int = DEFAULT_LEASE_DAYS, now: int) -> str | None:
        """A relay's job: verify a device-signed renewal request, then issue the next lease (None if revoked)."""
        envelope = dearmor(renewal_text, "RENEWAL REQUEST", "renewal request")
        license_id = envelope.payload().get("license_id")
        path = self.directory / "licenses" / f"{license_id}.lic"
        if not isinstance(license_id, str) or not path.is_file():
            raise StateError(f"license {license_id!r} was not issued from this vendor directory")
        license_text = path.read_text()
        license_ = parse_license(license_text, self.trust())
        if envelope.kid != license_.device.kid:
            raise StateError("the renewal request was not signed by the licensed device")
        verify_signature(
            envelope,
            "codemoat.renewal-request",
            load_public_key(license_.device.signing_key, "device key"),
            "renewal request",
        )
        if license_id in self._revoked():
            return None
        return self.lease(license_text, days=days, now=now)

    def _lease_envelope(self, license_id: str, device_kid: str, sequence: int, now: int, expires: int):
        payload = {
            "license_id": license_id,
            "device_kid": device_kid,
            "sequence": sequence,
            "issued_at": now,
            "expires_at": expires,
            "revoked": self._revoked(),
        }
        return sign_envelope(LEASE_TYPE, payload, self.issuer_key, self.issuer_kid, (self.issuer_cert,))

    def _revoked(self) -> list[str]:
        path = self.directory / "revoked.json"
        return (
            sorted(parse_json_object(path.read_bytes(), str(path)).get("revoked", []))
            if path.is_file()
            else []
        )

    def _sequences(self) -> dict[str, int]:
        path = self.directory / "leases.json"
        return parse_json_object(path.read_bytes(), str(path)) if path.is_file() else {}

    def _set_sequence(self, license_id: str, sequence: int) -> None:
        sequences = self._sequences()
        sequences[license_id] = sequence
        atomic_write(self.directory / "leases.json", json.dumps(sequences, indent=2).encode())


def _check_model_id(model_id: str) -> None:
    if not model_id or not all(c.isalnum() or c in "-_." for c in model_id):
        raise FormatError(f"model id {model_id!r} must be letters, digits, '-', '_' or '.'")
