"""Small shared helpers: base64, JSON bytes, timestamps, hashes and crash-safe file writes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from licensing.errors import FormatError

__all__ = [
    "b64e",
    "b64d",
    "json_bytes",
    "parse_json_object",
    "sha256_hex",
    "to_timestamp",
    "from_timestamp",
    "format_time",
    "atomic_write",
    "remove_stale_temp_files",
]

_TEMP_SUFFIX = ".partial"


def b64e(data: bytes | bytearray | memoryview) -> str:
    return base64.urlsafe_b64encode(bytes(data)).rstrip(b"=").decode("ascii")


def b64d(text: str, what: str = "field") -> bytes:
    if not isinstance(text, str):
        raise FormatError(f"{what} is not base64 text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise FormatError(f"{what} is not valid base64") from None


def json_bytes(obj: Any) -> bytes:
    """Deterministic JSON, used only to produce bytes that are then signed as they are (never re-serialized)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def parse_json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise FormatError(f"{what} is not valid JSON") from None
    if not isinstance(obj, dict):
        raise FormatError(f"{what} is not a JSON object")
    return obj


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    return hashlib.sha256(data).hexdigest()


def to_timestamp(moment: datetime) -> int:
    return int(moment.timestamp())


def from_timestamp(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def format_time(seconds: int | float) -> str:
    return from_timestamp(int(seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write so that a crash leaves either the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=_TEMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def remove_stale_temp_files(directory: Path) -> list[Path]:
    """Temp files left by a crash mid-write: the rename never happened, so they are garbage."""
    removed = []
    if directory.is_dir():
        for leftover in directory.glob("*" + _TEMP_SUFFIX):
            leftover.unlink(missing_ok=True)
            removed.append(leftover)
    return removed
