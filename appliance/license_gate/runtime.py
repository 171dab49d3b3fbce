"""`LicenseRuntime`: what `codemoat serve` runs for the license, built once in `create_app`'s lifespan.

    runtime = LicenseRuntime.open(settings, audit=AuditLog.for_settings(db, settings))
    engine = build_engine(settings.engine, home, sealed_loader=runtime.sealed_loader, key_env=runtime.key_env)
    runtime.start([engine, ...])     # first check now, then a heartbeat thread
    ... runtime.admit(user)          # it is the ServingGate every /v1 request passes
    runtime.close()

On STOPPED the engine unloads its model (`appliance.engines.protocol.Suspendable`) and the key server drops
every grant; when a renewal brings the state back, the engine loads again (`resume`) without a restart."""

from __future__ import annotations

import logging
import socket
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from appliance.api.errors import LicenseRestrictedError, NotReadyError
from appliance.api.readiness import ServingState
from appliance.engines.errors import ModelFilesError
from appliance.engines.protocol import Suspendable
from appliance.license_gate.device_keys import license_service
from licensing.errors import LicensingError
from licensing.gate import STATE_HEADER, LicenseDenied, LicenseGate
from licensing.heartbeat import ActiveUsers, HeartbeatMonitor
from licensing.keyserver import KeyServer
from licensing.relay import HttpLeaseRelay
from licensing.sealed.reader import is_sealed_model
from licensing.service import LicenseService
from licensing.state import LicenseStatus
from licensing.vllm_plugin import SOCKET_ENV, TOKEN_ENV

if TYPE_CHECKING:
    from appliance.audit.log import AuditLog
    from appliance.config import Settings

log = logging.getLogger("codemoat.license")

DAY_S = 86400
INSTALLED_WHILE_SERVING = "a license was installed while serving"
UNLICENSED = ServingState(
    True,
    "UNLICENSED",
    "no license is installed and the model is not sealed: the open model serves without one",
)


