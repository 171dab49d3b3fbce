"""Errors of the licensing package. Every message is safe to show and says what to do next.

LicensingError
├── FormatError              a file is not what it claims (armor, JSON, field types, sealed layout)
├── SignatureError           a signature, algorithm, key id or trust chain does not verify
│   └── UntrustedKeyError    the key id is unknown or its root is not pinned by this appliance
├── BindingError             the license belongs to another machine or another activation request
├── ValidityError            a license or lease is expired, not yet valid, revoked or replayed
├── ClockTamperError         the clock went back past the tolerance, or a lease comes from the future
├── SeatsError               more seats or GPUs in use than the license allows
├── StateError               the local license state does not allow this (none installed, deactivated)
├── ModelError               a sealed model fails: wrong key, tampered chunk, not covered by the license
├── KeyServerError           the key hand-off between the appliance and an engine process failed
└── TpmError                 the TPM holding the device keys is busy or refuses (another TPM, PCRs)
    └── TpmUnavailable       no TPM answers, or the library to reach one is not installed
"""

from __future__ import annotations

__all__ = [
    "LicensingError",
    "FormatError",
    "SignatureError",
    "UntrustedKeyError",
    "BindingError",
    "ValidityError",
    "ClockTamperError",
    "SeatsError",
    "StateError",
    "ModelError",
    "KeyServerError",
    "TpmError",
    "TpmUnavailable",
]


class LicensingError(Exception):
    """Base of every licensing error; `exit_code` is what the CLI exits with."""

    exit_code: int = 3


class FormatError(LicensingError):
    pass


class SignatureError(LicensingError):
    pass


class UntrustedKeyError(SignatureError):
    pass


class BindingError(LicensingError):
    pass


class ValidityError(LicensingError):
    pass


class ClockTamperError(LicensingError):
    pass


class SeatsError(LicensingError):
    pass


class StateError(LicensingError):
    pass


class ModelError(LicensingError):
    pass


class KeyServerError(LicensingError):
    pass


class TpmError(LicensingError):
    pass


class TpmUnavailable(TpmError):
    pass
