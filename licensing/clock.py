"""A time high-water mark that makes turning the clock back visible.

The latest time the appliance has seen is signed with the device key and written to two places. A record
whose signature fails is tampering; a missing copy is repaired from the other. When both are gone the floor
falls back to the newest signed issue time the appliance holds (license or lease), so deleting the records
cannot move time back past what the vendor has already signed."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from licensing.armor import Envelope, sign_envelope, verify_signature
from licensing.device import DeviceIdentity
from licensing.encoding import atomic_write, format_time
from licensing.errors import ClockTamperError, FormatError, SignatureError

__all__ = ["CLOCK_TYPE", "DEFAULT_TOLERANCE_S", "ClockGuard"]

CLOCK_TYPE = "codemoat.clock"
DEFAULT_TOLERANCE_S = 3600


@dataclass
class ClockGuard:
    paths: tuple[Path, Path]
    identity: DeviceIdentity
    tolerance_s: int = DEFAULT_TOLERANCE_S

    def _read_one(self, path: Path) -> int | None:
        if not path.is_file():
            return None
        try:
            envelope = Envelope.from_json(path.read_bytes(), "clock record")
            verify_signature(envelope, CLOCK_TYPE, self.identity.signing_public, "clock record")
            payload = envelope.payload()
        except (FormatError, SignatureError):
            raise ClockTamperError(
                f"the clock record {path} was altered; the license state cannot be trusted "
                "until the vendor issues a new lease"
            ) from None
        value = payload.get("high_water_mark")
        if not isinstance(value, int) or payload.get("device_kid") != self.identity.kid:
            raise ClockTamperError(f"the clock record {path} does not belong to this device")
        return value

    def high_water_mark(self, floor: int = 0) -> int:
        marks = [m for m in (self._read_one(p) for p in self.paths) if m is not None]
        return max([floor, *marks])

    def check(self, now: int, floor: int = 0) -> int:
        """Raise if `now` lies before the high-water mark by more than the tolerance; return the mark."""
        mark = self.high_water_mark(floor)
        if now < mark - self.tolerance_s:
            raise ClockTamperError(
                f"the system clock ({format_time(now)}) is behind a time this appliance has "
                f"already seen ({format_time(mark)}); set the clock right"
            )
        return mark

    def advance(self, now: int, floor: int = 0) -> int:
        """Check, then record max(mark, now) in both places (also repairing a missing copy)."""
        mark = max(self.check(now, floor), now)
        envelope = sign_envelope(
            CLOCK_TYPE,
            {"high_water_mark": mark, "device_kid": self.identity.kid},
            self.identity.signing_key,
            self.identity.kid,
        )
        for path in self.paths:
            atomic_write(path, envelope.to_json())
        return mark
