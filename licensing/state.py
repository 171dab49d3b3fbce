"""The license state machine: VALID → GRACE → RESTRICTED → STOPPED, as a pure function of what is installed,
the time and what is in use.

    VALID       lease and license current; seats and GPUs within limits
    GRACE       the lease (or the license term) ran out less than `grace_days` ago: serve, but warn
    RESTRICTED  grace is over (for `restricted_days` more), or seats/GPUs exceed the license: no new sessions
    STOPPED     after that, or on any integrity failure (signature, binding, clock, revocation, no license):
                the engine unloads the model and drops its keys

Renewal installs a newer lease; the next evaluation returns to VALID, no restart needed."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Any

from licensing.encoding import format_time

__all__ = ["LicenseState", "LicenseStatus", "evaluate_times", "DAY"]

DAY = 86400


class LicenseState(str, enum.Enum):
    VALID = "VALID"
    GRACE = "GRACE"
    RESTRICTED = "RESTRICTED"
    STOPPED = "STOPPED"

    @property
    def serves(self) -> bool:
        """Existing sessions may continue."""
        return self is not LicenseState.STOPPED

    @property
    def accepts_new_sessions(self) -> bool:
        return self in (LicenseState.VALID, LicenseState.GRACE)


@dataclass
class LicenseStatus:
    state: LicenseState
    reason: str
    checked_at: int
    license_id: str | None = None
    customer: str | None = None
    expires_at: int | None = None
    lease_sequence: int | None = None
    lease_expires_at: int | None = None
    grace_ends_at: int | None = None
    stops_at: int | None = None
    seats: int | None = None
    seats_in_use: int | None = None
    max_gpus: int | None = None
    gpus_in_use: int | None = None
    models: list[str] = field(default_factory=list)
    features: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = self.state.value
        for name in ("checked_at", "expires_at", "lease_expires_at", "grace_ends_at", "stops_at"):
            if data[name] is not None:
                data[name] = format_time(data[name])
        return data


def evaluate_times(
    *, now: int, lease_expires_at: int, license_expires_at: int, grace_days: int, restricted_days: int
) -> tuple[LicenseState, str, int, int]:
    """State from time alone: returns (state, reason, grace_ends_at, stops_at)."""
    ends = min(lease_expires_at, license_expires_at)
    what = "lease" if lease_expires_at <= license_expires_at else "license term"
    grace_ends = ends + grace_days * DAY
    stops = grace_ends + restricted_days * DAY
    if now < ends:
        days_left = (ends - now) // DAY
        return (
            LicenseState.VALID,
            f"{what} valid until {format_time(ends)} ({days_left} days left)",
            grace_ends,
            stops,
        )
    if now < grace_ends:
        return (
            LicenseState.GRACE,
            f"{what} expired at {format_time(ends)}; grace period until "
            f"{format_time(grace_ends)}: renew with `codemoat license renew LEASE_FILE`",
            grace_ends,
            stops,
        )
    if now < stops:
        return (
            LicenseState.RESTRICTED,
            f"{what} expired at {format_time(ends)} and the grace period is over: no new "
            f"sessions; service stops at {format_time(stops)} unless renewed",
            grace_ends,
            stops,
        )
    return (
        LicenseState.STOPPED,
        f"{what} expired at {format_time(ends)} and was not renewed; renew to resume",
        grace_ends,
        stops,
    )
