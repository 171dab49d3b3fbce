"""The appliance's identity: its keys (X25519 to receive wrapped model keys, Ed25519 to sign requests,
receipts and the clock record; stored by `licensing.device_keys`) and a fingerprint of the machine.

The fingerprint is a set of components (machine id, DMI board and product ids, CPU model, GPU UUIDs), each
stored only as a salted hash. A license stays bound when a strict majority of the components recorded at
activation still match, so replacing one part (a disk, a GPU) does not kill it but a different machine fails."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from licensing.encoding import b64e
from licensing.errors import BindingError
from licensing.keys import key_id, public_bytes

__all__ = ["DeviceIdentity", "collect_fingerprint", "gpu_uuids", "match_fingerprint", "hash_components"]

_DMI_FIELDS = (
    "product_uuid",
    "board_serial",
    "board_name",
    "product_name",
    "product_serial",
    "chassis_serial",
)


@dataclass
class DeviceIdentity:
    signing_key: Ed25519PrivateKey
    wrapping_key: X25519PrivateKey

    @property
    def kid(self) -> str:
        return key_id("device", self.signing_key.public_key())

    @property
    def signing_public(self) -> Ed25519PublicKey:
        return self.signing_key.public_key()

    @property
    def wrapping_public_b64(self) -> str:
        return b64e(
            self.wrapping_key.public_key().public_bytes(
                serialization.Encoding.Raw, serialization.PublicFormat.Raw
            )
        )

    @property
    def signing_public_b64(self) -> str:
        return b64e(public_bytes(self.signing_public))


def _read(path: Path) -> str | None:
    try:
        value = path.read_text(errors="replace").strip()
    except OSError:
        return None
    return value or None


def _cpu_model(host_root: Path) -> str | None:
    text = _read(host_root / "proc" / "cpuinfo") or ""
    for line in text.splitlines():
        if line.lower().startswith(("model name", "cpu model", "processor\t: ")) and ":" in line:
            value = line.split(":", 1)[1].strip()
            if value and not value.isdigit():
                return value
    return None


def gpu_uuids() -> list[str]:
    """GPU UUIDs from nvidia-smi when it is installed; an empty list on machines without NVIDIA GPUs."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=uuid", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=15,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted(line.strip() for line in out.splitlines() if line.strip())


def collect_fingerprint(host_root: Path = Path("/"), gpus: list[str] | None = None) -> dict[str, str]:
    """Raw components of this machine. `host_root` lets a container read the host's `/etc` and `/sys`."""
    components: dict[str, str] = {}
    machine_id = _read(host_root / "etc" / "machine-id") or _read(host_root / "var/lib/dbus/machine-id")
    if machine_id:
        components["machine_id"] = machine_id
    for field in _DMI_FIELDS:
        value = _read(host_root / "sys/class/dmi/id" / field)
        if value and value.lower() not in {"none", "to be filled by o.e.m.", "default string", "0"}:
            components[f"dmi_{field}"] = value
    cpu = _cpu_model(host_root)
    if cpu:
        components["cpu_model"] = cpu
    for uuid in gpu_uuids() if gpus is None and host_root == Path("/") else gpus or []:
        components[f"gpu_{uuid}"] = uuid
    return components


def hash_components(components: dict[str, str], salt: bytes) -> dict[str, str]:
    """Hash each component with a per-device salt: the license carries no readable hardware serials."""
    return {
        name: hashlib.sha256(salt + name.encode() + b"\x00" + value.encode()).hexdigest()
        for name, value in sorted(components.items())
    }


def match_fingerprint(bound: dict[str, str], current_raw: dict[str, str], salt: bytes) -> tuple[int, int]:
    """Return (matching, total) over the components recorded at activation; raise unless a strict majority
    match. GPUs count as one component (any bound GPU still present), so swapping one card is tolerated."""
    current = hash_components(current_raw, salt)
    bound_gpus = {k for k in bound if k.startswith("gpu_")}
    names = [k for k in bound if not k.startswith("gpu_")] + (["gpu"] if bound_gpus else [])
    matching = sum(1 for k in names if k != "gpu" and current.get(k) == bound[k])
    if bound_gpus and any(current.get(k) == bound[k] for k in bound_gpus):
        matching += 1
    total = len(names)
    if total == 0 or matching * 2 <= total:
        raise BindingError(
            f"this license is bound to another machine ({matching} of {total} hardware components "
            "match); ask the vendor to re-issue it for this machine"
        )
    return matching, total
