"""The vendor's record of which customer got which fingerprint: `<vendor>/fingerprints.json`, one entry per
(customer, model), each signed by the issuer key, so an edited or forged entry is refused rather than
believed (a trace that names a customer is an accusation)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from licensing.armor import Envelope, sign_envelope, verify_signature
from licensing.encoding import atomic_write, parse_json_object
from licensing.errors import FormatError, SignatureError
from licensing.forensics.fingerprint import VERSION, Candidate

__all__ = ["REGISTRY_NAME", "RegistryEntry", "FingerprintRegistry"]

REGISTRY_NAME = "fingerprints.json"
ENTRY_TYPE = "codemoat.fingerprint"


@dataclass(frozen=True)
class RegistryEntry:
    customer: str
    model_id: str
    mark_id: str
    density: float
    strength: float
    marked_at: int
    version: int = VERSION

    def candidate(self) -> Candidate:
        return Candidate(self.customer, self.mark_id, self.density)


class FingerprintRegistry:
    def __init__(self, directory: Path, issuer_key: Ed25519PrivateKey, issuer_kid: str) -> None:
        self.path = directory / REGISTRY_NAME
        self._key = issuer_key
        self._kid = issuer_kid

    def _envelopes(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        items = parse_json_object(self.path.read_bytes(), str(self.path)).get("entries")
        if not isinstance(items, list):
            raise FormatError(f"{self.path} has no list of entries; restore it from a backup")
        return items

    def entries(self) -> list[RegistryEntry]:
        """Every entry, each verified; one that fails stops the whole read with its position and reason."""
        out = []
        for index, item in enumerate(self._envelopes(), start=1):
            what = f"fingerprint registry entry {index}"
            if not isinstance(item, dict):
                raise FormatError(f"{what} in {self.path} is not an object; restore the file from a backup")
            envelope = Envelope.from_dict(item, what)
            if envelope.kid != self._kid:
                raise SignatureError(
                    f"{what} was signed by {envelope.kid}, not this vendor's issuer {self._kid}; trace with the "
                    "vendor directory that marked it"
                )
            try:
                verify_signature(envelope, ENTRY_TYPE, self._key.public_key(), what)
            except SignatureError:
                raise SignatureError(
                    f"{what} in {self.path} was edited: its signature does not verify; restore the file from a "
                    "backup"
                ) from None
            payload = envelope.payload()
            try:
                out.append(RegistryEntry(**payload))
            except TypeError:
                raise FormatError(f"{what} has unexpected fields {sorted(payload)}") from None
        return out

    def add(self, entry: RegistryEntry) -> bool:
        """Record a delivery; False when the same customer already has this model with the same mark."""
        existing = self.entries()
        for old in existing:
            if (old.customer, old.model_id) == (entry.customer, entry.model_id) and (
                old.mark_id,
                old.density,
                old.strength,
            ) == (entry.mark_id, entry.density, entry.strength):
                return False
        items = self._envelopes()
        items.append(sign_envelope(ENTRY_TYPE, asdict(entry), self._key, self._kid).to_dict())
        atomic_write(self.path, json.dumps({"entries": items}, indent=1).encode())
        return True

    def add_many(self, entries: list[RegistryEntry]) -> None:
        """Record many deliveries at once (the benchmark registers a thousand customers)."""
        items = self._envelopes()
        items.extend(sign_envelope(ENTRY_TYPE, asdict(e), self._key, self._kid).to_dict() for e in entries)
        atomic_write(self.path, json.dumps({"entries": items}, indent=1).encode())