class LicenseRuntime:
    """Also the gateway's `ServingGate`: once the license is enforced it answers from the licensing package's
    `LicenseGate` (refusals become the gateway's errors: 503 while STOPPED, 403 for a new user while
    RESTRICTED); before, as UNLICENSED. A license installed while an open model serves (console upload, or the
    CLI, seen by a watcher every heartbeat interval) starts enforcement then, without a restart."""

    def __init__(
        self,
        service: LicenseService,
        *,
        enforced_because: str | None,
        heartbeat_interval_s: float,
        seat_window_s: float,
        relay_url: str | None = None,
        renew_before_s: int = 7 * DAY_S,
        keyserver_socket: Path,
        audit: AuditLog | None = None,
    ) -> None:
        self.service = service
        self.enforced_because: str | None = None
        self.audit = audit
        self.heartbeat_interval_s = heartbeat_interval_s
        self.monitor: HeartbeatMonitor | None = None
        self._users = ActiveUsers(seat_window_s)
        self._relay_url = relay_url
        self._renew_before_s = renew_before_s
        self._engines: list[Any] = []
        self._started = False
        self._keyserver_socket = keyserver_socket
        self._keyserver: KeyServer | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None
        self._gate: LicenseGate | None = None  # set once the license is enforced
        if enforced_because is not None:
            self._enforce(enforced_because)

    def _enforce(self, because: str) -> HeartbeatMonitor:
        self.enforced_because = because
        self.monitor = HeartbeatMonitor(
            self.service,
            interval_s=self.heartbeat_interval_s,
            active_users=self._users.count,
            on_change=self._on_change,
            relay=HttpLeaseRelay(self._relay_url) if self._relay_url else None,
            renew_before_s=self._renew_before_s,
        )
        self._gate = LicenseGate(self.monitor, self._users)
        return self.monitor

    @classmethod
    def open(
        cls, settings: Settings, *, service: LicenseService | None = None, audit: AuditLog | None = None
    ) -> LicenseRuntime:
        """Decide whether the license is enforced: when `license.required` is set, a license is installed, or
        the model is sealed. `service` is for tests that control the clock and the machine."""
        service = service if service is not None else license_service(settings)
        options = settings.license
        return cls(
            service,
            enforced_because=_enforced_because(settings, service),
            heartbeat_interval_s=options.heartbeat_interval_s,
            seat_window_s=options.seat_window_s,
            relay_url=options.relay_url,
            renew_before_s=options.renew_before_days * DAY_S,
            keyserver_socket=options.keyserver_socket
            or Path(settings.home) / "run" / "keys" / "keyserver.sock",
            audit=audit,
        )

    @property
    def enforced(self) -> bool:
        return self.monitor is not None

    # -- ServingGate ---------------------------------------------------------------------------------------

    def serving_state(self) -> ServingState:
        if self.monitor is None:
            return UNLICENSED
        status = self.monitor.current
        return ServingState(status.state.serves, status.state.value, status.reason)

    def admit(self, user: str) -> None:
        if self._gate is None:
            return
        try:
            self._gate.admit(user)
        except LicenseDenied as exc:
            if exc.stopped:
                raise NotReadyError(str(exc), code="license") from None
            raise LicenseRestrictedError(str(exc)) from None

    def headers(self) -> dict[str, str]:
        return self._gate.headers() if self._gate is not None else {STATE_HEADER: UNLICENSED.state}

    def refresh(self) -> None:
        """Re-check now: after a license or lease was installed, and by the watcher while unenforced."""
        if self.monitor is not None:
            self.monitor.check_now()
            return
        if self.service.store.license_text() is None:
            return
        with self._lock:
            if self.monitor is not None:
                return
            monitor = self._enforce(INSTALLED_WHILE_SERVING)
            started = self._started
        log.info("license installed: enforced from now on")
        if started:
            monitor.start()

    # -- what the engines are given ------------------------------------------------------------------------

    def sealed_loader(self, model_dir: Path) -> Any:
        """Decrypt a sealed model in memory for the CPU engine (called on the engine's loading thread)."""
        try:
            return self.service.load_sealed_transformers(model_dir)
        except LicensingError as exc:
            raise ModelFilesError(f"the sealed model in {model_dir} cannot load: {exc}") from None

    def key_env(self, model_id: str, uses: int) -> dict[str, str]:
        """Environment for one `vllm serve` start: where the key server listens and a one-time token for
        `uses` key fetches (one per tensor-parallel worker). The key itself never leaves this process."""
        if self._keyserver is None:
            self._keyserver = KeyServer(self.service, self._keyserver_socket).start()
        try:
            token = self._keyserver.grant(model_id, uses=uses, ttl_s=600.0)
        except LicensingError as exc:
            raise ModelFilesError(f"no key for the sealed model {model_id}: {exc}") from None
        return {SOCKET_ENV: str(self._keyserver.socket_path), TOKEN_ENV: token}

    # -- life ----------------------------------------------------------------------------------------------

    def start(self, engines: list[Any]) -> None:
        """Attach the engines the state changes act on (one per served model), check once now and start the
        heartbeat (or, while no license is installed, a watcher that notices one being installed)."""
        with self._lock:
            self._engines, self._started = list(engines), True
            monitor = self.monitor
        if monitor is not None:
            log.info(
                "license enforced (%s); re-checked every %.0f s", self.enforced_because, monitor.interval_s
            )
            monitor.start()
            return
        self._watcher = threading.Thread(target=self._watch, name="codemoat-license-watch", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while self.monitor is None and not self._stop.wait(self.heartbeat_interval_s):
            try:
                self.refresh()
            except Exception:  # a broken check must not end the watch; the next one retries
                log.exception("checking for a newly installed license failed")

    def close(self) -> None:
        self._stop.set()
        if self._watcher is not None:
            self._watcher.join()
        if self.monitor is not None:
            self.monitor.stop()
        if self._keyserver is not None:
            self._keyserver.close()
            self._keyserver = None

    def _on_change(self, new: LicenseStatus, old: LicenseStatus | None) -> None:
        """Runs on the heartbeat thread (or in `start`): engines' suspend/resume are thread-safe."""
        self._record(new, old)
        was_serving = old is None or old.state.serves
        if not new.state.serves:
            if self._keyserver is not None:
                self._keyserver.revoke_all()
            if was_serving:
                for engine in self._suspendable():
                    engine.suspend(f"license {new.state.value}: {new.reason}")
        elif not was_serving:
            for engine in self._suspendable():
                engine.resume()

    def _suspendable(self) -> list[Suspendable]:
        return [engine for engine in self._engines if isinstance(engine, Suspendable)]

    def _record(self, new: LicenseStatus, old: LicenseStatus | None) -> None:
        # The first check of a license enforced from the start is no change; one installed while serving is.
        previous = old.state.value if old is not None else None
        if previous is None and self.enforced_because == INSTALLED_WHILE_SERVING:
            previous = "UNLICENSED"
        if self.audit is None or previous is None:
            return
        from appliance.audit.log import Actor

        try:
            self.audit.append(
                Actor(name="license-heartbeat", source=f"appliance@{socket.gethostname()}"),
                "license.state",
                new.license_id or "",
                previous=previous,
                state=new.state.value,
                reason=new.reason,
            )
        except Exception:  # the state change must take effect even when the audit database is down
            log.exception("could not audit the license state change to %s", new.state.value)


def serving_state(settings: Settings, service: LicenseService) -> ServingState:
    """What a gateway started now with these settings would serve under: UNLICENSED while nothing enforces a
    license, else the license's own state (what `codemoat license status` and the console show first)."""
    if _enforced_because(settings, service) is None:
        return UNLICENSED
    status = service.status()
    return ServingState(status.state.serves, status.state.value, status.reason)


def _enforced_because(settings: Settings, service: LicenseService) -> str | None:
    if settings.license.required:
        return "license.required is set"
    if service.store.license_text() is not None:
        return "a license is installed"
    engine = settings.engine
    cpu = engine.kind in ("transformers", "llama_cpp")
    if cpu and engine.model_path is not None and is_sealed_model(engine.model_path):
        return f"the model {engine.model_path} is sealed"
    if engine.kind == "vllm" and engine.vllm.sealed:
        return "engine.vllm.sealed is set"
    return None
