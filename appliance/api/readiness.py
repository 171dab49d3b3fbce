"""The seam through which the license decides whether the gateway may serve.

`appliance.license_gate.LicenseRuntime` implements it (licensed, or UNLICENSED for the open bundled model with
no license installed); tests may pass their own to `create_app`. The gate is consulted by /readyz, admits every
/v1 generation for its user (seat counting, RESTRICTED, STOPPED) and adds its state headers to every /v1
response."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServingState:
    allowed: bool
    state: str  # "VALID", "GRACE", "RESTRICTED", "STOPPED" or "UNLICENSED"
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
