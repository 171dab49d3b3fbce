"""What the gateway asks the license on each request, in one place (`LicenseGate`), so /readyz, every /v1
response and the engines all see the same state.

    gate = LicenseGate(monitor, users)
    gate.admit(user)        before serving a request: raises LicenseDenied (STOPPED, or RESTRICTED for a user
                            who has no session in the seat window); records the user as active (seat counting)
    gate.headers()          response headers: the state, plus a warning while in GRACE or RESTRICTED

The gate only reads `monitor.current` (a cached status, ~1 µs); the heartbeat thread does the real checks."""

from __future__ import annotations

from licensing.errors import StateError
from licensing.heartbeat import ActiveUsers, HeartbeatMonitor
from licensing.state import LicenseState, LicenseStatus

__all__ = ["LicenseGate", "LicenseDenied", "STATE_HEADER", "WARNING_HEADER"]

STATE_HEADER = "X-CodeMoat-License-State"
WARNING_HEADER = "X-CodeMoat-License-Warning"


class LicenseDenied(StateError):
    """The license does not allow this request: it stopped service (`stopped`), or it takes no new sessions
    (RESTRICTED) and this user has none."""

    def __init__(self, message: str, status: LicenseStatus) -> None:
        super().__init__(message)
        self.status = status

    @property
    def stopped(self) -> bool:
        return not self.status.state.serves


class LicenseGate:
    def __init__(self, monitor: HeartbeatMonitor, users: ActiveUsers) -> None:
        self.monitor = monitor
        self.users = users

    def admit(self, user: str) -> LicenseStatus:
        status = self.monitor.current
        if not status.state.serves:
            raise LicenseDenied(f"the appliance's license stopped service: {status.reason}", status)
        if not status.state.accepts_new_sessions and not self.users.is_active(user):
            raise LicenseDenied(f"the license accepts no new sessions right now: {status.reason}", status)
        self.users.touch(user)
        return status

    def headers(self) -> dict[str, str]:
        status = self.monitor.current
        headers = {STATE_HEADER: status.state.value}
        if status.state in (LicenseState.GRACE, LicenseState.RESTRICTED):
            # Header values must be latin-1; reasons are ASCII by construction.
            headers[WARNING_HEADER] = status.reason
        return headers
