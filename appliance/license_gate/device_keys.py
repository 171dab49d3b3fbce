"""The one place the appliance's device-key store and license service are built from its settings, so the
CLI, the server, the console, the audit anchor and the doctor all agree on where the keys are (TPM or files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from licensing.device_keys import DeviceKeyStore, KeyProtection
from licensing.service import LicenseService

if TYPE_CHECKING:
    from appliance.config import Settings

__all__ = ["device_keys", "license_service", "license_dir"]


def license_dir(settings: Settings) -> Path:
    return Path(settings.home) / "license"


def device_keys(settings: Settings) -> DeviceKeyStore:
    options = settings.license
    protection = KeyProtection(
        mode=options.tpm, tcti=options.tpm_tcti, pcrs=tuple(options.tpm_pcrs), timeout_s=options.tpm_timeout_s
    )
    return DeviceKeyStore(license_dir(settings) / "device", protection)


def license_service(settings: Settings, keys: DeviceKeyStore | None = None) -> LicenseService:
    return LicenseService(license_dir(settings), keys=keys if keys is not None else device_keys(settings))
