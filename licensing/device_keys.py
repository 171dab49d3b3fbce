"""Where the device keys live: sealed to the TPM when the machine has one, else owner-only files.

    device/device-keys.tpm.json                    sealed form: both private keys inside one TPM object
    device/device-ed25519.pem, device-x25519.pem   file form: PKCS#8, 0600, directory 0700

`license.tpm` chooses: `auto` (the default) seals new keys when a TPM answers and keeps files otherwise,
`required` refuses to create or load keys that are not sealed, `off` never seals. Keys already in files are
moved into the TPM by `codemoat license tpm bind`, which also re-binds sealed keys (other PCRs) and restores
them from an escrow copy after the TPM was cleared or replaced. The escrow copy is the keys encrypted under an
operator's passphrase (PKCS#8 with the best scheme `cryptography` offers), kept off the machine: nothing here
ever writes a private key in plaintext while a TPM holds it.

Crash safety: `bind` writes the sealed record (atomically) before it removes the files, and only after the
TPM gave the keys back; a crash in between leaves both, and the next load removes the files once it has
checked that they hold the same keys as the record."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from licensing.device import DeviceIdentity
from licensing.encoding import atomic_write, format_time, parse_json_object
from licensing.errors import BindingError, FormatError, StateError
from licensing.keys import load_private_pem, private_pem
from licensing.tpm import DEFAULT_TCTI, Sealer, TpmSealer

__all__ = ["KeyProtection", "DeviceKeyStore", "SEALED_FILE"]

SIGNING_FILE = "device-ed25519.pem"
WRAPPING_FILE = "device-x25519.pem"
SEALED_FILE = "device-keys.tpm.json"
_SEALED_FORMAT = "codemoat.device-keys.tpm/1"
_ESCROW_FORMAT = "codemoat.device-keys.escrow/1"
_MIN_PASSPHRASE = 12
Mode = Literal["auto", "required", "off"]


@dataclass(frozen=True)
class KeyProtection:
    mode: Mode = "auto"
    tcti: str = DEFAULT_TCTI
    pcrs: tuple[int, ...] = ()
    timeout_s: float = 15.0


def _raw(key: Ed25519PrivateKey | X25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


class DeviceKeyStore:
    def __init__(
        self, device_dir: Path, protection: KeyProtection | None = None, sealer: Sealer | None = None
    ) -> None:
        self.device_dir = Path(device_dir)
        self.protection = protection or KeyProtection()
        self.sealer: Sealer = sealer or TpmSealer(self.protection.tcti, self.protection.timeout_s)
        self._sealed = self.device_dir / SEALED_FILE
        self._files = (self.device_dir / SIGNING_FILE, self.device_dir / WRAPPING_FILE)
        # Unsealed once per process: a heartbeat must not stop serving because another program holds the TPM
        # for a moment. A store is made per service, so a copied or re-bound state directory is seen afresh.
        self._identity: DeviceIdentity | None = None

    def form(self) -> Literal["tpm", "file"] | None:
        if self._sealed.is_file():
            return "tpm"
        if all(p.is_file() for p in self._files):
            return "file"
        return None

    # --- loading -----------------------------------------------------------------------------------------

    def load(self) -> DeviceIdentity:
        if self._identity is None:
            self._identity = self._load()
        return self._identity

    def _load(self) -> DeviceIdentity:
        self._finish_interrupted_bind()
        form = self.form()
        if form == "tpm":
            return self._unseal(self._record())
        if form == "file":
            if self.protection.mode == "required":
                raise StateError(
                    f"the device keys in {self.device_dir} are files, not sealed to the TPM, and "
                    "license.tpm = required; seal them with `codemoat license tpm bind`"
                )
            return self._load_files()
        raise StateError("this appliance has no device keys yet; run `codemoat license request` first")

    def load_or_create(self) -> DeviceIdentity:
        if self.form() is not None:
            return self.load()
        identity = DeviceIdentity(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
        if self._seals_new_keys():
            self._write_sealed(identity, self.protection.pcrs)
        else:
            self._write_files(identity)
        self._identity = identity
        return identity

    def describe(self) -> dict[str, Any]:
        """What protects the keys, without unsealing them (for status and doctor)."""
        form = self.form()
        info: dict[str, Any] = {"form": form, "mode": self.protection.mode, "tcti": self.sealer.describe()}
        if form == "tpm":
            record = self._record()
            info.update(
                kid=record.get("kid"),
                sealed_with=record.get("tcti"),
                pcrs=record.get("pcrs", []),
                bound_at=record.get("bound_at"),
            )
        elif form == "file":
            info["kid"] = self._load_files().kid
        return info

    # --- binding -----------------------------------------------------------------------------------------

    def bind(self, pcrs: tuple[int, ...] | None = None) -> DeviceIdentity:
        """Seal the current keys (files, or sealed under other PCRs) to this TPM; new keys if there are none."""
        if self.form() is None:
            identity = DeviceIdentity(Ed25519PrivateKey.generate(), X25519PrivateKey.generate())
        else:
            self._finish_interrupted_bind()
            identity = self._unseal(self._record()) if self.form() == "tpm" else self._load_files()
        self._write_sealed(identity, self.protection.pcrs if pcrs is None else pcrs)
        return identity

    def restore(self, escrow: Path, passphrase: bytes, pcrs: tuple[int, ...] | None = None) -> DeviceIdentity:
        """Seal the keys of an escrow copy to this TPM: after a TPM clear, a board swap, or PCRs that moved.
        The escrow must hold this appliance's keys (same key id) when the state directory still names one."""
        identity = read_escrow(escrow, passphrase)
        current = self._current_kid()
        if current is not None and current != identity.kid:
            raise BindingError(
                f"{escrow} holds the keys of appliance {identity.kid}, and this state directory belongs to "
                f"{current}; use the escrow copy made on this appliance"
            )
        self._write_sealed(identity, self.protection.pcrs if pcrs is None else pcrs)
        return identity

    def escrow(self, out: Path, passphrase: bytes) -> str:
        """Write the keys, encrypted under `passphrase`, to `out` (a new file): the way back after the TPM
        is cleared. Returns the key id."""
        if len(passphrase) < _MIN_PASSPHRASE:
            raise StateError(f"an escrow passphrase needs at least {_MIN_PASSPHRASE} characters")
        if out.exists():
            raise StateError(f"{out} exists; choose a new file for the escrow copy")
        identity = self.load()
        document = {
            "format": _ESCROW_FORMAT,
            "kid": identity.kid,
            "created_at": format_time(time.time()),
            "signing_key": private_pem(identity.signing_key, passphrase).decode(),
            "wrapping_key": private_pem(identity.wrapping_key, passphrase).decode(),
        }
        atomic_write(out, json.dumps(document, indent=2).encode() + b"\n", mode=0o600)
        return identity.kid

    # --- internals ---------------------------------------------------------------------------------------

    def _seals_new_keys(self) -> bool:
        mode = self.protection.mode
        return mode == "required" or (mode == "auto" and self.sealer.available())

    def _write_sealed(self, identity: DeviceIdentity, pcrs: tuple[int, ...]) -> None:
        secret = _raw(identity.signing_key) + _raw(identity.wrapping_key)
        record = self.sealer.seal(secret, pcrs)
        record.update(
            format=_SEALED_FORMAT,
            kid=identity.kid,
            signing_public=identity.signing_public_b64,
            wrapping_public=identity.wrapping_public_b64,
            bound_at=format_time(time.time()),
        )
        if self._unseal(record).kid != identity.kid:  # the TPM gives the keys back before the files go
            raise StateError("the TPM returned other keys than it sealed; the files are kept")
        self._ensure_dir()
        atomic_write(self._sealed, json.dumps(record, indent=2).encode() + b"\n", mode=0o600)
        for path in self._files:
            path.unlink(missing_ok=True)
        self._identity = identity

    def _unseal(self, record: dict[str, Any]) -> DeviceIdentity:
        secret = self.sealer.unseal(record)
        if len(secret) != 64:
            raise StateError(f"the TPM-sealed device keys in {self.device_dir} are not two keys")
        identity = DeviceIdentity(
            Ed25519PrivateKey.from_private_bytes(secret[:32]),
            X25519PrivateKey.from_private_bytes(secret[32:]),
        )
        if not _matches(identity, record):
            raise StateError(
                f"the TPM-sealed device keys in {self.device_dir} do not match their record; restore them "
                "with `codemoat license tpm bind --restore`"
            )
        return identity

    def _record(self) -> dict[str, Any]:
        record = parse_json_object(self._sealed.read_bytes(), str(self._sealed))
        if record.get("format") != _SEALED_FORMAT:
            raise FormatError(f"{self._sealed} is not a CodeMoat TPM-sealed key record")
        return record

    def _current_kid(self) -> str | None:
        form = self.form()
        if form == "tpm":
            return self._record().get("kid")
        return self._load_files().kid if form == "file" else None

    def _load_files(self) -> DeviceIdentity:
        signing = load_private_pem(self._files[0], "device signing key")
        wrapping = load_private_pem(self._files[1], "device wrapping key")
        if not isinstance(signing, Ed25519PrivateKey) or not isinstance(wrapping, X25519PrivateKey):
            raise StateError(
                f"device keys in {self.device_dir} have the wrong type; restore them from backup"
            )
        return DeviceIdentity(signing, wrapping)

    def _write_files(self, identity: DeviceIdentity) -> None:
        self._ensure_dir()
        # Wrapping key first: a crash between the two writes leaves no signing key, so the next run regenerates
        # both rather than pairing a stale wrapping key with a new signing key.
        atomic_write(self._files[1], private_pem(identity.wrapping_key), mode=0o600)
        atomic_write(self._files[0], private_pem(identity.signing_key), mode=0o600)

    def _ensure_dir(self) -> None:
        self.device_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.device_dir, 0o700)

    def _finish_interrupted_bind(self) -> None:
        if not (self._sealed.is_file() and any(p.is_file() for p in self._files)):
            return
        record = self._record()
        if all(p.is_file() for p in self._files):
            if not _matches(self._load_files(), record):
                raise StateError(
                    f"{self.device_dir} holds two different sets of device keys (files and TPM-sealed); "
                    "keep the one the license was issued for and move the other away"
                )
        for path in self._files:
            path.unlink(missing_ok=True)


