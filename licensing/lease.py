"""Leases: the short-lived, signed permission to keep serving (the heartbeat's fuel).

A lease names its license, carries a strictly increasing sequence number, an issue time, an expiry (30 days
by default) and the vendor's revocation list. An appliance refuses a lease whose sequence is not newer than
the one it holds (replay), one issued in the future (clock tampering), one for another license or device, and
one whose revocation list names its own license."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from licensing.armor import Envelope, armor, dearmor
from licensing.encoding import format_time
from licensing.errors import BindingError, ClockTamperError, FormatError, ValidityError
from licensing.keys import TrustStore, verify_issued
from licensing.license import License

__all__ = [
    "LEASE_TYPE",
    "LEASE_LABEL",
    "DEFAULT_LEASE_DAYS",
    "Lease",
    "parse_lease",
    "parse_lease_envelope",
    "check_lease_acceptable",
    "lease_armor",
]

LEASE_TYPE = "codemoat.lease"
LEASE_LABEL = "LEASE"
DEFAULT_LEASE_DAYS = 30


@dataclass(frozen=True)
class Lease:
    license_id: str
    device_kid: str
    sequence: int
    issued_at: int
    expires_at: int
    revoked: tuple[str, ...]
    envelope: Envelope

    def armored(self) -> str:
        return armor(LEASE_LABEL, self.envelope)


def parse_lease_envelope(envelope: Envelope, trust: TrustStore, what: str = "lease") -> Lease:
    payload = verify_issued(envelope, LEASE_TYPE, trust, what)

    def field(name: str, kind: type) -> Any:
        value = payload.get(name)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise FormatError(f"lease field '{name}' is missing or malformed; ask the vendor for a new lease")
        return value

    revoked = field("revoked", list)
    return Lease(
        field("license_id", str),
        field("device_kid", str),
        field("sequence", int),
        field("issued_at", int),
        field("expires_at", int),
        tuple(str(r) for r in revoked),
        envelope,
    )


def parse_lease(text: str, trust: TrustStore, what: str = "lease") -> Lease:
    return parse_lease_envelope(dearmor(text, LEASE_LABEL, what), trust, what)


def lease_armor(envelope: Envelope) -> str:
    return armor(LEASE_LABEL, envelope)


def check_lease_acceptable(
    lease: Lease, license_: License, current: Lease | None, now: int, tolerance: int
) -> None:
    """Every reason to refuse installing `lease` (renewal or activation); raises, never returns a verdict."""
    if lease.license_id != license_.license_id:
        raise BindingError(
            f"this lease is for license {lease.license_id}, not the installed "
            f"{license_.license_id}; ask the vendor for a lease for this license"
        )
    if lease.device_kid != license_.device.kid:
        raise BindingError("this lease is for another device; ask the vendor for a lease for this appliance")
    if lease.issued_at > now + tolerance:
        raise ClockTamperError(
            f"this lease was issued at {format_time(lease.issued_at)}, in the future of this "
            f"machine's clock ({format_time(now)}); fix the system clock"
        )
    if current is not None and lease.sequence <= current.sequence:
        raise ValidityError(
            f"this lease (sequence {lease.sequence}) is not newer than the installed one "
            f"(sequence {current.sequence}); a lease cannot be replayed: ask the vendor for a new one"
        )
    if license_.license_id in lease.revoked:
        raise ValidityError(
            f"license {license_.license_id} has been revoked by the vendor; contact the vendor"
        )
    if lease.expires_at <= now:
        raise ValidityError(
            f"this lease expired at {format_time(lease.expires_at)}; ask the vendor for a new one"
        )
