"""The appliance's license state directory (`<home>/license`) and its crash repair.

    device/device-keys.tpm.json                    device keys sealed to the TPM (licensing.device_keys), or
    device/device-ed25519.pem, device-x25519.pem   device keys in files, 0600, directory 0700
    device/clock.json, clock.json                  the signed time high-water mark (two copies)
    pending/<nonce>.json                           activation requests not yet answered
    license.lic, lease.lease                       the installed license and current lease (armored)
    revoked.json                                   license ids revoked by any lease seen so far
    usage.json                                     last heartbeat observation (seats, GPUs in use)
    trusted_roots.json                             operator-added roots (development builds only)

Every write is atomic (temp + fsync + rename). `repair()` runs on open: it drops temp files left by a crash,
restores a missing lease from the license's first lease, and clears pending requests the installed license
already answered, so a crash mid-activation converges on the next run."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from licensing.armor import Envelope, dearmor
from licensing.encoding import atomic_write, parse_json_object, remove_stale_temp_files
from licensing.errors import FormatError, StateError
from licensing.lease import lease_armor

__all__ = ["LicenseStore"]


class LicenseStore:
    def __init__(self, state_dir: Path) -> None:
        self.root = state_dir
        self.device_dir = state_dir / "device"
        self.pending_dir = state_dir / "pending"
        self.license_path = state_dir / "license.lic"
        self.lease_path = state_dir / "lease.lease"
        self.revoked_path = state_dir / "revoked.json"
        self.usage_path = state_dir / "usage.json"
        self.receipt_path = state_dir / "deactivated.json"
        self.clock_paths = (state_dir / "clock.json", self.device_dir / "clock.json")

    def ensure(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        os.chmod(self.root, 0o700)

    def repair(self) -> list[str]:
        """Bring a crashed state back to a consistent one; return what was repaired (for logs)."""
        repaired = []
        for directory in (self.root, self.device_dir, self.pending_dir):
            repaired += [f"removed unfinished write {p.name}" for p in remove_stale_temp_files(directory)]
        license_text = self.license_text()
        if license_text is not None:
            try:
                payload = dearmor(license_text, "LICENSE", "installed license").payload()
            except FormatError:
                return repaired  # reported by status(); nothing safe to repair from
            receipt = self.read_json(self.receipt_path) if self.receipt_path.is_file() else None
            if receipt is not None and receipt.get("license_id") == payload.get("license_id"):
                self.remove_installed()  # crashed mid-deactivation: the receipt exists, finish the removal
                return repaired + ["finished an interrupted deactivation"]
            nonce = payload.get("activation_nonce")
            if isinstance(nonce, str) and (self.pending_dir / f"{_safe(nonce)}.json").exists():
                (self.pending_dir / f"{_safe(nonce)}.json").unlink()
                repaired.append("cleared the answered activation request")
            if not self.lease_path.exists() and isinstance(payload.get("first_lease"), dict):
                envelope = Envelope.from_dict(payload["first_lease"], "first lease")
                atomic_write(self.lease_path, lease_armor(envelope).encode())
                repaired.append("restored the lease from the license's first lease")
        return repaired

    # --- files -------------------------------------------------------------------------------------------

    def license_text(self) -> str | None:
        return self.license_path.read_text() if self.license_path.is_file() else None

    def lease_text(self) -> str | None:
        return self.lease_path.read_text() if self.lease_path.is_file() else None

    def write_license(self, text: str) -> None:
        atomic_write(self.license_path, text.encode())

    def write_lease(self, text: str) -> None:
        atomic_write(self.lease_path, text.encode())

    def remove_installed(self) -> None:
        for path in (self.lease_path, self.license_path, self.usage_path):
            path.unlink(missing_ok=True)

    # --- pending activation requests ---------------------------------------------------------------------

    def add_pending(self, nonce: str, record: dict[str, Any]) -> None:
        self.pending_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.pending_dir / f"{_safe(nonce)}.json", json.dumps(record).encode())

    def has_pending(self, nonce: str) -> bool:
        return (self.pending_dir / f"{_safe(nonce)}.json").is_file()

    def drop_pending(self, nonce: str) -> None:
        (self.pending_dir / f"{_safe(nonce)}.json").unlink(missing_ok=True)

    # --- small JSON records ------------------------------------------------------------------------------

    def read_json(self, path: Path) -> dict[str, Any] | None:
        if not path.is_file():
            return None
        return parse_json_object(path.read_bytes(), str(path))

    def write_json(self, path: Path, data: dict[str, Any]) -> None:
        atomic_write(path, json.dumps(data, indent=2, sort_keys=True).encode())

    def revoked(self) -> set[str]:
        data = self.read_json(self.revoked_path) or {}
        return {str(x) for x in data.get("revoked", [])}

    def add_revoked(self, license_ids: tuple[str, ...]) -> None:
        merged = self.revoked() | set(license_ids)
        if merged != self.revoked():
            self.write_json(self.revoked_path, {"revoked": sorted(merged)})

    def snapshot(self) -> dict[str, bytes]:
        """Every file's bytes, by relative path (tests use it to prove a refused operation changed nothing)."""
        if not self.root.exists():
            return {}
        return {
            str(p.relative_to(self.root)): p.read_bytes() for p in sorted(self.root.rglob("*")) if p.is_file()
        }


def _safe(nonce: str) -> str:
    if not nonce or not all(c.isalnum() or c in "-_" for c in nonce) or len(nonce) > 64:
        raise StateError(
            "the activation nonce is malformed; make a new request with `codemoat license request`"
        )
    return nonce
