"""Reading and writing the files that travel between vendor and appliance (requests, licenses, leases): the
license and vendor commands share these, so both refuse an unreadable input or an existing output alike."""

from __future__ import annotations

from pathlib import Path

from licensing.encoding import atomic_write
from licensing.errors import StateError


def read_text(path: Path, what: str) -> str:
    try:
        return path.read_text()
    except FileNotFoundError:
        raise StateError(f"{what} {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise StateError(f"cannot read {what} {path}: {exc}") from None


def write_new(path: Path, text: str) -> None:
    if path.exists():
        raise StateError(f"{path} already exists; choose another --out path")
    atomic_write(path, text.encode(), mode=0o644)
