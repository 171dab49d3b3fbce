"""Why a data directory cannot be written, in one line an operator can act on: read-only, full, or missing
permissions, naming the directory (SQLite alone says "unable to open database file" or "disk I/O error")."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

# Below this much free space a write is as good as failed: SQLite needs room for its journal and WAL.
MIN_FREE_BYTES = 1 << 20


def storage_problem(directory: Path) -> str | None:
    """The reason `directory` (or its nearest existing parent) cannot take writes, or None when it can."""
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        statvfs = os.statvfs(existing)
    except OSError as exc:
        return f"the data directory {directory} cannot be read ({exc.strerror or exc})"
    if statvfs.f_flag & os.ST_RDONLY:
        return f"the data directory {directory} is on a read-only file system"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"the data directory {directory} is not writable by this user"
    free = shutil.disk_usage(existing).free
    if free < MIN_FREE_BYTES:
        return f"the data directory {directory} is full ({free:,} bytes free)"
    return None


def explain(exc: BaseException, directory: Path) -> str | None:
    """A storage reason for an error raised while writing under `directory` (None: not a storage problem)."""
    code = getattr(exc, "errno", None)
    if code in (errno.ENOSPC, errno.EDQUOT):
        return f"the data directory {directory} is full"
    if code == errno.EROFS:
        return f"the data directory {directory} is on a read-only file system"
    return storage_problem(directory)
