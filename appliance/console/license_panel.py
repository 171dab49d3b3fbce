"""The license page's view of `licensing.service.LicenseService`: state, expiry, seats in use, lease expiry;
an activation request to download; a license or a lease to upload. Every change is audited. When the
licensing package cannot be used in this installation the page says so instead of failing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from appliance.api.errors import NotReadyError
from appliance.audit.log import Actor, AuditLog

if TYPE_CHECKING:
    from appliance.config import Settings
    from licensing.device_keys import DeviceKeyStore

MAX_FILE_CHARS = 256 * 1024


@dataclass(frozen=True, slots=True)
class Unavailable:
    message: str


def _when(epoch: int | None) -> str | None:
    return datetime.fromtimestamp(epoch, UTC).isoformat() if epoch else None


class LicensePanel:
    def __init__(self, settings: Settings, audit: AuditLog) -> None:
        self.settings = settings
        self.audit = audit
        self._keys: DeviceKeyStore | None = None  # one for the console's lifetime: the TPM unseals once

    def _service(self) -> Any:
        try:
            from appliance.license_gate.device_keys import device_keys, license_service
        except ImportError as exc:
            raise LicensingUnavailable(
                f"the licensing package is not available in this installation ({exc}); "
                "install the appliance with its [licensing] extra"
            ) from None
        if self._keys is None:
            self._keys = device_keys(self.settings)
        return license_service(self.settings, self._keys)

    def status(self, *, seats_in_use: int | None) -> dict[str, Any]:
        try:
            service = self._service()
            status = service.status(seats_in_use=seats_in_use)
        except LicensingUnavailable as exc:
            return {"available": False, "message": str(exc)}
        data = status.to_json() if hasattr(status, "to_json") else dict(vars(status))
        state = getattr(status.state, "value", str(status.state))
        data.update(
            {
                "available": True,
                "state": state,
                "reason": status.reason,
                "expires": _when(status.expires_at),
                "lease_expires": _when(status.lease_expires_at),
                "grace_ends": _when(status.grace_ends_at),
                "stops": _when(status.stops_at),
                "installed": status.license_id is not None,
                "device_keys": _device_keys(service.keys),
            }
        )
        return data

    def activation_request(self, *, actor: Actor) -> str:
        text = self._service().request_activation()
        self.audit.append(actor, "license.request")
        return text

    def activate(self, text: str, *, actor: Actor) -> dict[str, Any]:
        text = _check_text(text)
        license_ = self._service().activate(text)
        summary = {
            "license_id": license_.license_id,
            "customer": license_.customer,
            "seats": license_.seats,
            "expires": _when(license_.expires_at),
        }
        self.audit.append(actor, "license.activate", license_.license_id, **summary)
        return summary

    def renew(self, text: str, *, actor: Actor) -> dict[str, Any]:
        text = _check_text(text)
        lease = self._service().renew(text)
        summary = {"sequence": lease.sequence, "expires": _when(lease.expires_at)}
        self.audit.append(actor, "license.renew", str(lease.license_id), **summary)
        return summary


def _check_text(text: str) -> str:
    from appliance.errors import InvalidInputError

    if not isinstance(text, str) or not text.strip():
        raise InvalidInputError("file: choose the file the vendor sent", param="file")
    if len(text) > MAX_FILE_CHARS:
        raise InvalidInputError(
            f"file: larger than {MAX_FILE_CHARS // 1024} KiB: not a license or lease file", param="file"
        )
    return text


class LicensingUnavailable(NotReadyError):
    code = "licensing_unavailable"


def license_view(console: Any) -> dict[str, Any]:
    """The license page's and `GET /api/admin/license`'s data: the license's status, seats counted as the
    license counts them (users with a request within `license.seat_window_s`), and the state this appliance
    serves under, as its headers and /readyz say (UNLICENSED while the open model serves without a license)."""
    window = timedelta(seconds=console.settings.license.seat_window_s)
    status = console.license.status(seats_in_use=console.usage.active_users(window=window))
    serving = console.gateway.gate.serving_state()
    return {
        **status,
        "serving_state": serving.state,
        "serving_reason": serving.reason,
        "seat_window": _duration(window),
    }


def _duration(window: timedelta) -> str:
    seconds = int(window.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}s" if count != 1 else unit
    return f"{seconds} seconds"


def _device_keys(keys: DeviceKeyStore) -> str:
    """Where the keys the license is bound to are kept, in words (docs/licensing.md)."""
    from licensing.errors import LicensingError

    try:
        info = keys.describe()
    except LicensingError as exc:
        return f"unreadable: {exc}"
    if info["form"] == "tpm":
        pcrs = f", PCRs {', '.join(str(p) for p in info['pcrs'])}" if info["pcrs"] else ""
        return f"sealed to the TPM at {info['tcti']}{pcrs}"
    if info["form"] == "file":
        return "owner-only files (no TPM; `codemoat license tpm bind` seals them to one)"
    return "none yet (made with the activation request)"
