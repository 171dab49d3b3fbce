"""The heartbeat: a monitor the gateway runs every few minutes (`codemoat serve`).

Each check re-verifies the installed license and lease (signature chain, expiry, binding to this machine,
revocation), advances the signed clock high-water mark, counts seats in use (distinct active users over a
window, counted by the gateway) and GPUs, and derives the state. `on_change(new, old)` fires when the state
changes, so the gateway can unload the model and drop its keys on STOPPED, and reload on the return to VALID
after a renewal, without a restart."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from licensing.device import gpu_uuids
from licensing.errors import LicensingError
from licensing.relay import LeaseRelay, renew_via_relay
from licensing.service import LicenseService
from licensing.state import LicenseStatus

__all__ = ["HeartbeatMonitor", "ActiveUsers", "DEFAULT_INTERVAL_S", "DEFAULT_SEAT_WINDOW_S"]

log = logging.getLogger("codemoat.licensing")

DEFAULT_INTERVAL_S = 300.0
DEFAULT_SEAT_WINDOW_S = 3600.0


class ActiveUsers:
    """Distinct users seen within a sliding window: the gateway calls `touch(user)` per request."""

    def __init__(
        self, window_s: float = DEFAULT_SEAT_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.window_s = window_s
        self._clock = clock
        self._last_seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def touch(self, user: str) -> None:
        with self._lock:
            self._last_seen[user] = self._clock()

    def count(self) -> int:
        cutoff = self._clock() - self.window_s
        with self._lock:
            for user in [u for u, seen in self._last_seen.items() if seen < cutoff]:
                del self._last_seen[user]
            return len(self._last_seen)

    def is_active(self, user: str) -> bool:
        with self._lock:
            seen = self._last_seen.get(user)
        return seen is not None and seen >= self._clock() - self.window_s


class HeartbeatMonitor:
    def __init__(
        self,
        service: LicenseService,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        active_users: Callable[[], int] | None = None,
        gpus_in_use: Callable[[], int] | None = None,
        on_change: Callable[[LicenseStatus, LicenseStatus | None], None] | None = None,
        relay: LeaseRelay | None = None,
        renew_before_s: int = 7 * 86400,
    ) -> None:
        self.service = service
        self.interval_s = interval_s
        self._active_users = active_users
        self._gpus_in_use = gpus_in_use if gpus_in_use is not None else (lambda: len(gpu_uuids()))
        self._on_change = on_change
        self._relay = relay
        self._renew_before_s = renew_before_s
        self._current: LicenseStatus | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.checks = 0

    @property
    def current(self) -> LicenseStatus:
        """The last evaluated status (checks once if none yet): what /readyz and every /v1 response reflect."""
        with self._lock:
            current = self._current
        return current if current is not None else self.check_now()

    def check_now(self) -> LicenseStatus:
        if self._relay is not None:
            try:
                renew_via_relay(self.service, self._relay, renew_before_s=self._renew_before_s)
            except LicensingError as exc:  # the relay is a convenience: the state below still tells the truth
                log.warning("automatic lease renewal failed: %s", exc)
        seats = self._active_users() if self._active_users is not None else None
        status = self.service.status(seats_in_use=seats, gpus_in_use=self._gpus_in_use(), record=True)
        with self._lock:
            previous, self._current = self._current, status
            self.checks += 1
        if previous is None or previous.state is not status.state:
            log.log(
                logging.INFO if status.state.accepts_new_sessions else logging.WARNING,
                "license state %s: %s",
                status.state.value,
                status.reason,
            )
            if self._on_change is not None:
                self._on_change(status, previous)
        return status

    def start(self) -> None:
        if self._thread is not None:
            return
        self.check_now()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="codemoat-license-heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_now()
            except Exception:  # a broken check must not kill the heartbeat; the next one retries
                log.exception("license heartbeat check failed")
