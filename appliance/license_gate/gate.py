"""`LicensedServing`: the licensing package's `LicenseGate` behind the gateway's `ServingGate` seam, with its
refusals turned into the gateway's JSON errors (503 while STOPPED, 403 for a new user while RESTRICTED)."""

from __future__ import annotations

from appliance.api.errors import LicenseRestrictedError, NotReadyError
from appliance.api.readiness import ServingState
from licensing.gate import STATE_HEADER, LicenseDenied, LicenseGate


class LicensedServing:
    def __init__(self, gate: LicenseGate) -> None:
        self.gate = gate

    def serving_state(self) -> ServingState:
        status = self.gate.monitor.current
        return ServingState(status.state.serves, status.state.value, status.reason)

    def admit(self, user: str) -> None:
        try:
            self.gate.admit(user)
        except LicenseDenied as exc:
            if exc.http_status == 403:
                raise LicenseRestrictedError(str(exc)) from None
            raise NotReadyError(str(exc), code="license") from None

    def headers(self) -> dict[str, str]:
        return self.gate.headers()

    def refresh(self) -> None:
        self.gate.monitor.check_now()


class Unlicensed:
    """No license installed and none needed: the open model serves, and says so in every /v1 response."""

    def __init__(self, reason: str) -> None:
        self._state = ServingState(True, "UNLICENSED", reason)

    def serving_state(self) -> ServingState:
        return self._state

    def admit(self, user: str) -> None:
        return None

    def headers(self) -> dict[str, str]:
        return {STATE_HEADER: "UNLICENSED"}

    def refresh(self) -> None:
        return None  # LicenseRuntime, around this gate, notices a newly installed license