def _matches(identity: DeviceIdentity, record: dict[str, Any]) -> bool:
    """The keys are the ones a sealed record names (by their public halves)."""
    return (identity.signing_public_b64, identity.wrapping_public_b64) == (
        record.get("signing_public"),
        record.get("wrapping_public"),
    )


def read_escrow(path: Path, passphrase: bytes) -> DeviceIdentity:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read the escrow copy {path}: {exc.strerror}") from None
    document = parse_json_object(data, str(path))
    if document.get("format") != _ESCROW_FORMAT:
        raise FormatError(f"{path} is not a CodeMoat device-key escrow copy")
    keys = []
    for field, what in (("signing_key", "device signing key"), ("wrapping_key", "device wrapping key")):
        text = document.get(field)
        if not isinstance(text, str):
            raise FormatError(f"{path} has no {what}")
        keys.append(_load_pem_text(text, f"{what} in {path}", passphrase))
    signing, wrapping = keys
    if not isinstance(signing, Ed25519PrivateKey) or not isinstance(wrapping, X25519PrivateKey):
        raise FormatError(f"the keys in {path} have the wrong type")
    identity = DeviceIdentity(signing, wrapping)
    if document.get("kid") != identity.kid:
        raise FormatError(f"{path} was edited: its keys do not match the key id it names")
    return identity


def _load_pem_text(text: str, what: str, passphrase: bytes) -> Any:
    try:
        return serialization.load_pem_private_key(text.encode(), password=passphrase)
    except (ValueError, TypeError):
        raise FormatError(f"wrong passphrase for the {what}, or it is damaged") from None
