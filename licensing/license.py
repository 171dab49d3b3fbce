"""The license document: what was sold to whom, for which machine, with which model keys.

`parse_license` verifies the armor, the envelope, the signature chain to a pinned root and every field's type,
and returns a frozen `License`; nothing is read from a payload before its signature is checked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from licensing.armor import dearmor
from licensing.encoding import b64d, format_time
from licensing.errors import BindingError, FormatError, ValidityError
from licensing.keys import TrustStore, verify_issued

__all__ = [
    "LICENSE_TYPE",
    "LICENSE_LABEL",
    "License",
    "ModelGrant",
    "DeviceBinding",
    "parse_license",
    "check_license_window",
]

LICENSE_TYPE = "codemoat.license"
LICENSE_LABEL = "LICENSE"


@dataclass(frozen=True)
class ModelGrant:
    model_id: str
    manifest_sha256: str
    wrapped_key: dict[str, str]


@dataclass(frozen=True)
class DeviceBinding:
    kid: str
    signing_key: str
    wrapping_key: str
    fingerprint_salt: bytes
    fingerprint: dict[str, str]


@dataclass(frozen=True)
class License:
    license_id: str
    customer: str
    issued_at: int
    not_before: int
    expires_at: int
    seats: int
    max_gpus: int
    features: tuple[str, ...]
    grace_days: int
    restricted_days: int
    models: tuple[ModelGrant, ...]
    device: DeviceBinding
    activation_nonce: str
    first_lease: dict[str, Any]
    issuer_kid: str
    armored: str

    def grant(self, model_id: str) -> ModelGrant:
        for grant in self.models:
            if grant.model_id == model_id:
                return grant
        covered = ", ".join(g.model_id for g in self.models) or "none"
        raise BindingError(
            f"the license does not cover model {model_id!r} (it covers: {covered}); ask the vendor "
            "for a license that includes it"
        )


def _field(payload: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = payload.get(name)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise FormatError(f"license field '{name}' is missing or malformed; ask the vendor for a new license")
    return value


def parse_license(text: str, trust: TrustStore, what: str = "license") -> License:
    envelope = dearmor(text, LICENSE_LABEL, what)
    payload = verify_issued(envelope, LICENSE_TYPE, trust, what)
    device = _field(payload, "device", dict)
    models = []
    for entry in _field(payload, "models", list):
        if not isinstance(entry, dict):
            raise FormatError("license field 'models' is malformed; ask the vendor for a new license")
        models.append(
            ModelGrant(
                _field(entry, "model_id", str),
                _field(entry, "manifest_sha256", str),
                _field(entry, "wrapped_key", dict),
            )
        )
    binding = DeviceBinding(
        _field(device, "kid", str),
        _field(device, "signing_key", str),
        _field(device, "wrapping_key", str),
        b64d(_field(device, "fingerprint_salt", str), "fingerprint salt"),
        dict(_field(device, "fingerprint", dict)),
    )
    features = _field(payload, "features", list)
    license_ = License(
        license_id=_field(payload, "license_id", str),
        customer=_field(payload, "customer", str),
        issued_at=_field(payload, "issued_at", int),
        not_before=_field(payload, "not_before", int),
        expires_at=_field(payload, "expires_at", int),
        seats=_field(payload, "seats", int),
        max_gpus=_field(payload, "max_gpus", int),
        features=tuple(str(f) for f in features),
        grace_days=_field(payload, "grace_days", int),
        restricted_days=_field(payload, "restricted_days", int),
        models=tuple(models),
        device=binding,
        activation_nonce=_field(payload, "activation_nonce", str),
        first_lease=_field(payload, "first_lease", dict),
        issuer_kid=envelope.kid,
        armored=text,
    )
    if license_.seats < 1 or license_.grace_days < 0 or license_.restricted_days < 0:
        raise FormatError("license limits are out of range; ask the vendor for a new license")
    return license_


def check_license_window(license_: License, now: int, tolerance: int) -> None:
    """Refuse a license that is not valid yet or already past its contract end (used when installing it)."""
    if now + tolerance < license_.not_before:
        raise ValidityError(
            f"license {license_.license_id} is not valid before {format_time(license_.not_before)}; "
            "check the system clock or wait until then"
        )
    if now >= license_.expires_at:
        raise ValidityError(
            f"license {license_.license_id} expired at {format_time(license_.expires_at)}; "
            "ask the vendor for a new license"
        )
