"""The appliance's license service: one object over the state directory that the CLI and the gateway share.

    service = LicenseService(settings.home / "license", keys=DeviceKeyStore(...))   (TPM-sealed or files)
    service.request_activation() / activate(text) / renew(text) / deactivate()
    service.status(seats_in_use=..., gpus_in_use=..., record=True)     -> LicenseStatus
    with service.model_key("smollm2") as key: ...                      (bytearray, wiped on exit)
    service.load_sealed_transformers(model_dir)                        (CPU engine)

Every refused operation raises a `LicensingError` before writing anything, so the state directory is left
exactly as it was."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from licensing.activation import fingerprint_salt, make_receipt, make_request
from licensing.armor import Envelope
from licensing.clock import DEFAULT_TOLERANCE_S, ClockGuard
from licensing.device import DeviceIdentity, collect_fingerprint, match_fingerprint
from licensing.device_keys import DeviceKeyStore
from licensing.encoding import format_time
from licensing.errors import (
    BindingError,
    ClockTamperError,
    LicensingError,
    ModelError,
    StateError,
    ValidityError,
)
from licensing.keys import TrustStore
from licensing.lease import Lease, check_lease_acceptable, parse_lease, parse_lease_envelope
from licensing.license import License, check_license_window, parse_license
from licensing.sealed.reader import SealedModel
from licensing.state import LicenseState, LicenseStatus, evaluate_times
from licensing.store import LicenseStore
from licensing.wrap import unwrap_model_key, wipe

__all__ = ["LicenseService"]


class LicenseService:
    def __init__(
        self,
        state_dir: Path,
        *,
        trust: TrustStore | None = None,
        clock: Callable[[], float] = time.time,
        fingerprint: Callable[[], dict[str, str]] | None = None,
        tolerance_s: int = DEFAULT_TOLERANCE_S,
        keys: DeviceKeyStore | None = None,
    ) -> None:
        self.store = LicenseStore(Path(state_dir))
        self.keys = keys if keys is not None else DeviceKeyStore(self.store.device_dir)
        self.trust = trust if trust is not None else TrustStore.load(self.store.root)
        self._clock = clock
        self._fingerprint = fingerprint or collect_fingerprint
        self.tolerance_s = tolerance_s
        self.repaired = self.store.repair()

    def now(self) -> int:
        return int(self._clock())

    # --- activation --------------------------------------------------------------------------------------

    def request_activation(self) -> str:
        """Create the device keys if needed and return an armored activation request to carry to the vendor."""
        self.store.ensure()
        identity = self.keys.load_or_create()
        now = self.now()
        text, nonce = make_request(identity, self._fingerprint(), now)
        self.store.add_pending(nonce, {"nonce": nonce, "created_at": now})
        return text

    def activate(self, text: str) -> License:
        identity = self.keys.load()
        license_ = parse_license(text, self.trust)
        if (
            license_.device.kid != identity.kid
            or license_.device.wrapping_key != identity.wrapping_public_b64
        ):
            raise BindingError(
                "this license was issued for another appliance's activation request; send this "
                "appliance's own request to the vendor"
            )
        if not self.store.has_pending(license_.activation_nonce):
            raise BindingError(
                "this license answers an activation request this appliance did not make or already "
                "used; make a new request with `codemoat license request`"
            )
        self._check_binding(license_, identity)
        now = self.now()
        check_license_window(license_, now, self.tolerance_s)
        lease = parse_lease_envelope(
            Envelope.from_dict(license_.first_lease, "first lease"), self.trust, "first lease"
        )
        current = self._current_lease_for(license_)
        if license_.license_id in self.store.revoked():
            raise ValidityError(f"license {license_.license_id} has been revoked; contact the vendor")
        if current is None or lease.sequence > current.sequence:
            check_lease_acceptable(lease, license_, current, now, self.tolerance_s)
        guard = self._guard(identity)
        guard.check(now, max(license_.issued_at, lease.issued_at))
        if license_.issued_at > now + self.tolerance_s:
            raise ClockTamperError(
                f"this license was issued at {format_time(license_.issued_at)}, in the future of "
                "this machine's clock; fix the system clock"
            )
        # Everything verified: now write. Order matters for crash repair (see LicenseStore.repair).
        self.store.receipt_path.unlink(missing_ok=True)
        self.store.write_license(text)
        if current is None or lease.sequence > current.sequence:
            self.store.write_lease(lease.armored())
        self.store.add_revoked(lease.revoked)
        self.store.drop_pending(license_.activation_nonce)
        guard.advance(now, max(license_.issued_at, lease.issued_at))
        return license_

    def renew(self, text: str) -> Lease:
        """Install a newer lease; the next status check returns to VALID, no restart needed."""
        license_, current = self.installed()
        lease = parse_lease(text, self.trust)
        now = self.now()
        check_lease_acceptable(lease, license_, current, now, self.tolerance_s)
        identity = self.keys.load()
        guard = self._guard(identity)
        guard.check(now, max(license_.issued_at, current.issued_at))
        self.store.write_lease(text)
        self.store.add_revoked(lease.revoked)
        guard.advance(now, lease.issued_at)
        return lease

    def deactivate(self) -> str:
        """Return a signed receipt for the vendor and remove the license from this appliance."""
        license_, lease = self.installed()
        identity = self.keys.load()
        receipt = make_receipt(identity, license_, lease.sequence, self.now())
        self.store.write_json(
            self.store.receipt_path, {"license_id": license_.license_id, "receipt": receipt}
        )
        self.store.remove_installed()
        return receipt

    # --- state -------------------------------------------------------------------------------------------

    def installed(self) -> tuple[License, Lease]:
        text = self.store.license_text()
        if text is None:
            raise StateError(
                "no license is installed; run `codemoat license request`, send the file to the vendor, "
                "then `codemoat license activate LICENSE_FILE`"
            )
        license_ = parse_license(text, self.trust, "installed license")
        lease_text = self.store.lease_text()
        if lease_text is None:
            raise StateError("the installed lease is missing; apply a lease with `codemoat license renew`")
        lease = parse_lease(lease_text, self.trust, "installed lease")
        if lease.license_id != license_.license_id:
            raise BindingError(
                "the installed lease belongs to another license; apply a lease for this license"
            )
        return license_, lease

    def status(
        self, *, seats_in_use: int | None = None, gpus_in_use: int | None = None, record: bool = False
    ) -> LicenseStatus:
        """Evaluate the state now. `record=True` (the heartbeat) also advances the clock high-water mark and
        stores the seats/GPUs observation that `codemoat license status` shows."""
        now = self.now()
        status = LicenseStatus(LicenseState.STOPPED, "", now)
        try:
            license_, lease = self.installed()
            status.license_id, status.customer = license_.license_id, license_.customer
            status.expires_at, status.seats, status.max_gpus = (
                license_.expires_at,
                license_.seats,
                license_.max_gpus,
            )
            status.lease_sequence, status.lease_expires_at = lease.sequence, lease.expires_at
            status.models = [g.model_id for g in license_.models]
            status.features = list(license_.features)
            identity = self.keys.load()
            self._check_binding(license_, identity)
            if lease.issued_at > now + self.tolerance_s:
                raise ClockTamperError(
                    f"the installed lease was issued at {format_time(lease.issued_at)}, in the "
                    f"future of this machine's clock ({format_time(now)}); fix the system clock"
                )
            floor = max(license_.issued_at, lease.issued_at)
            guard = self._guard(identity)
            if record:
                guard.advance(now, floor)
            else:
                guard.check(now, floor)
            if license_.license_id in self.store.revoked() or license_.license_id in lease.revoked:
                raise ValidityError(f"license {license_.license_id} has been revoked; contact the vendor")
        except LicensingError as exc:
            status.reason = str(exc)
            return status
        status.state, status.reason, status.grace_ends_at, status.stops_at = evaluate_times(
            now=now,
            lease_expires_at=lease.expires_at,
            license_expires_at=license_.expires_at,
            grace_days=license_.grace_days,
            restricted_days=license_.restricted_days,
        )
        if status.state is LicenseState.GRACE:
            status.warnings.append(status.reason)
        usage = self.store.read_json(self.store.usage_path) or {}
        status.seats_in_use = seats_in_use if seats_in_use is not None else usage.get("seats_in_use")
        status.gpus_in_use = gpus_in_use if gpus_in_use is not None else usage.get("gpus_in_use")
        if status.state.accepts_new_sessions:
            if status.seats_in_use is not None and status.seats_in_use > license_.seats:
                status.state = LicenseState.RESTRICTED
                status.reason = (
                    f"{status.seats_in_use} active users exceed the {license_.seats} licensed seats: "
                    "no new sessions until users leave or the vendor adds seats"
                )
            elif status.gpus_in_use is not None and status.gpus_in_use > license_.max_gpus:
                status.state = LicenseState.RESTRICTED
                status.reason = (
                    f"{status.gpus_in_use} GPUs in use exceed the {license_.max_gpus} licensed: "
                    "no new sessions until GPUs are removed or the vendor raises the limit"
                )
        if record:
            self.store.write_json(
                self.store.usage_path,
                {"seats_in_use": status.seats_in_use, "gpus_in_use": status.gpus_in_use, "checked_at": now},
            )
        return status

    # --- model keys and sealed models --------------------------------------------------------------------

    @contextmanager
    def model_key(self, model_id: str) -> Iterator[bytearray]:
        """The unwrapped model key, only while the license serves; overwritten when the block ends."""
        status = self.status()
        if not status.state.serves:
            raise StateError(f"the license does not allow loading models: {status.reason}")
        license_, _ = self.installed()
        grant = license_.grant(model_id)
        identity = self.keys.load()
        key = unwrap_model_key(
            grant.wrapped_key,
            identity.wrapping_key,
            license_id=license_.license_id,
            model_id=model_id,
            device_kid=identity.kid,
        )
        try:
            yield key
        finally:
            wipe(key)

    def open_sealed(self, model_dir: Path) -> SealedModel:
        """Verify a sealed delivery (manifest chain, file hashes, headers) against the installed license."""
        license_, _ = self.installed()
        sealed = SealedModel.open(Path(model_dir), self.trust)
        grant = license_.grant(sealed.model_id)
        if sealed.manifest_sha256 != grant.manifest_sha256:
            raise ModelError(
                f"{model_dir} is not the delivery of model {sealed.model_id} this license was issued "
                "for (manifest hash differs); ask the vendor for the matching delivery"
            )
        return sealed

    def check_model(self, model_dir: Path, threads: int | None = None) -> dict[str, Any]:
        sealed = self.open_sealed(model_dir)
        with self.model_key(sealed.model_id) as key:
            return sealed.authenticate(key, threads)

    def load_sealed_transformers(
        self, model_dir: Path, *, dtype: Any = None, threads: int | None = None
    ) -> Any:
        """Decrypt a sealed model in memory and return a transformers model ready for the CPU engine."""
        from licensing.sealed.torch_loader import load_sealed_transformers

        sealed = self.open_sealed(model_dir)
        with self.model_key(sealed.model_id) as key:
            return load_sealed_transformers(sealed, key, dtype=dtype, threads=threads)

    # --- internals ---------------------------------------------------------------------------------------

    def _guard(self, identity: DeviceIdentity) -> ClockGuard:
        return ClockGuard(self.store.clock_paths, identity, self.tolerance_s)

    def _check_binding(self, license_: License, identity: DeviceIdentity) -> None:
        if license_.device.kid != identity.kid:
            raise BindingError(
                "the installed license belongs to another device key; re-activate this appliance"
            )
        if license_.device.fingerprint_salt != fingerprint_salt(identity):
            raise BindingError("the license's fingerprint salt does not match this device; re-activate")
        match_fingerprint(license_.device.fingerprint, self._fingerprint(), license_.device.fingerprint_salt)

    def _current_lease_for(self, license_: License) -> Lease | None:
        text = self.store.lease_text()
        if text is None:
            return None
        try:
            lease = parse_lease(text, self.trust, "installed lease")
        except LicensingError:
            return None
        return lease if lease.license_id == license_.license_id else None
