"""The seam through which the license decides whether the gateway may serve.

`appliance.license_gate` plugs in the licensed implementation (heartbeat-backed); `AlwaysServe` stands in
where no license applies (tests, benchmarks, the open bundled model with no license installed). The gate is
consulted by /readyz, admits every /v1 generation for its user (seat counting, RESTRICTED, STOPPED) and adds
its state headers to every /v1 response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServingState:
    allowed: bool
    state: str  # "VALID", "GRACE", "RESTRICTED", "STOPPED", "UNLICENSED" or "UNCHECKED"
    reason: str = ""


class ServingGate(Protocol):
    def serving_state(self) -> ServingState: ...

    def admit(self, user: str) -> None:
        """Before serving `user`: raise an APIError when the license does not allow it."""
        ...

    def headers(self) -> dict[str, str]:
        """Headers every /v1 response carries (the license state, and a warning when there is one)."""
        ...

    def refresh(self) -> None:
        """Re-check now, after a license or lease was installed, instead of at the next heartbeat."""
        ...


class AlwaysServe:
    """No license check: `state` says why (UNCHECKED when none is configured, UNLICENSED for an open model
    served without a license)."""

    def __init__(self, state: str = "UNCHECKED", reason: str = "no license gate configured") -> None:
        self._state = ServingState(True, state, reason)

    def serving_state(self) -> ServingState:
        return self._state

    def admit(self, user: str) -> None:
        return None

    def headers(self) -> dict[str, str]:
        return {}

    def refresh(self) -> None:
        return None
