"""The seam through which the license state decides whether the gateway may serve.

The licensing package plugs in an object with `serving_state()`; until then `AlwaysServe` stands in. The gate
is consulted by /readyz and before every /v1 generation, so a license that walks to STOPPED stops serving."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class ServingState:
    allowed: bool
    state: str  # e.g. "VALID", "GRACE", "RESTRICTED", "STOPPED", or "UNLICENSED"
    reason: str = ""


class ServingGate(Protocol):
    def serving_state(self) -> ServingState: ...


class AlwaysServe:
    """No license check configured (development, tests, and until licensing provides its gate)."""

    def serving_state(self) -> ServingState:
        return ServingState(True, "UNCHECKED", "no license gate configured")
